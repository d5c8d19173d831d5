import crypto from 'node:crypto';
import type { Outcome } from '@rotor/core';
import { StoreError, StoreErrorCode } from './errors';
import { forgetBudgets, newBucket, newKey, toBucketSnapshot, toSnapshot, type MemBucket, type MemKey } from './memory/key-record';
import { SortedSet } from './memory/sorted-set';
import { accountName, groupName, maxGroupsOf, trackedGroups } from './redis-key-store';
import {
  DEFAULT_POLICY,
  OTHER_GROUP,
  type AcquireOptions,
  type AcquireResult,
  type BucketSnapshot,
  type KeyAction,
  type KeySpec,
  type KeyState,
  type KeyStore,
  type LearnedBucket,
  type Lease,
  type PoolSnapshot,
  type ReportResult,
  type RotationState,
  type StorePolicy,
  type SyncOptions,
  type SyncResult,
} from './types';

export interface MemoryStoreOptions extends Partial<StorePolicy> {
  /**
   * This process's share of every bucket's budget, in (0, 1]. 1 when it is the only user of the keys
   * (`redis.url: memory://`). A replica serving from its fallback while Redis is down uses
   * 1 / `redis.fallback.replicas`, so N replicas together stay within a declared rpm and within what
   * the provider's headers say is left, instead of each spending all of it.
   */
  share?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

/** One pool: the Redis keys of keys.ts as maps and sorted sets. */
interface MemPool {
  keys: Map<string, MemKey>;
  /** group -> virtual clock while its ring is empty (the `groups` HASH). */
  groups: Map<string, number>;
  rings: Map<string, SortedSet>;
  coolings: Map<string, SortedSet>;
  parked: SortedSet;
  /** "<keyId>|<token>|<account>|<group>" -> expiry ms. */
  leases: SortedSet;
  maxGroups: number;
  /** Named account -> its key ids (the `account:<account>` SETs). */
  accounts: Map<string, Set<string>>;
  /** "<account>|<group>" -> bucket (the `bucket:…` HASHes with their lists). */
  buckets: Map<string, MemBucket>;
  /** The `buckets` SET: buckets used, for status. */
  bucketNames: Set<string>;
  /** group -> lease tokens in flight on keys whose account is not known yet (the `cold:<group>` SETs). */
  cold: Map<string, Set<string>>;
  /** client id -> ms epochs of the keys its requests took out of rotation (report-2.lua's KEYS[2]). */
  clientKeysOut: Map<string, number[]>;
}

/** What an answer's rate-limit headers say (learn-budget.lua's `h`). */
interface Headers {
  limReq?: number;
  remReq?: number;
  resetReq?: number;
  limTok?: number;
  remTok?: number;
  resetTok?: number;
}

const processTag = crypto.randomBytes(4).toString('hex');
let leaseCounter = 0;
const nextToken = () => `m${processTag}${(leaseCounter++).toString(36)}`;
const LEASE_REAP_BATCH = 16;
/** reserve.lua's NEARLY_SPENT: a token budget with less than this share of its limit left is spent. */
const NEARLY_SPENT = 0.05;
const nearlySpent = (left: number, limit: number | undefined) => left <= 0 || (limit !== undefined && left < limit * NEARLY_SPENT);
const CLIENT_WINDOW_MS = 60_000;
/** learn-budget.lua's windowOver: an answer whose reset has passed speaks of a window that is over. */
const windowOver = (resetMs: number | undefined) => resetMs !== undefined && resetMs <= 0;
/** names.lua's accountOf: a key with no account is its own. */
const accountOf = (key: MemKey) => key.account ?? `~${key.id}`;
const bucketName = (account: string, group: string) => `${account}|${group}`;

/**
 * The key store in this process's memory: the same contract as RedisKeyStore, and the same rules as
 * the Lua scripts, transition for transition: each private method below is the Lua function of the
 * same name in lua/includes (returnKey, returnBucket, coolBucket, parkKey, releaseLease, reserve,
 * spentUntil, learnBudget, moveAccount, applyOutcome …). One conformance suite and a seeded
 * differential run check both. Two uses:
 * - the proxy's fail-open fallback while Redis is unreachable (per replica, with `share` < 1);
 * - a single replica with no Redis at all (`redis.url: memory://`), which does not scale out.
 * Everything is synchronous inside each call, so calls are atomic like scripts are.
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
    const group = this.ensureGroup(p, groupName(options.group));
    const ring = p.rings.get(group)!;
    const cooling = p.coolings.get(group)!;
    for (const account of cooling.upTo(now, this.policy.returnBatch)) this.returnBucket(p, account, group);
    this.reapLeases(p, now);

    const tokens = options.tokens ?? 0;
    const excluded = new Set(options.exclude ?? []);
    let awaitingFirstAnswer = false;
    let fitsAt: number | undefined;
    // Requests in flight on keys of still unknown account: a named account's budget leaves room for them.
    const coldInFlight = p.cold.get(group)?.size ?? 0;
    for (let guard = 0, gatedSkips = 0, misfits = 0; guard < 1000 && gatedSkips < 16 && misfits < 16; guard++) {
      const head = ring.lowest(excluded.size + 1).find((e) => !excluded.has(e.member));
      if (!head) break;
      const key = p.keys.get(head.member)!;
      const account = accountOf(key);
      const declared = key.groups.get(group);
      const rpm = this.shareOf(declared?.rpm ?? key.rpm);
      const tpm = this.shareOf(declared?.tpm ?? key.tpm);
      const windowMs = key.windowMs ?? 60_000;
      const unseen = account.startsWith('~') ? 0 : coldInFlight;
      const blocked = this.spentUntil(p, account, group, tokens, rpm, tpm, windowMs, now, options.firstAnswerGate === true, unseen);
      if (blocked?.why === 'first_answer') {
        excluded.add(key.id);
        awaitingFirstAnswer = true;
        gatedSkips++;
      } else if (blocked?.why === 'does_not_fit') {
        excluded.add(key.id);
        misfits++;
        if (fitsAt === undefined || blocked.until < fitsAt) fitsAt = blocked.until;
      } else if (blocked) {
        this.coolBucket(p, account, group, blocked.until, blocked.why);
      } else {
        ring.add(key.id, head.score + 1 / (key.weight > 0 ? key.weight : 1));
        p.groups.set(group, head.score);
        const token = nextToken();
        const fresh = p.buckets.get(bucketName(account, group))?.lastAt === undefined;
        const remaining = this.reserve(p, key, account, group, token, tokens, now + this.policy.leaseTtlMs, now, rpm, tpm, windowMs, fresh);
        const lease: Lease = { pool, keyId: key.id, token, account, group };
        if (options.client !== undefined) lease.client = options.client;
        return { ok: true, lease, ...(remaining >= 0 ? { remainingRequests: remaining } : {}) };
      }
    }
    // The soonest of: a cooling bucket's return, a cold bucket's first answer, a skipped key fitting.
    const candidates: number[] = [];
    const earliest = cooling.lowest(1)[0];
    if (earliest) candidates.push(earliest.score - now);
    if (awaitingFirstAnswer) candidates.push(this.policy.settleMs);
    if (fitsAt !== undefined) candidates.push(fitsAt - now);
    if (candidates.length > 0) return { ok: false, waitMs: Math.max(1, Math.min(...candidates)) };
    return { ok: false };
  }

  async report(lease: Lease, outcome: Outcome, learnedAccount?: string): Promise<ReportResult | undefined> {
    const p = this.pools.get(lease.pool);
    const now = this.now();
    // One draw per report, used or not, as RedisKeyStore passes one to every report script call.
    const draw = this.policy.random();
    if (p && lease.token) this.releaseLease(p, `${lease.keyId}|${lease.token}|${lease.account}|${lease.group}`);
    const key = p?.keys.get(lease.keyId);
    if (!p || !key) return undefined;
    key.lastClass = outcome.kind;
    key.lastStatus = outcome.status;
    key.lastAt = now;
    key.lastError = outcome.errorCode ?? '';

    const named = accountName(learnedAccount);
    if (named !== '' && key.accountDecl === undefined) this.moveAccount(p, key, named);
    const account = accountOf(key);
    const { group } = lease;
    const before = this.rotationState(p, key, account, group).state;
    const rl = outcome.rateLimit;
    const h: Headers = {
      limReq: rl.limitRequests,
      remReq: rl.remainingRequests,
      resetReq: rl.resetRequestsMs,
      limTok: rl.limitTokens,
      remTok: rl.remainingTokens,
      resetTok: rl.resetTokensMs,
    };
    const raised = this.learnBudget(p, account, group, h, now);
    const bucket = this.bucket(p, account, group);
    bucket.lastAt = now;
    p.bucketNames.add(bucketName(account, group));
    if (raised && p.coolings.get(group)?.has(account) && (bucket.reason === 'budget' || bucket.reason === 'budget_settling')) {
      this.returnBucket(p, account, group);
    }
    const { refused, cooledFor } = this.applyOutcome(p, key, account, group, outcome, h, draw, lease.client, now);
    const after = this.rotationState(p, key, account, group);
    return {
      state: after.state,
      untilMs: after.until,
      changed: after.state !== before,
      reason: after.reason,
      refused,
      cooledFor,
      account,
    };
  }

  async release(lease: Lease): Promise<boolean> {
    const p = this.pools.get(lease.pool);
    if (!p || !lease.token) return false;
    return this.releaseLease(p, `${lease.keyId}|${lease.token}|${lease.account}|${lease.group}`);
  }

  async sync(pool: string, specs: readonly KeySpec[], options: SyncOptions = {}): Promise<SyncResult> {
    let p = this.pools.get(pool);
    if (!p) {
      p = {
        keys: new Map(),
        groups: new Map(),
        rings: new Map(),
        coolings: new Map(),
        parked: new SortedSet(),
        leases: new SortedSet(),
        maxGroups: 0,
        accounts: new Map(),
        buckets: new Map(),
        bucketNames: new Set(),
        cold: new Map(),
        clientKeysOut: new Map(),
      };
      this.pools.set(pool, p);
    }
    p.maxGroups = maxGroupsOf(options);
    for (const group of trackedGroups(options)) if (!p.groups.has(group)) this.addGroup(p, group);
    let added = 0;
    for (const spec of specs) {
      const existing = p.keys.get(spec.id);
      const key = existing ?? newKey(spec.id);
      key.weight = spec.weight ?? 1;
      key.label = spec.label ?? '';
      key.rpm = spec.rpm;
      key.tpm = spec.tpm;
      key.windowMs = spec.windowMs;
      key.groups = new Map(Object.entries(spec.groups ?? {}).map(([g, limits]) => [groupName(g), limits]));
      // As sync-keys-1.lua: a declared account wins; dropping the declaration forgets the account.
      const declared = accountName(spec.account);
      if (declared !== '') {
        key.accountDecl = declared;
        this.moveAccount(p, key, declared);
      } else if (key.accountDecl !== undefined) {
        key.accountDecl = undefined;
        this.moveAccount(p, key, '');
      }
      if (!existing) {
        p.keys.set(spec.id, key);
        this.returnKey(p, key);
        added += 1;
      }
    }
    const wanted = new Set(specs.map((s) => s.id));
    let removed = 0;
    for (const key of [...p.keys.values()]) {
      if (wanted.has(key.id)) continue;
      // As remove-keys-1.lua: out of the pool first, so moving its account touches no ring.
      p.keys.delete(key.id);
      this.moveAccount(p, key, '');
      this.forgetAccount(p, `~${key.id}`);
      for (const ring of p.rings.values()) ring.remove(key.id);
      p.parked.remove(key.id);
      removed += 1;
    }
    return { added, removed, total: wanted.size };
  }

  async snapshot(pool: string): Promise<PoolSnapshot> {
    const p = this.pools.get(pool);
    const now = this.now();
    if (!p) return { pool, now, keys: [], buckets: [], groups: [] };
    const keys = [...p.keys.values()].sort((a, b) => compare(a.id, b.id)).map(toSnapshot);
    const buckets: BucketSnapshot[] = [];
    const named = [...p.bucketNames].map((name) => {
      const bar = name.lastIndexOf('|');
      return { name, account: name.slice(0, bar), group: name.slice(bar + 1) };
    });
    named.sort((a, b) => compare(a.group, b.group) || compare(a.account, b.account));
    for (const { name, account, group } of named) {
      const bucket = p.buckets.get(name);
      if (!bucket) continue;
      const score = p.coolings.get(group)?.score(account);
      buckets.push(toBucketSnapshot(account, group, bucket, score !== undefined && score > now ? score : undefined));
    }
    return { pool, now, keys, buckets, groups: [...p.groups.keys()].sort() };
  }

  async setState(pool: string, keyId: string, action: KeyAction, reason = ''): Promise<{ state: KeyState; changed: boolean }> {
    const p = this.pools.get(pool);
    const key = p?.keys.get(keyId);
    if (!p || !key) throw new StoreError(StoreErrorCode.UnknownKey, pool, keyId);
    const state = key.state;
    const now = this.now();
    const byOperator = state === 'disabled' && key.reason === 'operator';
    let changed = false;
    const activate = () => {
      p.parked.remove(keyId);
      this.returnKey(p, key);
      key.fails = 0;
      changed = true;
    };
    // As set-state-1.lua: every cooling bucket of the key's account returns and forgets its budget.
    const clearBuckets = () => {
      const account = accountOf(key);
      for (const group of p.groups.keys()) {
        if (!p.coolings.get(group)?.has(account)) continue;
        this.returnBucket(p, account, group);
        const bucket = this.bucket(p, account, group);
        forgetBudgets(bucket);
        bucket.rlStreak = 0;
        changed = true;
      }
    };
    if (action === 'disable') {
      if (state !== 'disabled') changed = true;
      this.parkKey(p, key, 'disabled', 'operator', now);
    } else if (action === 'enable') {
      if (state !== 'active') activate();
      clearBuckets();
    } else if (action === 'clear') {
      if (state === 'active') clearBuckets();
    } else {
      if (byOperator) throw new StoreError(StoreErrorCode.OperatorDisabled, pool, keyId);
      if (action === 'reinstate') {
        if (state === 'suspended' || state === 'disabled') activate();
      } else if (action === 'suspend') {
        if (state === 'suspended') key.reason = reason;
      } else if (action === 'invalidate') {
        if (state !== 'disabled') changed = true;
        this.parkKey(p, key, 'disabled', reason, now);
      } else {
        throw new Error(`unknown action ${String(action)}`);
      }
    }
    return { state: key.state, changed };
  }

  /**
   * Takes over what the shared store knew when it was last read (the fallback starts from it rather
   * than from "every key active"): parked keys stay parked, accounts stay as learned, cooling buckets
   * cool until the same moment, and the provider's last word on each bucket's budget. Times in
   * `snapshot` are on its own clock (`snapshot.now`, Redis's); `readAt` is this clock's time of the read.
   */
  adopt(snapshot: PoolSnapshot, readAt: number = this.now()): void {
    const p = this.pools.get(snapshot.pool);
    if (!p) return;
    const shift = readAt - snapshot.now;
    const now = this.now();
    for (const group of snapshot.groups) if (!p.groups.has(group)) this.addGroup(p, group);
    for (const known of snapshot.keys) {
      const key = p.keys.get(known.id);
      if (!key) continue;
      if (known.account !== undefined && key.accountDecl === undefined) this.moveAccount(p, key, known.account);
      if (known.state === 'suspended' || known.state === 'disabled') {
        this.parkKey(p, key, known.state, known.reason ?? '', known.parkedAt !== undefined ? known.parkedAt + shift : now);
      } else if (key.state !== 'active') {
        p.parked.remove(key.id);
        this.returnKey(p, key);
      }
    }
    for (const known of snapshot.buckets) {
      if (!p.groups.has(known.group)) continue;
      const bucket = this.bucket(p, known.account, known.group);
      if (known.state === 'cooling' && known.until !== undefined && known.until + shift > now) {
        this.coolBucket(p, known.account, known.group, known.until + shift, known.reason ?? 'rate_limited');
      }
      if (known.remainingRequests !== undefined && known.resetRequestsAt !== undefined && known.resetRequestsAt + shift > now) {
        bucket.remReq = Math.floor(known.remainingRequests * this.share);
        bucket.seenReq = known.remainingRequests;
        bucket.remSlack = 0;
        bucket.resetReqAt = known.resetRequestsAt + shift;
      }
      if (known.limitRequests !== undefined) bucket.limReq = known.limitRequests;
      // Answered on some replica: not cold here either (the first-answer gate).
      if (known.lastAt !== undefined) bucket.lastAt ??= known.lastAt + shift;
      p.bucketNames.add(bucketName(known.account, known.group));
    }
  }

