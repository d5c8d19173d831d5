import crypto from 'node:crypto';
import type { Outcome } from '@rotor/core';
import { StoreError, StoreErrorCode } from './errors';
import { forgetBudgets, newKey, toSnapshot, type MemKey } from './memory/key-record';
import { SortedSet } from './memory/sorted-set';
import {
  DEFAULT_POLICY,
  type AcquireOptions,
  type AcquireResult,
  type KeyAction,
  type KeySpec,
  type KeyState,
  type KeyStore,
  type LearnedKey,
  type Lease,
  type PoolSnapshot,
  type ReportResult,
  type StorePolicy,
  type SyncResult,
} from './types';

export interface MemoryStoreOptions extends Partial<StorePolicy> {
  /**
   * This process's share of every key's budget, in (0, 1]. 1 when it is the only user of the keys
   * (`redis.url: memory://`). A replica serving from its fallback while Redis is down uses
   * 1 / `redis.fallback.replicas`, so N replicas together stay within a key's declared rpm and within
   * what the provider's headers say is left, instead of each spending all of it.
   */
  share?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

interface MemPool {
  ring: SortedSet;
  cooling: SortedSet;
  parked: SortedSet;
  /** "<keyId>|<token>" -> expiry ms. */
  leases: SortedSet;
  vt: number;
  keys: Map<string, MemKey>;
  /** client id -> ms epochs of the keys its requests took out of rotation (report-8.lua's KEYS[8]). */
  clientKeysOut: Map<string, number[]>;
}

const processTag = crypto.randomBytes(4).toString('hex');
let leaseCounter = 0;
const nextToken = () => `m${processTag}${(leaseCounter++).toString(36)}`;
const LEASE_REAP_BATCH = 16;
/** acquire-6.lua's NEARLY_SPENT: a token budget with less than this share of its limit left is spent. */
const NEARLY_SPENT = 0.05;
const nearlySpent = (left: number, limit: number | undefined) => left <= 0 || (limit !== undefined && left < limit * NEARLY_SPENT);
const CLIENT_WINDOW_MS = 60_000;

/**
 * The key store in this process's memory: the same contract as RedisKeyStore, statement for statement
 * the same rules as the Lua scripts (one conformance suite runs against both), for two uses:
 * - the proxy's fail-open fallback while Redis is unreachable (per replica, with `share` < 1);
 * - a single replica with no Redis at all (`redis.url: memory://`), which does not scale out.
 * Everything is synchronous inside each call, so calls are atomic like scripts are. Costs match the
 * scripts': O(log n) per acquire / report, bounded batches for returning cooldowns and expired leases.
 */
export class MemoryKeyStore implements KeyStore {
  readonly policy: StorePolicy;
  private shareOfBudget: number;
  private readonly now: () => number;
  private readonly pools = new Map<string, MemPool>();

  constructor(options: MemoryStoreOptions = {}) {
    const { share = 1, now = Date.now, ...policy } = options;
    this.policy = { ...DEFAULT_POLICY, ...policy };
    this.shareOfBudget = checkShare(share);
    this.now = now;
  }

  get share(): number {
    return this.shareOfBudget;
  }

  /** A new share (the number of live replicas changed); applies to budgets learned from now on. */
  setShare(share: number): void {
    this.shareOfBudget = checkShare(share);
  }

