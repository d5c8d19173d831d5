import type { Outcome } from '@rotor/core';

export type KeyState = 'active' | 'cooling' | 'suspended' | 'disabled';

/** What the store needs to know of a configured key. Never the secret. */
export interface KeySpec {
  id: string;
  label?: string;
  weight?: number;
  rpm?: number;
  tpm?: number;
  windowMs?: number;
}

/** Proof that a request holds a key: passed back to `report`, which releases the in-flight lease. */
export interface Lease {
  pool: string;
  keyId: string;
  token: string;
  /**
   * Who asked (a client id, never a token): the answer to this lease may take the key out of rotation
   * only within that client's keys-out limit (StorePolicy.clientKeysOutPerMinute).
   */
  client?: string;
}

export type AcquireResult =
  | { ok: true; lease: Lease; remainingRequests?: number }
  /** waitMs: until the earliest cooling key returns; undefined when none returns by itself. */
  | { ok: false; waitMs?: number };

export interface AcquireOptions {
  /** Keys this request already tried: never handed out again within one request. */
  exclude?: readonly string[];
  /**
   * A key never answered yet (nothing known of its budget) gets one request at a time until its
   * first answer is reported; the others wait `waitMs` (settleMs). So a burst on a cold pool does not
   * go out before a single rate-limit header was seen. The proxy turns it off for a request that has
   * already waited long enough, so the gate delays a request but never refuses it.
   */
  firstAnswerGate?: boolean;
  /** The requesting client's id, carried on the lease (see Lease.client). */
  client?: string;
  /**
   * The request's estimated tokens (prompt characters / 4 + its output limit): reserved from the
   * key's learned token budget and counted against its declared tpm. 0 / absent: none.
   */
  tokens?: number;
}

export interface ReportResult {
  state: KeyState;
  /** ms epoch (Redis clock) when a cooling key returns; 0 otherwise. */
  untilMs: number;
  /** This report moved the key to another state (the proxy schedules a probe on suspended/disabled). */
  changed: boolean;
  reason: string;
  /** The answer would have taken the key out, but the lease's client had used up its keys-out limit. */
  refused: boolean;
  /** ms of the cooldown this report asked for (0: none); a later one already set may outlast it. */
  cooledFor: number;
}

export type KeyAction = 'disable' | 'enable' | 'clear' | 'reinstate' | 'suspend' | 'invalidate';

export interface KeySnapshot {
  id: string;
  label?: string;
  state: KeyState;
  reason?: string;
  /** ms epoch when a cooling key returns. */
  until?: number;
  weight: number;
  inflight: number;
  acquired: number;
  successes: number;
  rateLimited: number;
  failures: number;
  consecutiveFailures: number;
  lastStatus?: number;
  lastClass?: string;
  lastError?: string;
  lastAt?: number;
  remainingRequests?: number;
  limitRequests?: number;
  resetRequestsAt?: number;
  remainingTokens?: number;
  limitTokens?: number;
  resetTokensAt?: number;
  parkedAt?: number;
}

export interface PoolSnapshot {
  pool: string;
  /** Redis clock when the snapshot was read. */
  now: number;
  keys: KeySnapshot[];
}

/**
 * What a replica learned about one key while serving from its own memory, in relative times, for
 * merging into the shared state when Redis is back (see RedisKeyStore.mergeLearned).
 */
export interface LearnedKey {
  id: string;
  /** The provider's last word on the requests left in its window. */
  seen?: number;
  /** `seen` minus this replica's requests still in flight on the key. */
  remaining?: number;
  /** ms until the provider's window resets. */
  resetInMs?: number;
  /** ms the key has left to cool, and why. */
  coolMs?: number;
  reason?: string;
  /** ms since each hand-out, for a key with a declared rpm (sliding window). */
  handedOutAgoMs?: number[];
}

export interface SyncResult {
  added: number;
  removed: number;
  total: number;
}

/**
 * The shared key state every proxy replica and worker uses. Implemented over Redis (the real thing) and,
 * for Redis outages, by an in-memory fallback: one conformance suite runs against both.
 */
export interface KeyStore {
  acquire(pool: string, options?: AcquireOptions): Promise<AcquireResult>;
  report(lease: Lease, outcome: Outcome): Promise<ReportResult | undefined>;
  /**
   * Gives back a lease that ended with no answer from the provider (never forwarded, client gone
   * before an answer, key unknown to this replica): nothing is recorded against the key, and it does
   * not count as the key's first answer. Returns whether the lease was still held.
   */
  release(lease: Lease): Promise<boolean>;
  sync(pool: string, keys: readonly KeySpec[]): Promise<SyncResult>;
  snapshot(pool: string): Promise<PoolSnapshot>;
  setState(pool: string, keyId: string, action: KeyAction, reason?: string): Promise<{ state: KeyState; changed: boolean }>;
}

export interface StorePolicy {
  /** Redis key prefix (config `redis.prefix`). */
  prefix: string;
  leaseTtlMs: number;
  backoff: { baseMs: number; factor: number; maxMs: number; jitter: number };
  /** Consecutive 5xx / timeouts / connection errors that suspend a key. */
  breakerFailures: number;
  /** Keys the answers to one client's requests may take out of rotation per minute; 0 = no limit. */
  clientKeysOutPerMinute: number;
  /** Due cooling keys returned to rotation per acquire call. */
  returnBatch: number;
  /**
   * A key whose learned budget is spent only by our cautious estimate (answers still in flight may
   * show more room) is looked at again after this long instead of cooling until the provider's reset.
   */
  settleMs: number;
  /**
   * The random draw for backoff jitter, one per report, made here and passed into the store's rules
   * (the Lua script gets it as an argument), so both stores given the same draws agree exactly.
   */
  random: () => number;
}

export const DEFAULT_POLICY: StorePolicy = {
  prefix: 'rotor',
  leaseTtlMs: 600_000,
  backoff: { baseMs: 1000, factor: 2, maxMs: 60_000, jitter: 0.2 },
  breakerFailures: 5,
  clientKeysOutPerMinute: 0,
  returnBatch: 16,
  settleMs: 100,
  random: Math.random,
};