  /**
   * What this store knows that the shared state may not: per bucket, the provider's last word on its
   * budget (minus our requests in flight), a running cooldown, recent hand-outs under a declared rpm.
   * Relative times, for RedisKeyStore.mergeLearned when Redis is back.
   */
  learned(pool: string): LearnedBucket[] {
    const p = this.pools.get(pool);
    if (!p) return [];
    const now = this.now();
    const out: LearnedBucket[] = [];
    for (const [name, bucket] of p.buckets) {
      const bar = name.lastIndexOf('|');
      const entry: LearnedBucket = { account: name.slice(0, bar), group: name.slice(bar + 1) };
      if (bucket.seenReq !== undefined && bucket.resetReqAt !== undefined && bucket.resetReqAt > now) {
        entry.seen = bucket.seenReq;
        entry.remaining = Math.max(0, bucket.seenReq - bucket.inflight.size);
        entry.resetInMs = bucket.resetReqAt - now;
      }
      const until = p.coolings.get(entry.group)?.score(entry.account);
      if (until !== undefined && until > now) {
        entry.coolMs = until - now;
        entry.reason = bucket.reason ?? 'rate_limited';
      }
      const windowMs = bucket.windowMs ?? 60_000;
      const recent = bucket.log.filter((t) => t + windowMs > now).map((t) => now - t);
      if (recent.length > 0 && bucket.rpm !== undefined) Object.assign(entry, { handedOutAgoMs: recent, rpm: bucket.rpm, windowMs });
      if (Object.keys(entry).length === 2) continue;
      const learnedKeys = [...(p.accounts.get(entry.account) ?? [])].filter((id) => p.keys.get(id)?.accountDecl === undefined);
      if (learnedKeys.length > 0) entry.keys = learnedKeys;
      out.push(entry);
    }
    return out;
  }

