import type { KeySnapshot, KeyState } from '../types';

/** One key's detail: the fields of the Redis per-key HASH, same names in camelCase. */
export interface MemKey {
  id: string;
  label: string;
  weight: number;
  rpm?: number;
  tpm?: number;
  windowMs?: number;
  state: KeyState;
  reason: string;
  until: number;
  fails: number;
  rlStreak: number;
  lastStatus?: number;
  lastClass?: string;
  lastError?: string;
  lastAt?: number;
  limReq?: number;
  remReq?: number;
  seenReq?: number;
  remSlack?: number;
  resetReqAt?: number;
  limTok?: number;
  remTok?: number;
  seenTok?: number;
  resetTokAt?: number;
  acquired: number;
  ok: number;
  rateLimited: number;
  quota: number;
  invalid: number;
  errors: number;
  parkedAt?: number;
  /** Hand-out times for a declared rpm, newest first (the Redis `:log` LIST). */
  log: number[];
  /** [ms, tokens] handed out under a declared tpm, newest first (the Redis `:tlog` LIST), and their sum. */
  tlog: [number, number][];
  tlogSum: number;
  /** lease token -> tokens it reserved (the Redis `:inflight` ZSET); their sum. */
  inflight: Map<string, number>;
  inflightTok: number;
}

export function newKey(id: string): MemKey {
  return {
    id,
    label: '',
    weight: 1,
    state: 'active',
    reason: '',
    until: 0,
    fails: 0,
    rlStreak: 0,
    acquired: 0,
    ok: 0,
    rateLimited: 0,
    quota: 0,
    invalid: 0,
    errors: 0,
    log: [],
    tlog: [],
    tlogSum: 0,
    inflight: new Map(),
    inflightTok: 0,
  };
}

export function forgetBudgets(key: MemKey): void {
  key.remReq = key.resetReqAt = key.seenReq = key.remSlack = undefined;
  key.remTok = key.resetTokAt = key.seenTok = undefined;
}

export function toSnapshot(k: MemKey): KeySnapshot {
  const parked = k.state === 'suspended' || k.state === 'disabled';
  return {
    id: k.id,
    ...(k.label ? { label: k.label } : {}),
    state: k.state,
    ...(k.reason ? { reason: k.reason } : {}),
    ...(k.state === 'cooling' ? { until: k.until } : {}),
    weight: k.weight,
    inflight: k.inflight.size,
    acquired: k.acquired,
    successes: k.ok,
    rateLimited: k.rateLimited,
    failures: k.errors + k.quota + k.invalid,
    consecutiveFailures: k.fails,
    lastStatus: k.lastStatus,
    lastClass: k.lastClass || undefined,
    lastError: k.lastError || undefined,
    lastAt: k.lastAt,
    remainingRequests: k.remReq,
    limitRequests: k.limReq,
    resetRequestsAt: k.resetReqAt,
    remainingTokens: k.remTok,
    limitTokens: k.limTok,
    resetTokensAt: k.resetTokAt,
    parkedAt: parked ? k.parkedAt : undefined,
  };
}
