import type { RedisProcess } from './redis-server';

export default async function globalTeardown(): Promise<void> {
  const redis = (globalThis as { __rotorTestRedis?: RedisProcess }).__rotorTestRedis;
  await redis?.kill();
}