  // ---- names.lua -------------------------------------------------------------------------------

  /** A bucket, created on first write (a Redis HASH exists once a field is set). */
  private bucket(p: MemPool, account: string, group: string): MemBucket {
    const name = bucketName(account, group);
    let bucket = p.buckets.get(name);
    if (!bucket) {
      bucket = newBucket();
      p.buckets.set(name, bucket);
    }
    return bucket;
  }

  private keysOf(p: MemPool, account: string): string[] {
    if (account.startsWith('~')) return [account.slice(1)];
    return [...(p.accounts.get(account) ?? [])];
  }

  /** A declared rpm / tpm, scaled to this process's share. */
  private shareOf(limit: number | undefined): number | undefined {
    if (limit === undefined || limit <= 0) return undefined;
    return Math.max(1, Math.floor(limit * this.share));
  }

  // ---- return-to-rotation.lua --------------------------------------------------------------------

  private currentVt(p: MemPool, group: string): number {
    return p.rings.get(group)!.lowest(1)[0]?.score ?? p.groups.get(group) ?? 0;
  }

  private joinRings(p: MemPool, key: MemKey): void {
    const account = accountOf(key);
    for (const group of p.groups.keys()) {
      if (!p.coolings.get(group)!.has(account)) p.rings.get(group)!.add(key.id, this.currentVt(p, group));
    }
  }

