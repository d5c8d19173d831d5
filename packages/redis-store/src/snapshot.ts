import type { Cluster, Redis } from 'ioredis';
import { bucketHash, bucketInflight, coolingKey, keyHash, type PoolKeys } from './keys';
import { redisMs } from './key-reads';
import type { BucketSnapshot, KeySnapshot, KeyState, PoolSnapshot } from './types';

const num = (value: string | undefined) => (value === undefined || value === '' ? undefined : Number(value));

/**
 * Reads a whole pool for status pages, the CLI and metrics: its keys and the buckets they used.
 * Read-only, so plain commands (pipelined) rather than a script: it must not block Redis for a large
 * pool. Not atomic across keys.
 */
export async function readSnapshot(redis: Redis | Cluster, pool: string, k: PoolKeys): Promise<PoolSnapshot> {
  const [time, states, groups, bucketNames] = await Promise.all([
    redis.time(),
    redis.hgetall(k.states),
    redis.hkeys(k.groups),
    redis.smembers(k.buckets),
  ]);
  const now = redisMs(time);
  const ids = Object.keys(states).sort();
  const named = bucketNames
    .map((name) => {
      const bar = name.lastIndexOf('|');
      return { account: name.slice(0, bar), group: name.slice(bar + 1) };
    })
    .sort((a, b) => compare(a.group, b.group) || compare(a.account, b.account));
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hgetall(keyHash(k, id));
  for (const { account, group } of named) {
    pipeline.hgetall(bucketHash(k, account, group));
    pipeline.zcard(bucketInflight(k, account, group));
    pipeline.zscore(coolingKey(k, group), account);
  }
  const replies = ids.length + named.length > 0 ? ((await pipeline.exec()) ?? []) : [];
  const keys = ids.map((id, i): KeySnapshot => keySnapshot(id, states[id] as KeyState, (replies[i]?.[1] ?? {}) as Record<string, string>));
  const buckets: BucketSnapshot[] = [];
  named.forEach(({ account, group }, j) => {
    const at = ids.length + 3 * j;
    const d = (replies[at]?.[1] ?? {}) as Record<string, string>;
    // A bucket whose account was forgotten meanwhile (its last key left it).
    if (Object.keys(d).length === 0) return;
    const score = num((replies[at + 2]?.[1] ?? undefined) as string | undefined);
    // Due but not yet returned (the next acquire of the group returns it): ready.
    const until = score !== undefined && score > now ? score : undefined;
    buckets.push({
      account,
      group,
      state: until !== undefined ? 'cooling' : 'ready',
      ...(until !== undefined ? { until, ...(d.reason ? { reason: d.reason } : {}) } : {}),
      inflight: Number(replies[at + 1]?.[1] ?? 0),
      remainingRequests: num(d.rem_req),
      limitRequests: num(d.lim_req),
      resetRequestsAt: num(d.reset_req_at),
      remainingTokens: num(d.rem_tok),
      limitTokens: num(d.lim_tok),
      resetTokensAt: num(d.reset_tok_at),
      lastAt: num(d.last_at),
    });
  });
  return { pool, now, keys, buckets, groups: groups.sort() };
}

function keySnapshot(id: string, state: KeyState, d: Record<string, string>): KeySnapshot {
  return {
    id,
    ...(d.label ? { label: d.label } : {}),
    state,
    ...(d.reason ? { reason: d.reason } : {}),
    ...(d.account ? { account: d.account, ...(d.account_decl ? { accountDeclared: true } : {}) } : {}),
    weight: num(d.weight) ?? 1,
    inflight: num(d.inflight) ?? 0,
    acquired: num(d.acquired) ?? 0,
    successes: num(d.ok) ?? 0,
    rateLimited: num(d.rate_limited) ?? 0,
    failures: (num(d.errors) ?? 0) + (num(d.quota) ?? 0) + (num(d.invalid) ?? 0),
    consecutiveFailures: num(d.fails) ?? 0,
    lastStatus: num(d.last_status),
    lastClass: d.last_class || undefined,
    lastError: d.last_error || undefined,
    lastAt: num(d.last_at),
    parkedAt: state === 'suspended' || state === 'disabled' ? num(d.parked_at) : undefined,
  };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
