import { spawnRedis } from './redis-server';

/**
 * Jest global setup: one private redis-server per test run (never the machine's Redis on 6379).
 * Tests read its URL from ROTOR_TEST_REDIS_URL and isolate themselves with a unique key prefix.
 */
export default async function globalSetup(): Promise<void> {
  const redis = await spawnRedis();
  process.env.ROTOR_TEST_REDIS_URL = redis.url;
  (globalThis as { __rotorTestRedis?: unknown }).__rotorTestRedis = redis;
}