  private returnKey(p: MemPool, key: MemKey): void {
    key.state = 'active';
    key.reason = '';
    this.joinRings(p, key);
  }

  private returnBucket(p: MemPool, account: string, group: string): void {
    p.coolings.get(group)?.remove(account);
    const bucket = p.buckets.get(bucketName(account, group));
    if (bucket) {
      bucket.until = 0;
      bucket.reason = '';
    }
    const ring = p.rings.get(group);
    if (!ring) return;
    const vt = this.currentVt(p, group);
    for (const id of this.keysOf(p, account)) if (p.keys.get(id)?.state === 'active') ring.add(id, vt);
  }

  private addGroup(p: MemPool, group: string): void {
    p.groups.set(group, 0);
    const ring = new SortedSet();
    p.rings.set(group, ring);
    p.coolings.set(group, p.coolings.get(group) ?? new SortedSet());
    for (const key of p.keys.values()) if (key.state === 'active') ring.add(key.id, 0);
  }

  private ensureGroup(p: MemPool, group: string): string {
    if (p.groups.has(group)) return group;
    if (p.groups.size >= p.maxGroups && group !== OTHER_GROUP) {
      group = OTHER_GROUP;
      if (p.groups.has(group)) return group;
    }
    this.addGroup(p, group);
    return group;
  }

