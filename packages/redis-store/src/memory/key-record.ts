import type { BucketLimits, BucketSnapshot, KeySnapshot, KeyState } from '../types';

/** One key's detail: the fields of the Redis per-key HASH, same names in camelCase. */
export interface MemKey {
  id: string;
  label: string;
  weight: number;
  rpm?: number;
  tpm?: number;
  windowMs?: number;
  /** Declared limits per model group (`rpm@<group>` / `tpm@<group>`). */
  groups: Map<string, BucketLimits>;
  /** Declared or learned account; undefined: the key is its own (`~<id>`). */
  account?: string;
  accountDecl?: string;
  state: KeyState;
  reason: string;
  fails: number;
  lastStatus?: number;
  lastClass?: string;
  lastError?: string;
  lastAt?: number;
  acquired: number;
  inflight: number;
  ok: number;
  rateLimited: number;
  quota: number;
  invalid: number;
  errors: number;
  parkedAt?: number;
}

/** One bucket (account, model group): the fields of the Redis bucket HASH and its lists. */
export interface MemBucket {
  until?: number;
  reason?: string;
  limReq?: number;
  remReq?: number;
  seenReq?: number;
  remSlack?: number;
  resetReqAt?: number;
  limTok?: number;
  remTok?: number;
  seenTok?: number;
  resetTokAt?: number;
  inflightTok?: number;
  tlogSum?: number;
  rlStreak?: number;
  lastAt?: number;
  /** lease token -> tokens it reserved (the `:inflight` ZSET). */
  inflight: Map<string, number>;
  /** Hand-out times under a declared rpm, newest first (the `:log` LIST), with that rpm and window. */
  log: number[];
  rpm?: number;
  windowMs?: number;
  /** [ms, tokens] handed out under a declared tpm, newest first (the `:tlog` LIST). */
  tlog: [number, number][];
}

export function newKey(id: string): MemKey {
  return {
    id,
    label: '',
    weight: 1,
    groups: new Map(),
    state: 'active',
    reason: '',
    fails: 0,
    acquired: 0,
    inflight: 0,
    ok: 0,
    rateLimited: 0,
    quota: 0,
    invalid: 0,
    errors: 0,
  };
}

export function newBucket(): MemBucket {
  return { inflight: new Map(), log: [], tlog: [] };
}

export function forgetBudgets(bucket: MemBucket): void {
  bucket.remReq = bucket.resetReqAt = bucket.seenReq = bucket.remSlack = undefined;
  bucket.remTok = bucket.resetTokAt = bucket.seenTok = undefined;
}

export function toSnapshot(k: MemKey): KeySnapshot {
  const parked = k.state === 'suspended' || k.state === 'disabled';
  return {
    id: k.id,
    ...(k.label ? { label: k.label } : {}),
    state: k.state,
    ...(k.reason ? { reason: k.reason } : {}),
    ...(k.account ? { account: k.account, ...(k.accountDecl ? { accountDeclared: true } : {}) } : {}),
    weight: k.weight,
    inflight: k.inflight,
    acquired: k.acquired,
    successes: k.ok,
    rateLimited: k.rateLimited,
    failures: k.errors + k.quota + k.invalid,
    consecutiveFailures: k.fails,
    lastStatus: k.lastStatus,
    lastClass: k.lastClass || undefined,
    lastError: k.lastError || undefined,
    lastAt: k.lastAt,
    parkedAt: parked ? k.parkedAt : undefined,
  };
}

/** `until`: the bucket's cooling score when it is still in the future (snapshot.ts's rule). */
export function toBucketSnapshot(account: string, group: string, b: MemBucket, until: number | undefined): BucketSnapshot {
  return {
    account,
    group,
    state: until !== undefined ? 'cooling' : 'ready',
    ...(until !== undefined ? { until, ...(b.reason ? { reason: b.reason } : {}) } : {}),
    inflight: b.inflight.size,
    remainingRequests: b.remReq,
    limitRequests: b.limReq,
    resetRequestsAt: b.resetReqAt,
    remainingTokens: b.remTok,
    limitTokens: b.limTok,
    resetTokensAt: b.resetTokAt,
    lastAt: b.lastAt,
  };
}
