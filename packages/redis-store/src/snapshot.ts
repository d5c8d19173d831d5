import type { Cluster, Redis } from 'ioredis';
import { keyHash, keyInflight, type PoolKeys } from './keys';
import { redisMs } from './key-reads';
import type { KeySnapshot, KeyState, PoolSnapshot } from './types';

const num = (value: string | undefined) => (value === undefined || value === '' ? undefined : Number(value));

/**
 * Reads a whole pool for status pages, the CLI and metrics. Read-only, so plain commands (pipelined)
 * rather than a script: it must not block Redis for a large pool. Not atomic across keys.
 */
export async function readSnapshot(redis: Redis | Cluster, pool: string, k: PoolKeys): Promise<PoolSnapshot> {
  const [time, states] = await Promise.all([redis.time(), redis.hgetall(k.states)]);
  const now = redisMs(time);
  const ids = Object.keys(states).sort();
  const pipeline = redis.pipeline();
  for (const id of ids) {
    pipeline.hgetall(keyHash(k, id));
    pipeline.zcard(keyInflight(k, id));
  }
  const replies = ids.length ? ((await pipeline.exec()) ?? []) : [];
  const keys = ids.map((id, i): KeySnapshot => {
    const d = (replies[2 * i]?.[1] ?? {}) as Record<string, string>;
    const inflight = Number(replies[2 * i + 1]?.[1] ?? 0);
    const state = states[id] as KeyState;
    return {
      id,
      ...(d.label ? { label: d.label } : {}),
      state,
      ...(d.reason ? { reason: d.reason } : {}),
      ...(state === 'cooling' ? { until: num(d.until) } : {}),
      weight: num(d.weight) ?? 1,
      inflight,
      acquired: num(d.acquired) ?? 0,
      successes: num(d.ok) ?? 0,
      rateLimited: num(d.rate_limited) ?? 0,
      failures: (num(d.errors) ?? 0) + (num(d.quota) ?? 0) + (num(d.invalid) ?? 0),
      consecutiveFailures: num(d.fails) ?? 0,
      lastStatus: num(d.last_status),
      lastClass: d.last_class || undefined,
      lastError: d.last_error || undefined,
      lastAt: num(d.last_at),
      remainingRequests: num(d.rem_req),
      limitRequests: num(d.lim_req),
      resetRequestsAt: num(d.reset_req_at),
      remainingTokens: num(d.rem_tok),
      limitTokens: num(d.lim_tok),
      resetTokensAt: num(d.reset_tok_at),
      parkedAt: state === 'suspended' || state === 'disabled' ? num(d.parked_at) : undefined,
    };
  });
  return { pool, now, keys };
}