  // ---- cool.lua ----------------------------------------------------------------------------------

  private coolBucket(p: MemPool, account: string, group: string, untilMs: number, reason: string): number {
    let cooling = p.coolings.get(group);
    if (!cooling) p.coolings.set(group, (cooling = new SortedSet()));
    const current = cooling.score(account);
    if (current === undefined || untilMs > current) cooling.add(account, untilMs);
    const effective = cooling.score(account)!;
    const ring = p.rings.get(group);
    for (const id of this.keysOf(p, account)) ring?.remove(id);
    const bucket = this.bucket(p, account, group);
    bucket.until = effective;
    bucket.reason = reason;
    return effective;
  }

  // ---- park.lua ----------------------------------------------------------------------------------

  private parkKey(p: MemPool, key: MemKey, state: KeyState, reason: string, now: number): void {
    for (const ring of p.rings.values()) ring.remove(key.id);
    p.parked.add(key.id, now);
    key.state = state;
    key.reason = reason;
    key.parkedAt = now;
  }

  private clientMayTakeOut(p: MemPool, client: string | undefined, now: number): boolean {
    const limit = this.policy.clientKeysOutPerMinute;
    if (client === undefined || limit <= 0) return true;
    const recent = (p.clientKeysOut.get(client) ?? []).filter((t) => t > now - CLIENT_WINDOW_MS);
    p.clientKeysOut.set(client, recent);
    if (recent.length >= limit) return false;
    recent.push(now);
    return true;
  }

  // ---- release.lua -------------------------------------------------------------------------------

