import type { Cluster, Redis } from 'ioredis';
import { keyHash, type PoolKeys } from './keys';

/** One key's state and reason, as the probe reads it before acting. */
export interface KeyStatus {
  state: string;
  reason: string;
}

/** A key out of rotation until a probe (suspended / disabled). */
export interface ParkedKey extends KeyStatus {
  id: string;
  /** ms epoch (Redis clock) when the key left rotation. */
  parkedAt: number;
}

/** Redis `TIME` as ms epoch: the clock every script uses. */
export function redisMs(time: readonly (string | number)[]): number {
  return Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
}

/**
 * One key's state and reason from its detail HASH. A probe reads only its own key: a whole-pool
 * snapshot per probe would grow with the pool. Read-only; every change goes through the setState
 * script, which checks the state again atomically.
 */
export async function readKeyStatus(redis: Redis | Cluster, k: PoolKeys, keyId: string): Promise<KeyStatus | undefined> {
  const [state, reason] = await redis.hmget(keyHash(k, keyId), 'state', 'reason');
  if (!state) return undefined;
  return { state, reason: reason ?? '' };
}

/**
 * The keys a pool has out of rotation until a probe, from the `parked` ZSET: cost grows with the
 * parked keys, not the pool. Also returns the Redis clock.
 */
export async function readParkedKeys(redis: Redis | Cluster, k: PoolKeys): Promise<{ now: number; keys: ParkedKey[] }> {
  const [time, parked] = await Promise.all([redis.time(), redis.zrange(k.parked, 0, -1, 'WITHSCORES')]);
  const now = redisMs(time);
  const ids: { id: string; parkedAt: number }[] = [];
  for (let i = 0; i + 1 < parked.length; i += 2) ids.push({ id: parked[i]!, parkedAt: Number(parked[i + 1]) });
  if (ids.length === 0) return { now, keys: [] };
  const pipeline = redis.pipeline();
  for (const { id } of ids) pipeline.hmget(keyHash(k, id), 'state', 'reason');
  const replies = (await pipeline.exec()) ?? [];
  const keys: ParkedKey[] = [];
  ids.forEach(({ id, parkedAt }, i) => {
    const [error, fields] = replies[i] ?? [];
    const [state, reason] = (fields ?? []) as (string | null)[];
    if (!error && state) keys.push({ id, parkedAt, state, reason: reason ?? '' });
  });
  return { now, keys };
}
