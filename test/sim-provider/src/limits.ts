import type { BucketRef } from './buckets';
import type { BucketStats, Limits } from './types';

/**
 * Fixed windows per bucket (organization, model group). A window opens at a bucket's first counted
 * request (or `consume`) and lasts `windowMs`; the next request after it ends opens a fresh one. Fixed
 * windows (rather than the real providers' continuously refilling buckets) make "remaining 0 until T,
 * then full" exact, which is what tests of the proxy's cooldown logic need to assert on.
 *
 * Each bucket is one mutable record, reused window after window: the cost of a request does not grow
 * with history, and the number of records is bounded by organizations × listed models.
 */

interface Bucket {
  org: string;
  model: string;
  limits: Limits;
  open: boolean;
  start: number;
  requests: number;
  tokens: number;
  admitted: number;
  refused: number;
  refusedOnTokens: number;
  windows: number;
  refusedInWindow: number;
  maxRefusedInWindow: number;
}

/** State of a bucket's window as reported in headers. */
export interface WindowSnapshot {
  limits: Limits;
  usedRequests: number;
  usedTokens: number;
  remainingRequests: number;
  /** Undefined when the bucket has no token limit. */
  remainingTokens?: number;
  /** Epoch ms when the window ends (for a bucket with no open window: when one opened now would end). */
  resetAt: number;
}

export type Admission =
  | { admitted: true; snapshot: WindowSnapshot }
  | {
      admitted: false;
      /** Which limit refused the request: OpenAI's error `type` is literally this word. */
      dimension: 'requests' | 'tokens';
      limit: number;
      used: number;
      requested: number;
      snapshot: WindowSnapshot;
    };

/** The counters of a bucket that has counted nothing yet. */
const UNUSED = {
  open: false,
  start: 0,
  requests: 0,
  tokens: 0,
  admitted: 0,
  refused: 0,
  refusedOnTokens: 0,
  windows: 0,
  refusedInWindow: 0,
  maxRefusedInWindow: 0,
} as const;

export class WindowLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly windowMs: number) {}

  /** Counts one request of `tokens` tokens if both limits allow it; a refused request costs nothing. */
  admit(ref: BucketRef, tokens: number, now: number): Admission {
    const bucket = this.open(ref, now);
    const { limits } = ref;
    if (bucket.requests + 1 > limits.rpm) {
      this.refuse(bucket, false);
      return {
        admitted: false,
        dimension: 'requests',
        limit: limits.rpm,
        used: bucket.requests,
        requested: 1,
        snapshot: this.describe(bucket, limits),
      };
    }
    if (limits.tpm !== undefined && bucket.tokens + tokens > limits.tpm) {
      this.refuse(bucket, true);
      return {
        admitted: false,
        dimension: 'tokens',
        limit: limits.tpm,
        used: bucket.tokens,
        requested: tokens,
        snapshot: this.describe(bucket, limits),
      };
    }
    bucket.requests += 1;
    bucket.tokens += tokens;
    bucket.admitted += 1;
    return { admitted: true, snapshot: this.describe(bucket, limits) };
  }

  /** Read-only view for free endpoints and error answers: does not open a window. */
  snapshot(ref: BucketRef, now: number): WindowSnapshot {
    const bucket = this.current(ref.id, now);
    if (bucket?.open) return this.describe(bucket, ref.limits);
    return this.describe({ start: now, requests: 0, tokens: 0 }, ref.limits);
  }

  consume(ref: BucketRef, requests: number, now: number): void {
    this.open(ref, now).requests += requests;
  }

  windowEndsAt(ref: BucketRef, now: number): number {
    const bucket = this.current(ref.id, now);
    return bucket?.open ? bucket.start + this.windowMs : now;
  }

  /** Counters of one bucket (zeros if it has counted nothing since reset). */
  stats(ref: BucketRef, now: number): BucketStats {
    const bucket = this.current(ref.id, now);
    if (bucket) return this.report(bucket, now);
    return this.report({ ...ref, ...UNUSED }, now);
  }

  all(now: number): BucketStats[] {
    const list: BucketStats[] = [];
    for (const id of this.buckets.keys()) {
      const bucket = this.current(id, now);
      if (bucket) list.push(this.report(bucket, now));
    }
    return list;
  }

  reset(): void {
    this.buckets.clear();
  }

  /** The bucket with its window closed if its time is up (the window's 429s folded into the maximum). */
  private current(id: string, now: number): Bucket | undefined {
    const bucket = this.buckets.get(id);
    if (bucket?.open && now >= bucket.start + this.windowMs) {
      bucket.open = false;
      bucket.requests = 0;
      bucket.tokens = 0;
      bucket.refusedInWindow = 0;
    }
    return bucket;
  }

  private open(ref: BucketRef, now: number): Bucket {
    let bucket = this.current(ref.id, now);
    if (!bucket) {
      bucket = { org: ref.org, model: ref.model, limits: ref.limits, ...UNUSED };
      this.buckets.set(ref.id, bucket);
    }
    if (!bucket.open) {
      bucket.open = true;
      bucket.start = now;
      bucket.windows += 1;
    }
    bucket.limits = ref.limits;
    return bucket;
  }

  private refuse(bucket: Bucket, onTokens: boolean): void {
    bucket.refused += 1;
    if (onTokens) bucket.refusedOnTokens += 1;
    bucket.refusedInWindow += 1;
    bucket.maxRefusedInWindow = Math.max(bucket.maxRefusedInWindow, bucket.refusedInWindow);
  }

  private describe(window: { start: number; requests: number; tokens: number }, limits: Limits): WindowSnapshot {
    return {
      limits,
      usedRequests: window.requests,
      usedTokens: window.tokens,
      // consume() may push usage past the limit; headers never show a negative remainder.
      remainingRequests: Math.max(0, limits.rpm - window.requests),
      remainingTokens: limits.tpm === undefined ? undefined : Math.max(0, limits.tpm - window.tokens),
      resetAt: window.start + this.windowMs,
    };
  }

  private report(bucket: Bucket, now: number): BucketStats {
    return {
      org: bucket.org,
      model: bucket.model,
      limits: { ...bucket.limits },
      admitted: bucket.admitted,
      refused: bucket.refused,
      refusedOnTokens: bucket.refusedOnTokens,
      windows: bucket.windows,
      maxRefusedInWindow: bucket.maxRefusedInWindow,
      usedRequests: bucket.open ? bucket.requests : 0,
      usedTokens: bucket.open ? bucket.tokens : 0,
      windowEndsAt: bucket.open ? bucket.start + this.windowMs : now,
    };
  }
}