  private releaseLease(p: MemPool, member: string): boolean {
    if (!p.leases.remove(member)) return false;
    const [id, token, account, group] = member.split('|') as [string, string, string, string];
    p.cold.get(group)?.delete(token);
    const bucket = p.buckets.get(bucketName(account, group));
    const reserved = bucket?.inflight.get(token);
    if (bucket && reserved !== undefined && bucket.inflight.delete(token) && reserved > 0) {
      bucket.inflightTok = (bucket.inflightTok ?? 0) - reserved;
    }
    const key = p.keys.get(id);
    if (key && key.inflight > 0) key.inflight -= 1;
    return true;
  }

  private reapLeases(p: MemPool, now: number): void {
    for (const member of p.leases.upTo(now, LEASE_REAP_BATCH)) this.releaseLease(p, member);
  }

  // ---- reserve.lua -------------------------------------------------------------------------------

  private tokenWindowFreeAt(bucket: MemBucket, tpm: number, tokens: number, windowMs: number, now: number): { freeAt: number; left: number } | undefined {
    if (bucket.tlog.length === 0) {
      bucket.tlogSum = 0;
      return undefined;
    }
    let sum = bucket.tlogSum ?? 0;
    while (bucket.tlog.length > 0 && bucket.tlog[bucket.tlog.length - 1]![0] + windowMs <= now) sum -= bucket.tlog.pop()![1];
    bucket.tlogSum = sum;
    if (sum + tokens <= tpm) return undefined;
    const left = tpm - sum;
    for (let i = bucket.tlog.length - 1; i >= 0; i--) {
      const [at, spent] = bucket.tlog[i]!;
      sum -= spent;
      if (sum + tokens <= tpm) return { freeAt: at + windowMs, left };
    }
    return { freeAt: now + windowMs, left };
  }

  private spentUntil(
    p: MemPool,
    account: string,
    group: string,
    tokens: number,
    rpm: number | undefined,
    tpm: number | undefined,
    windowMs: number,
    now: number,
    gate: boolean,
    unseen: number,
  ): { until: number; why: string } | undefined {
    const b = p.buckets.get(bucketName(account, group));
    const inflight = b?.inflight.size ?? 0;
    if (gate && b?.lastAt === undefined && inflight > 0) return { until: 0, why: 'first_answer' };
    const settle = { until: now + this.policy.settleMs, why: 'budget_settling' };
    if (b) {
      if (b.remReq !== undefined && b.resetReqAt !== undefined && b.resetReqAt <= now) {
        b.resetReqAt = undefined;
        if (b.limReq !== undefined) {
          b.remReq = Math.floor(b.limReq * this.share);
          b.seenReq = b.limReq;
          b.remSlack = 0;
        } else b.remReq = b.seenReq = b.remSlack = undefined;
      }
      if (b.remReq !== undefined && b.remReq <= 0 && b.resetReqAt === undefined) {
        if (inflight > 0) return settle;
        b.remReq = b.seenReq = b.remSlack = undefined;
      }
      if (b.remReq !== undefined && b.remReq <= 0 && b.resetReqAt !== undefined) {
        if ((b.remSlack ?? 0) > 0 && inflight > 0 && now + this.policy.settleMs < b.resetReqAt) return settle;
        return { until: b.resetReqAt, why: 'budget' };
      }
      if (b.remReq !== undefined && unseen > 0 && b.remReq <= unseen) return settle;
      if (b.remTok !== undefined && b.resetTokAt !== undefined && b.resetTokAt <= now) {
        b.resetTokAt = undefined;
        b.remTok = b.limTok !== undefined ? Math.floor(b.limTok * this.share) : undefined;
      }
      const fits = b.limTok === undefined || tokens <= b.limTok;
      if (b.remTok !== undefined && b.resetTokAt !== undefined && fits && b.remTok < Math.max(tokens, 1)) {
        return { until: b.resetTokAt, why: nearlySpent(b.remTok, b.limTok) ? 'budget_tokens' : 'does_not_fit' };
      }
    }
    if (tpm !== undefined && tokens > 0 && tokens <= tpm) {
      const window = this.tokenWindowFreeAt(this.bucket(p, account, group), tpm, tokens, windowMs, now);
      if (window !== undefined) return { until: window.freeAt, why: nearlySpent(window.left, tpm) ? 'tpm' : 'does_not_fit' };
    }
    if (rpm !== undefined && b && b.log.length >= rpm) {
      const oldest = b.log[b.log.length - 1]!;
      if (oldest + windowMs > now) return { until: oldest + windowMs, why: 'rpm' };
    }
    return undefined;
  }

