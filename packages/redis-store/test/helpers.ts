import { Redis } from 'ioredis';
import type { Outcome, OutcomeKind, RateLimitInfo } from '@rotor/core';
import { testRedisUrl, uniquePrefix } from '@rotor/testkit';
import { RedisKeyStore } from '../src/redis-key-store';
import type { KeySpec, StorePolicy } from '../src/types';

const clients: Redis[] = [];

export function connect(url = testRedisUrl()): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  clients.push(client);
  return client;
}

export async function closeAll(): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.quit().catch(() => c.disconnect())));
}

/** A store on its own unique prefix, so tests share the private Redis without seeing each other. */
export function newStore(policy: Partial<StorePolicy> = {}, redis: Redis = connect()): RedisKeyStore {
  return new RedisKeyStore(redis, { prefix: uniquePrefix('rs'), ...policy });
}

export function ids(n: number, prefix = 'k'): KeySpec[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}${String(i).padStart(2, '0')}` }));
}

export function outcome(kind: OutcomeKind, rateLimit: RateLimitInfo = {}, extra: Partial<Outcome> = {}): Outcome {
  const status = { success: 200, rate_limited: 429, quota_exhausted: 429, invalid_key: 401, server_error: 500 }[
    kind as string
  ];
  return { kind, rateLimit, ...(status ? { status } : {}), ...extra };
}

/** Milliseconds on the Redis clock (the scripts' clock). */
export async function redisNow(redis: Redis): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

export function countBy<T>(items: T[]): Map<T, number> {
  const counts = new Map<T, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return counts;
}
