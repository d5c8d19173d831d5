import { keyHash, type RedisKeyStore } from '@rotor/redis-store';

export interface KeyStatus {
  state: string;
  reason: string;
}

/**
 * One key's state and reason, read from its detail HASH (named by the store's key builder). A probe
 * reads only its own key: a whole-pool snapshot per probe would grow with the pool. Read-only; every
 * change goes through the store's setState script, which checks the state again atomically.
 */
export async function readKeyStatus(
  store: RedisKeyStore,
  pool: string,
  keyId: string,
): Promise<KeyStatus | undefined> {
  const [state, reason] = await store.redis.hmget(keyHash(store.keys(pool), keyId), 'state', 'reason');
  if (!state) return undefined;
  return { state, reason: reason ?? '' };
}

export interface ParkedKey extends KeyStatus {
  id: string;
  /** ms epoch (Redis clock) when the key left rotation. */
  parkedAt: number;
}

/**
 * The keys a pool has out of rotation until a probe (suspended / disabled), from the store's `parked`
 * ZSET: cost grows with the parked keys, not the pool. Also returns the Redis clock.
 */
export async function readParkedKeys(
  store: RedisKeyStore,
  pool: string,
): Promise<{ now: number; keys: ParkedKey[] }> {
  const names = store.keys(pool);
  const [time, parked] = await Promise.all([
    store.redis.time(),
    store.redis.zrange(names.parked, 0, -1, 'WITHSCORES'),
  ]);
  const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  const ids: { id: string; parkedAt: number }[] = [];
  for (let i = 0; i + 1 < parked.length; i += 2)
    ids.push({ id: parked[i]!, parkedAt: Number(parked[i + 1]) });
  if (ids.length === 0) return { now, keys: [] };
  const pipeline = store.redis.pipeline();
  for (const { id } of ids) pipeline.hmget(keyHash(names, id), 'state', 'reason');
  const replies = (await pipeline.exec()) ?? [];
  const keys: ParkedKey[] = [];
  ids.forEach(({ id, parkedAt }, i) => {
    const [error, fields] = replies[i] ?? [];
    const [state, reason] = (fields ?? []) as (string | null)[];
    if (!error && state) keys.push({ id, parkedAt, state, reason: reason ?? '' });
  });
  return { now, keys };
}