  private reserve(
    p: MemPool,
    key: MemKey,
    account: string,
    group: string,
    token: string,
    tokens: number,
    leaseExpiry: number,
    now: number,
    rpm: number | undefined,
    tpm: number | undefined,
    windowMs: number,
    fresh: boolean,
  ): number {
    if (fresh) {
      p.bucketNames.add(bucketName(account, group));
      if (account.startsWith('~')) {
        let cold = p.cold.get(group);
        if (!cold) p.cold.set(group, (cold = new Set()));
        cold.add(token);
      }
    }
    const b = this.bucket(p, account, group);
    if (rpm !== undefined) {
      b.log.unshift(now);
      b.log.length = Math.min(b.log.length, rpm);
      b.rpm = rpm;
      b.windowMs = windowMs;
    }
    if (tpm !== undefined && tokens > 0) {
      b.tlog.unshift([now, tokens]);
      b.tlogSum = (b.tlogSum ?? 0) + tokens;
    }
    let remaining = -1;
    if (b.remReq !== undefined) remaining = b.remReq -= 1;
    if (tokens > 0 && b.remTok !== undefined) b.remTok -= tokens;
    b.inflightTok = (b.inflightTok ?? 0) + tokens;
    b.inflight.set(token, tokens);
    key.acquired += 1;
    key.inflight += 1;
    p.leases.add(`${key.id}|${token}|${account}|${group}`, leaseExpiry);
    return remaining;
  }

  // ---- learn-budget.lua --------------------------------------------------------------------------

  private learnBudget(p: MemPool, account: string, group: string, h: Headers, now: number): boolean {
    let raised = false;
    if (h.remReq !== undefined && !windowOver(h.resetReq)) {
      const b = this.bucket(p, account, group);
      const windowRunning = b.seenReq !== undefined && b.resetReqAt !== undefined && b.resetReqAt > now;
      const fresh = !windowRunning || h.remReq <= b.seenReq!;
      const base = fresh ? h.remReq : b.seenReq!;
      // Our share of what the provider says is left, minus our requests still in flight.
      const mine = Math.floor(base * this.share);
      const left = Math.max(0, mine - b.inflight.size);
      raised = left > 0 && (b.remReq === undefined || b.remReq <= 0);
      b.remReq = left;
      b.seenReq = base;
      b.remSlack = mine - left;
      if (fresh && h.resetReq !== undefined) b.resetReqAt = now + h.resetReq;
    }
    if (h.limReq !== undefined) this.bucket(p, account, group).limReq = h.limReq;
    if (h.remTok !== undefined && !windowOver(h.resetTok)) {
      const b = this.bucket(p, account, group);
      const windowRunning = b.seenTok !== undefined && b.resetTokAt !== undefined && b.resetTokAt > now;
      const fresh = !windowRunning || h.remTok <= b.seenTok!;
      const base = fresh ? h.remTok : b.seenTok!;
      b.remTok = Math.max(0, Math.floor(base * this.share) - (b.inflightTok ?? 0));
      b.seenTok = base;
      if (fresh && h.resetTok !== undefined) b.resetTokAt = now + h.resetTok;
    }
    if (h.limTok !== undefined) this.bucket(p, account, group).limTok = h.limTok;
    return raised;
  }

  // ---- learn-account.lua -------------------------------------------------------------------------

  private forgetAccount(p: MemPool, account: string): void {
    for (const group of p.groups.keys()) {
      p.buckets.delete(bucketName(account, group));
      p.coolings.get(group)?.remove(account);
      p.bucketNames.delete(bucketName(account, group));
    }
  }

  private carryWindows(p: MemPool, from: string, to: string): void {
    for (const group of p.groups.keys()) {
      const src = p.buckets.get(bucketName(from, group));
      if (!src || (src.log.length === 0 && src.tlog.length === 0)) continue;
      const dst = this.bucket(p, to, group);
      if (src.log.length > 0) {
        dst.log = [...dst.log, ...src.log].sort((a, b) => b - a);
        dst.rpm ??= src.rpm;
        dst.windowMs ??= src.windowMs;
      }
      if (src.tlog.length > 0) {
        dst.tlog = [...dst.tlog, ...src.tlog].sort((a, b) => b[0] - a[0]);
        dst.tlogSum = dst.tlog.reduce((sum, [, tokens]) => sum + tokens, 0);
      }
    }
  }

