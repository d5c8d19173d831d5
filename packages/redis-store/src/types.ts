import type { Outcome } from '@rotor/core';

/** A key's own state. Rate limits act on buckets (account, model group), which cool on their own. */
export type KeyState = 'active' | 'suspended' | 'disabled';
/** A key as one model group sees it: `cooling` while the key's bucket of that group cools. */
export type RotationState = KeyState | 'cooling';

export { DEFAULT_GROUP, OTHER_GROUP } from '@rotor/core';

/** Declared limits of one bucket (per account and model group), per the rolling window. */
export interface BucketLimits {
  rpm?: number;
  tpm?: number;
}

/** What the store needs to know of a configured key. Never the secret. */
export interface KeySpec {
  id: string;
  label?: string;
  weight?: number;
  /** Declared limits of each of the key's buckets (any model group). */
  rpm?: number;
  tpm?: number;
  windowMs?: number;
  /** Declared limits of one model group's bucket, over rpm / tpm. */
  groups?: Record<string, BucketLimits>;
  /** The account (organization) that owns the key, declared in the config: wins over a learned one. */
  account?: string;
}

/** The pool's model groups, as the config names them. */
export interface SyncOptions {
  /** Groups the config names (`modelGroups`): always tracked, whatever the bound. */
  modelGroups?: readonly string[];
  /** Other groups (models) tracked before unknown models share `other` (`maxModelGroups`). */
  maxModelGroups?: number;
}

/** Proof that a request holds a key: passed back to `report`, which releases the in-flight lease. */
export interface Lease {
  pool: string;
  keyId: string;
  token: string;
  /** The bucket the lease reserved from: the key's account at hand-out and the request's model group. */
  account: string;
  group: string;
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
  /** The request's model group (@rotor/core modelGroupOf); DEFAULT_GROUP when absent. */
  group?: string;
  /**
   * The request's estimated tokens (prompt characters / 4 + its output limit): reserved from the
   * key's learned token budget and counted against its declared tpm. 0 / absent: none.
   */
  tokens?: number;
}

export interface ReportResult {
  /** The key as the lease's model group sees it now (cooling: its bucket cools). */
  state: RotationState;
  /** ms epoch (Redis clock) when a cooling bucket returns; 0 otherwise. */
  untilMs: number;
  /** This report changed that state (the proxy schedules a probe on suspended/disabled). */
  changed: boolean;
  /** The key's account now (declared, learned from this answer, or `~<keyId>`: its own). */
  account: string;
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
  /** The account that owns the key (declared or learned); absent: the key is its own account. */
  account?: string;
  /** The account comes from the config (`keys[].account`), not from an answer. */
  accountDeclared?: boolean;
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
  parkedAt?: number;
}

/** One rate-limit bucket: what an account may still send to one model group. */
export interface BucketSnapshot {
  /** The account, or `~<keyId>` for a key that is its own account. */
  account: string;
  group: string;
  /** cooling: out of this group's rotation until `until`. */
  state: 'ready' | 'cooling';
  reason?: string;
  /** ms epoch when a cooling bucket returns. */
  until?: number;
  inflight: number;
  remainingRequests?: number;
  limitRequests?: number;
  resetRequestsAt?: number;
  remainingTokens?: number;
  limitTokens?: number;
  resetTokensAt?: number;
  /** Last answer seen in this bucket (absent: never answered). */
  lastAt?: number;
}

export interface PoolSnapshot {
  pool: string;
  /** Redis clock when the snapshot was read. */
  now: number;
  keys: KeySnapshot[];
  /** Buckets that were used, sorted by group then account. */
  buckets: BucketSnapshot[];
  /** The model groups the pool tracks. */
  groups: string[];
}

/**
 * What a replica learned about one bucket while serving from its own memory, in relative times, for
 * merging into the shared state when Redis is back (see RedisKeyStore.mergeLearned).
 */
export interface LearnedBucket {
  account: string;
  group: string;
  /** The provider's last word on the requests left in its window. */
  seen?: number;
  /** `seen` minus this replica's requests still in flight on the bucket. */
  remaining?: number;
  /** ms until the provider's window resets. */
  resetInMs?: number;
  /** ms the bucket has left to cool, and why. */
  coolMs?: number;
  reason?: string;
  /** ms since each hand-out under a declared rpm (sliding window), with that rpm and its window. */
  handedOutAgoMs?: number[];
  rpm?: number;
  windowMs?: number;
  /** Keys this replica learned the (named) account for. */
  keys?: string[];
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
  /**
   * `account`: the account the answer named (organization, or organization/project as the pool's
   * accountScope says; @rotor/core accountOf), learned for the key unless its config declares one.
   */
  report(lease: Lease, outcome: Outcome, account?: string): Promise<ReportResult | undefined>;
  /**
   * Gives back a lease that ended with no answer from the provider (never forwarded, client gone
   * before an answer, key unknown to this replica): nothing is recorded against the key, and it does
   * not count as the key's first answer. Returns whether the lease was still held.
   */
  release(lease: Lease): Promise<boolean>;
  sync(pool: string, keys: readonly KeySpec[], options?: SyncOptions): Promise<SyncResult>;
  snapshot(pool: string): Promise<PoolSnapshot>;
  /** `clear` (and `enable`) end the cooldowns of the key's account's buckets. */
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