  async acquire(pool: string, options: AcquireOptions = {}): Promise<AcquireResult> {
    const p = this.pools.get(pool);
    if (!p) return { ok: false };
    const now = this.now();
    for (const id of p.cooling.upTo(now, this.policy.returnBatch)) {
      p.cooling.remove(id);
      this.rejoinRing(p, p.keys.get(id)!);
    }
    this.reapLeases(p, now);

    const excluded = new Set(options.exclude ?? []);
    let awaitingFirstAnswer = false;
    let fitsAt: number | undefined;
    // As acquire-6.lua: keys waiting for their first answer are skipped, at most 16 of them, and so
    // are keys this request does not fit (at most 16 more).
    for (let guard = 0, gatedSkips = 0, misfits = 0; guard < 1000 && gatedSkips < 16 && misfits < 16; guard++) {
      const head = p.ring.lowest(excluded.size + 1).find((e) => !excluded.has(e.member));
      if (!head) break;
      const key = p.keys.get(head.member)!;
      if (options.firstAnswerGate && key.lastAt === undefined && key.inflight.size > 0) {
        excluded.add(key.id);
        awaitingFirstAnswer = true;
        gatedSkips++;
        continue;
      }
      const blocked = this.spentUntil(key, options.tokens ?? 0, now);
      if (blocked?.why === 'does_not_fit') {
        excluded.add(key.id);
        misfits++;
        if (fitsAt === undefined || blocked.until < fitsAt) fitsAt = blocked.until;
        continue;
      }
      if (blocked) {
        this.toCooling(p, key, blocked.until, blocked.why);
        continue;
      }
      p.ring.add(key.id, head.score + 1 / (key.weight > 0 ? key.weight : 1));
      p.vt = head.score;
      const token = nextToken();
      const remaining = this.reserve(p, key, token, options.tokens ?? 0, now + this.policy.leaseTtlMs, now);
      const lease: Lease = { pool, keyId: key.id, token };
      if (options.client !== undefined) lease.client = options.client;
      return {
        ok: true,
        lease,
        ...(remaining >= 0 ? { remainingRequests: remaining } : {}),
      };
    }
    // The soonest of: a cooling key's return, a cold key's first answer, a skipped key fitting.
    const candidates: number[] = [];
    const earliest = p.cooling.lowest(1)[0];
    if (earliest) candidates.push(earliest.score - now);
    if (awaitingFirstAnswer) candidates.push(this.policy.settleMs);
    if (fitsAt !== undefined) candidates.push(fitsAt - now);
    if (candidates.length > 0) return { ok: false, waitMs: Math.max(1, Math.min(...candidates)) };
    return { ok: false };
  }