  /** `named` '' : the key's own account. A key not (or no longer) in p.keys is not active anywhere. */
  private moveAccount(p: MemPool, key: MemKey, named: string): boolean {
    const oldNamed = key.account ?? '';
    if (oldNamed === named) return false;
    const old = accountOf(key);
    if (oldNamed !== '') p.accounts.get(oldNamed)?.delete(key.id);
    if (named !== '') {
      let members = p.accounts.get(named);
      if (!members) p.accounts.set(named, (members = new Set()));
      members.add(key.id);
      key.account = named;
    } else key.account = undefined;
    const account = accountOf(key);
    const active = p.keys.get(key.id) === key && key.state === 'active';
    for (const group of p.groups.keys()) {
      const ring = p.rings.get(group)!;
      if (active && !p.coolings.get(group)!.has(account)) {
        if (!ring.has(key.id)) ring.add(key.id, this.currentVt(p, group));
      } else ring.remove(key.id);
    }
    if (oldNamed === '' || (p.accounts.get(oldNamed)?.size ?? 0) === 0) {
      if (oldNamed !== '') p.accounts.delete(oldNamed);
      this.carryWindows(p, old, account);
      this.forgetAccount(p, old);
    }
    return true;
  }

  // ---- apply-outcome.lua -------------------------------------------------------------------------

  private rotationState(p: MemPool, key: MemKey, account: string, group: string): { state: RotationState; until: number; reason: string } {
    if (key.state === 'active') {
      const until = p.coolings.get(group)?.score(account);
      if (until !== undefined) return { state: 'cooling', until, reason: p.buckets.get(bucketName(account, group))?.reason ?? '' };
      return { state: 'active', until: 0, reason: '' };
    }
    return { state: key.state, until: 0, reason: key.reason };
  }

  private applyOutcome(
    p: MemPool,
    key: MemKey,
    account: string,
    group: string,
    outcome: Outcome,
    h: Headers,
    draw: number,
    client: string | undefined,
    now: number,
  ): { refused: boolean; cooledFor: number } {
    const active = key.state === 'active';
    let refused = false;
    let cooledFor = 0;
    const park = (ids: string[], state: KeyState, reason: string) => {
      if (!this.clientMayTakeOut(p, client, now)) {
        refused = true;
        return;
      }
      for (const id of ids) {
        const other = p.keys.get(id);
        if (other?.state === 'active') this.parkKey(p, other, state, reason, now);
      }
    };
    const cool = (ms: number, reason: string) => {
      cooledFor = ms;
      this.coolBucket(p, account, group, now + ms, reason);
    };
    switch (outcome.kind) {
      case 'success': {
        key.ok += 1;
        key.fails = 0;
        this.bucket(p, account, group).rlStreak = 0;
        if (!active) break;
        // A spent budget cools the bucket BEFORE it earns a 429.
        let spentAt: number | undefined;
        if (h.remReq !== undefined && h.remReq <= 0 && h.resetReq !== undefined) spentAt = now + h.resetReq;
        if (h.remTok !== undefined && h.remTok <= 0 && h.resetTok !== undefined && (spentAt === undefined || now + h.resetTok > spentAt)) {
          spentAt = now + h.resetTok;
        }
        if (spentAt !== undefined && spentAt > now) cool(spentAt - now, 'budget');
        break;
      }
      case 'rate_limited': {
        key.rateLimited += 1;
        if (!active) break;
        let wait = outcome.rateLimit.retryAfterMs;
        let reason = 'rate_limited';
        if (wait === undefined) {
          if (h.remReq !== undefined && h.remReq <= 0 && h.resetReq !== undefined) wait = h.resetReq;
          if (h.remTok !== undefined && h.remTok <= 0 && h.resetTok !== undefined && (wait === undefined || h.resetTok > wait)) wait = h.resetTok;
        }
        if (wait === undefined) {
          const bucket = this.bucket(p, account, group);
          const streak = (bucket.rlStreak = (bucket.rlStreak ?? 0) + 1);
          const { baseMs, factor, maxMs, jitter } = this.policy.backoff;
          const delay = baseMs * factor ** (streak - 1);
          if (delay > maxMs) {
            wait = maxMs;
            reason = 'backoff_ceiling';
          } else wait = delay + delay * jitter * draw;
        }
        cool(Math.ceil(Math.max(1, wait)), reason);
        break;
      }
      case 'quota_exhausted':
        key.quota += 1;
        // Credit is the account's: all its keys are out until a probe finds credit again.
        if (active) park(this.keysOf(p, account), 'suspended', 'quota');
        break;
      case 'invalid_key':
        key.invalid += 1;
        if (active) park([key.id], 'suspended', 'suspect_invalid');
        break;
      case 'server_error':
      case 'timeout':
      case 'connection_error':
        key.errors += 1;
        key.fails += 1;
        if (active && key.fails >= this.policy.breakerFailures) park([key.id], 'suspended', 'circuit_open');
        break;
      default:
        break;
    }
    return { refused, cooledFor };
  }
}

function checkShare(share: number): number {
  if (!(share > 0 && share <= 1)) throw new Error(`share must be in (0, 1], got ${share}`);
  return share;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
