import type { PoolStatus } from '@rotor/proxy';
import type { BucketSnapshot, KeySnapshot } from '@rotor/redis-store';

/** One row per key: its own state (rate limits act on buckets, below) and the account it belongs to. */
export const KEY_COLUMNS = [
  'KEY ID',
  'LABEL',
  'STATE',
  'REASON',
  'ACCOUNT',
  'IN-FLIGHT',
  'OK',
  'FAILED',
  '429',
] as const;

/** One row per bucket (account × model group): what the account may still send to that group. */
export const BUCKET_COLUMNS = [
  'GROUP',
  'ACCOUNT',
  'STATE',
  'UNTIL',
  'REQUESTS',
  'TOKENS',
  'IN-FLIGHT',
] as const;

/** `2025-01-02T03:04:05Z`: an instant on the Redis clock, to the second. */
export function formatInstant(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `42s`, `3m05s`, `2h07m`: a duration, rounded up to the second. */
export function formatSeconds(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `org-abc`, `org-abc (declared)`, or `-` for a key that is its own account (its buckets: `~<keyId>`). */
export function accountCell(key: KeySnapshot): string {
  if (key.account === undefined) return '-';
  return key.accountDeclared ? `${key.account} (declared)` : key.account;
}

export function keyRow(key: KeySnapshot): string[] {
  return [
    key.id,
    key.label ?? '-',
    key.state,
    key.reason || '-',
    accountCell(key),
    String(key.inflight),
    String(key.successes),
    String(key.failures),
    String(key.rateLimited),
  ];
}

/**
 * What an operator should read of a bucket's budget: once the provider's window has reset it is full
 * again, up to the limit its headers named (as the acquire script counts it; Redis keeps the old
 * figure until the bucket's next hand-out).
 */
export function shownBudget(bucket: BucketSnapshot, nowMs: number): BucketSnapshot {
  const shown: BucketSnapshot = { ...bucket };
  if (shown.resetRequestsAt !== undefined && shown.resetRequestsAt <= nowMs) {
    shown.remainingRequests = shown.limitRequests;
    delete shown.resetRequestsAt;
  }
  if (shown.resetTokensAt !== undefined && shown.resetTokensAt <= nowMs) {
    shown.remainingTokens = shown.limitTokens;
    delete shown.resetTokensAt;
  }
  return shown;
}

/** `ready`, or `cooling 12s (rate_limited)`: how long until the bucket returns by itself, and why. */
export function bucketStateCell(bucket: BucketSnapshot, nowMs: number): string {
  if (bucket.state !== 'cooling' || bucket.until === undefined) return bucket.state;
  const why = bucket.reason ? ` (${bucket.reason})` : '';
  return `cooling ${formatSeconds(bucket.until - nowMs)}${why}`;
}

/** `498/500` left of the limit, `498` when no limit was named, `-` when nothing is known yet. */
export function budgetCell(remaining: number | undefined, limit: number | undefined): string {
  if (remaining === undefined) return '-';
  return limit === undefined ? String(remaining) : `${remaining}/${limit}`;
}

export function bucketRow(snapshot: BucketSnapshot, nowMs: number): string[] {
  const bucket = shownBudget(snapshot, nowMs);
  return [
    bucket.group,
    bucket.account,
    bucketStateCell(bucket, nowMs),
    bucket.state === 'cooling' && bucket.until !== undefined ? formatInstant(bucket.until) : '-',
    budgetCell(bucket.remainingRequests, bucket.limitRequests),
    budgetCell(bucket.remainingTokens, bucket.limitTokens),
    String(bucket.inflight),
  ];
}

/** `pool openai (openai, 4 keys): 2 active, 1 suspended, 1 disabled; buckets: 2 ready, 1 cooling` */
export function poolHeadline(status: PoolStatus, provider?: string): string {
  const list = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([state, n]) => `${n} ${state}`)
      .join(', ');
  const kind = provider ? `${provider}, ` : '';
  const n = status.keys.length;
  return `pool ${status.pool} (${kind}${n} key${n === 1 ? '' : 's'}): ${list(status.counts)}; buckets: ${list(status.bucketCounts)}`;
}