  async report(lease: Lease, outcome: Outcome): Promise<ReportResult | undefined> {
    const p = this.pools.get(lease.pool);
    const now = this.now();
    // One draw per report, used or not, as RedisKeyStore passes one to every report script call.
    const draw = this.policy.random();
    if (p && lease.token) this.releaseLease(p, `${lease.keyId}|${lease.token}`);
    const key = p?.keys.get(lease.keyId);
    if (!p || !key) return undefined;
    const before = key.state;
    let state = key.state;
    key.lastClass = outcome.kind;
    key.lastStatus = outcome.status;
    key.lastAt = now;
    key.lastError = outcome.errorCode ?? '';

    const rl = outcome.rateLimit;
    const remReq = rl.remainingRequests;
    const resetReq = rl.resetRequestsMs;
    let budgetRaised = false;
    if (remReq !== undefined) {
      const { seenReq: seen, resetReqAt: knownReset, remReq: known } = key;
      const windowRunning = seen !== undefined && knownReset !== undefined && knownReset > now;
      const fresh = !windowRunning || remReq <= seen;
      const base = fresh ? remReq : seen;
      // Our share of what the provider says is left, minus our requests still in flight.
      const mine = Math.floor(base * this.share);
      const left = Math.max(0, mine - key.inflight.size);
      budgetRaised = left > 0 && (known === undefined || known <= 0);
      key.remReq = left;
      key.seenReq = base;
      key.remSlack = mine - left;
      if (fresh && resetReq !== undefined) key.resetReqAt = now + resetReq;
    }
    if (rl.limitRequests !== undefined) key.limReq = rl.limitRequests;
    const remTok = rl.remainingTokens;
    const resetTok = rl.resetTokensMs;
    if (remTok !== undefined) {
      // As for requests: the freshest answer of the running window, our share, minus our reservations.
      const { seenTok: seen, resetTokAt: knownReset } = key;
      const windowRunning = seen !== undefined && knownReset !== undefined && knownReset > now;
      const fresh = !windowRunning || remTok <= seen;
      const base = fresh ? remTok : seen;
      key.remTok = Math.max(0, Math.floor(base * this.share) - key.inflightTok);
      key.seenTok = base;
      if (fresh && resetTok !== undefined) key.resetTokAt = now + resetTok;
    }
    if (rl.limitTokens !== undefined) key.limTok = rl.limitTokens;

    let refused = false;
    const park = (newState: KeyState, reason: string) => {
      if (!this.clientMayTakeOut(p, lease.client, now)) {
        refused = true;
        return;
      }
      this.toParked(p, key, newState, reason, now);
      state = newState;
    };
    if (budgetRaised && state === 'cooling' && (key.reason === 'budget' || key.reason === 'budget_settling')) {
      p.cooling.remove(key.id);
      this.rejoinRing(p, key);
      state = 'active';
    }
    const inRotation = state === 'active' || state === 'cooling';
    let untilMs = 0;
    let cooledFor = 0;

    switch (outcome.kind) {
      case 'success': {
        key.ok += 1;
        key.fails = 0;
        key.rlStreak = 0;
        if (inRotation) {
          // A spent budget cools the key BEFORE it earns a 429.
          let spentAt: number | undefined;
          if (remReq !== undefined && remReq <= 0 && resetReq !== undefined) spentAt = now + resetReq;
          if (remTok !== undefined && remTok <= 0 && resetTok !== undefined && (spentAt === undefined || now + resetTok > spentAt)) {
            spentAt = now + resetTok;
          }
          if (spentAt !== undefined && spentAt > now) {
            cooledFor = spentAt - now;
            untilMs = this.toCooling(p, key, spentAt, 'budget');
            state = 'cooling';
          }
        }
        break;
      }
      case 'rate_limited': {
        key.rateLimited += 1;
        if (!inRotation) break;
        let wait = rl.retryAfterMs;
        if (wait === undefined) {
          if (remReq !== undefined && remReq <= 0 && resetReq !== undefined) wait = resetReq;
          if (remTok !== undefined && remTok <= 0 && resetTok !== undefined && (wait === undefined || resetTok > wait)) wait = resetTok;
        }
        if (wait === undefined) {
          const streak = (key.rlStreak += 1);
          const { baseMs, factor, maxMs, jitter } = this.policy.backoff;
          const delay = baseMs * factor ** (streak - 1);
          if (delay > maxMs) park('suspended', 'backoff_ceiling');
          else wait = delay + delay * jitter * draw;
        }
        if (wait !== undefined) {
          cooledFor = Math.ceil(Math.max(1, wait));
          untilMs = this.toCooling(p, key, now + cooledFor, 'rate_limited');
          state = 'cooling';
        }
        break;
      }
      case 'quota_exhausted':
        key.quota += 1;
        if (inRotation) park('suspended', 'quota');
        break;
      case 'invalid_key':
        key.invalid += 1;
        // A suspect until the worker's probe confirms it (report-8.lua says why).
        if (inRotation) park('suspended', 'suspect_invalid');
        break;
      case 'server_error':
      case 'timeout':
      case 'connection_error':
        key.errors += 1;
        key.fails += 1;
        if (inRotation && key.fails >= this.policy.breakerFailures) park('suspended', 'circuit_open');
        break;
      default:
        break;
    }
    if (state === 'cooling' && untilMs === 0) untilMs = p.cooling.score(key.id) ?? 0;
    return { state, untilMs, changed: state !== before, reason: key.reason, refused, cooledFor };
  }

  async release(lease: Lease): Promise<boolean> {
    const p = this.pools.get(lease.pool);
    if (!p || !lease.token) return false;
    return this.releaseLease(p, `${lease.keyId}|${lease.token}`);
  }

  async sync(pool: string, specs: readonly KeySpec[]): Promise<SyncResult> {
    let p = this.pools.get(pool);
    if (!p) {
      p = {
        ring: new SortedSet(),
        cooling: new SortedSet(),
        parked: new SortedSet(),
        leases: new SortedSet(),
        vt: 0,
        keys: new Map(),
        clientKeysOut: new Map(),
      };
      this.pools.set(pool, p);
    }
    let added = 0;
    for (const spec of specs) {
      let key = p.keys.get(spec.id);
      if (!key) {
        key = newKey(spec.id);
        p.keys.set(spec.id, key);
        this.rejoinRing(p, key);
        added += 1;
      }
      key.weight = spec.weight ?? 1;
      key.label = spec.label ?? '';
      key.rpm = spec.rpm;
      key.tpm = spec.tpm;
      key.windowMs = spec.windowMs;
    }
    const wanted = new Set(specs.map((s) => s.id));
    let removed = 0;
    for (const id of [...p.keys.keys()]) {
      if (wanted.has(id)) continue;
      p.ring.remove(id);
      p.cooling.remove(id);
      p.parked.remove(id);
      p.keys.delete(id);
      removed += 1;
    }
    return { added, removed, total: wanted.size };
  }

  async snapshot(pool: string): Promise<PoolSnapshot> {
    const p = this.pools.get(pool);
    const keys = p ? [...p.keys.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(toSnapshot) : [];
    return { pool, now: this.now(), keys };
  }

  async setState(pool: string, keyId: string, action: KeyAction, reason = ''): Promise<{ state: KeyState; changed: boolean }> {
    const p = this.pools.get(pool);
    const key = p?.keys.get(keyId);
    if (!p || !key) throw new StoreError(StoreErrorCode.UnknownKey, pool, keyId);
    const state = key.state;
    const now = this.now();
    const byOperator = state === 'disabled' && key.reason === 'operator';
    const activate = () => {
      p.cooling.remove(keyId);
      p.parked.remove(keyId);
      this.rejoinRing(p, key);
      key.fails = 0;
      key.rlStreak = 0;
      forgetBudgets(key);
    };
    let after = state;
    if (action === 'disable') {
      this.toParked(p, key, 'disabled', 'operator', now);
      after = 'disabled';
    } else if (action === 'enable') {
      if (state !== 'active') activate();
      after = 'active';
    } else if (action === 'clear') {
      if (state === 'cooling') {
        activate();
        after = 'active';
      }
    } else {
      if (byOperator) throw new StoreError(StoreErrorCode.OperatorDisabled, pool, keyId);
      if (action === 'reinstate') {
        if (state === 'suspended' || state === 'disabled') {
          activate();
          after = 'active';
        }
      } else if (action === 'suspend') {
        if (state === 'suspended') key.reason = reason;
      } else if (action === 'invalidate') {
        this.toParked(p, key, 'disabled', reason, now);
        after = 'disabled';
      } else {
        throw new Error(`unknown action ${String(action)}`);
      }
    }
    return { state: after, changed: after !== state };
  }

  /**
   * Takes over what the shared store knew when it was last read (the fallback starts from it rather
   * than from "every key active"): keys out of rotation stay out (cooling until the same moment,
   * operator-disabled keys stay disabled) and the provider's last word on each key's budget. Times in
   * `snapshot` are on its own clock (`snapshot.now`, Redis's); `readAt` is this clock's time of the read.
   */
  adopt(snapshot: PoolSnapshot, readAt: number = this.now()): void {
    const p = this.pools.get(snapshot.pool);
    if (!p) return;
    const shift = readAt - snapshot.now;
    const now = this.now();
    for (const known of snapshot.keys) {
      const key = p.keys.get(known.id);
      if (!key) continue;
      if (known.state === 'cooling' && known.until !== undefined && known.until + shift > now) {
        p.ring.remove(key.id);
        p.parked.remove(key.id);
        this.toCooling(p, key, known.until + shift, known.reason ?? 'rate_limited');
      } else if (known.state === 'suspended' || known.state === 'disabled') {
        this.toParked(p, key, known.state, known.reason ?? '', known.parkedAt !== undefined ? known.parkedAt + shift : now);
      } else if (key.state !== 'active') {
        p.cooling.remove(key.id);
        p.parked.remove(key.id);
        this.rejoinRing(p, key);
      }
      if (known.remainingRequests !== undefined && known.resetRequestsAt !== undefined && known.resetRequestsAt + shift > now) {
        key.remReq = Math.floor(known.remainingRequests * this.share);
        key.seenReq = known.remainingRequests;
        key.remSlack = 0;
        key.resetReqAt = known.resetRequestsAt + shift;
      }
      if (known.limitRequests !== undefined) key.limReq = known.limitRequests;
      // Answered on some replica: not cold here either (the first-answer gate).
      if (known.lastAt !== undefined) key.lastAt ??= known.lastAt + shift;
    }
  }

  /**
   * What this store knows that the shared state may not: per key, the provider's last word on its
   * budget (minus our requests in flight), a running cooldown, recent hand-outs under a declared rpm.
   * Relative times, for RedisKeyStore.mergeLearned when Redis is back.
   */
  learned(pool: string): LearnedKey[] {
    const p = this.pools.get(pool);
    if (!p) return [];
    const now = this.now();
    const out: LearnedKey[] = [];
    for (const key of p.keys.values()) {
      const entry: LearnedKey = { id: key.id };
      if (key.seenReq !== undefined && key.resetReqAt !== undefined && key.resetReqAt > now) {
        entry.seen = key.seenReq;
        entry.remaining = Math.max(0, key.seenReq - key.inflight.size);
        entry.resetInMs = key.resetReqAt - now;
      }
      if (key.state === 'cooling' && key.until > now) {
        entry.coolMs = key.until - now;
        entry.reason = key.reason;
      }
      const windowMs = key.windowMs ?? 60_000;
      const recent = key.log.filter((t) => t + windowMs > now).map((t) => now - t);
      if (recent.length > 0) entry.handedOutAgoMs = recent;
      if (Object.keys(entry).length > 1) out.push(entry);
    }
    return out;
  }

  private rpmOf(key: MemKey): number | undefined {
    if (!key.rpm || key.rpm <= 0) return undefined;
    return Math.max(1, Math.floor(key.rpm * this.share));
  }

  /** When the key's budget frees up and why, or undefined when it may be used now (acquire's spentUntil). */
  private spentUntil(key: MemKey, tokens: number, now: number): { until: number; why: string } | undefined {
    if (key.remReq !== undefined && key.resetReqAt !== undefined && key.resetReqAt <= now) {
      // As acquire-6.lua: a reset window is full again, up to the learned limit (our share of it).
      key.resetReqAt = undefined;
      if (key.limReq !== undefined) {
        key.remReq = Math.floor(key.limReq * this.share);
        key.seenReq = key.limReq;
        key.remSlack = 0;
      } else key.remReq = key.seenReq = key.remSlack = undefined;
    }
    if (key.remReq !== undefined && key.remReq <= 0 && key.resetReqAt === undefined) {
      if (key.inflight.size > 0) return { until: now + this.policy.settleMs, why: 'budget_settling' };
      key.remReq = key.seenReq = key.remSlack = undefined;
    }
    if (key.remReq !== undefined && key.remReq <= 0 && key.resetReqAt !== undefined) {
      const slack = key.remSlack ?? 0;
      if (slack > 0 && key.inflight.size > 0 && now + this.policy.settleMs < key.resetReqAt) {
        return { until: now + this.policy.settleMs, why: 'budget_settling' };
      }
      return { until: key.resetReqAt, why: 'budget' };
    }
    if (key.remTok !== undefined && key.resetTokAt !== undefined && key.resetTokAt <= now) {
      key.resetTokAt = undefined;
      key.remTok = key.limTok !== undefined ? Math.floor(key.limTok * this.share) : undefined;
    }
    // As acquire-6.lua: cool a key that cannot hold this request only when it is nearly spent.
    const fits = key.limTok === undefined || tokens <= key.limTok;
    if (key.remTok !== undefined && key.resetTokAt !== undefined && fits && key.remTok < Math.max(tokens, 1)) {
      return { until: key.resetTokAt, why: nearlySpent(key.remTok, key.limTok) ? 'budget_tokens' : 'does_not_fit' };
    }
    const tpm = key.tpm !== undefined && key.tpm > 0 ? Math.max(1, Math.floor(key.tpm * this.share)) : undefined;
    if (tpm !== undefined && tokens > 0 && tokens <= tpm) {
      const window = this.tokenWindowFreeAt(key, tpm, tokens, key.windowMs ?? 60_000, now);
      if (window !== undefined) return { until: window.freeAt, why: nearlySpent(window.left, tpm) ? 'tpm' : 'does_not_fit' };
    }
    const rpm = this.rpmOf(key);
    if (rpm !== undefined && key.log.length >= rpm) {
      const oldest = key.log[key.log.length - 1]!;
      const windowMs = key.windowMs ?? 60_000;
      if (oldest + windowMs > now) return { until: oldest + windowMs, why: 'rpm' };
    }
    return undefined;
  }

  /** The virtual time a (re)joining key starts at: the current lowest, so it takes no burst. */
  private rejoinRing(p: MemPool, key: MemKey): void {
    p.ring.add(key.id, p.ring.lowest(1)[0]?.score ?? p.vt);
    key.state = 'active';
    key.reason = '';
    key.until = 0;
  }

  /** Cooling never shortens: a later `until` already set wins (ZADD GT). */
  private toCooling(p: MemPool, key: MemKey, untilMs: number, reason: string): number {
    p.ring.remove(key.id);
    const current = p.cooling.score(key.id);
    if (current === undefined || untilMs > current) p.cooling.add(key.id, untilMs);
    const effective = p.cooling.score(key.id)!;
    key.state = 'cooling';
    key.reason = reason;
    key.until = effective;
    return effective;
  }

  private toParked(p: MemPool, key: MemKey, state: KeyState, reason: string, now: number): void {
    p.ring.remove(key.id);
    p.cooling.remove(key.id);
    p.parked.add(key.id, now);
    key.state = state;
    key.reason = reason;
    key.until = 0;
    key.parkedAt = now;
  }

  /** leases.lua's reserve: the lease, one request and `tokens` of the learned budgets and declared windows. */
  private reserve(p: MemPool, key: MemKey, token: string, tokens: number, leaseExpiry: number, now: number): number {
    const rpm = this.rpmOf(key);
    if (rpm !== undefined) {
      key.log.unshift(now);
      key.log.length = Math.min(key.log.length, rpm);
    }
    if (key.tpm !== undefined && key.tpm > 0 && tokens > 0) {
      key.tlog.unshift([now, tokens]);
      key.tlogSum += tokens;
    }
    let remaining = -1;
    if (key.remReq !== undefined) remaining = key.remReq -= 1;
    if (tokens > 0 && key.remTok !== undefined) key.remTok -= tokens;
    key.acquired += 1;
    key.inflightTok += tokens;
    p.leases.add(`${key.id}|${token}`, leaseExpiry);
    key.inflight.set(token, tokens);
    return remaining;
  }

  /** leases.lua's tokenWindowFreeAt: undefined when `tokens` more fit under `tpm`, else when they will and what is left now. */
  private tokenWindowFreeAt(key: MemKey, tpm: number, tokens: number, windowMs: number, now: number): { freeAt: number; left: number } | undefined {
    while (key.tlog.length > 0 && key.tlog[key.tlog.length - 1]![0] + windowMs <= now) {
      key.tlogSum -= key.tlog.pop()![1];
    }
    let sum = key.tlogSum;
    if (sum + tokens <= tpm) return undefined;
    const left = tpm - sum;
    for (let i = key.tlog.length - 1; i >= 0; i--) {
      const [at, spent] = key.tlog[i]!;
      sum -= spent;
      if (sum + tokens <= tpm) return { freeAt: at + windowMs, left };
    }
    return { freeAt: now + windowMs, left };
  }

  private releaseLease(p: MemPool, member: string): boolean {
    if (!p.leases.remove(member)) return false;
    const bar = member.indexOf('|');
    const key = p.keys.get(member.slice(0, bar));
    const token = member.slice(bar + 1);
    const reserved = key?.inflight.get(token);
    if (key && reserved !== undefined) {
      key.inflight.delete(token);
      key.inflightTok -= reserved;
    }
    return true;
  }

  /** transitions.lua's clientMayTakeOut: logs the take-out when the client's limit allows it. */
  private clientMayTakeOut(p: MemPool, client: string | undefined, now: number): boolean {
    const limit = this.policy.clientKeysOutPerMinute;
    if (client === undefined || limit <= 0) return true;
    const recent = (p.clientKeysOut.get(client) ?? []).filter((t) => t > now - CLIENT_WINDOW_MS);
    p.clientKeysOut.set(client, recent);
    if (recent.length >= limit) return false;
    recent.push(now);
    return true;
  }

  private reapLeases(p: MemPool, now: number): void {
    for (const member of p.leases.upTo(now, LEASE_REAP_BATCH)) this.releaseLease(p, member);
  }
}

function checkShare(share: number): number {
  if (!(share > 0 && share <= 1)) throw new Error(`share must be in (0, 1], got ${share}`);
  return share;
}
