import crypto from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { BUCKET_NAME, type Outcome } from '@rotor/core';
import { clientKeysOut, poolKeys, replicasKey, type PoolKeys } from './keys';
import { runScript } from './scripts';
import { storeError } from './errors';
import { readSnapshot } from './snapshot';
import { WriteCoalescer } from './write-coalescer';
import { eventLoopSaturated } from './loop-saturation';
import { readKeyStatus, readParkedKeys, type KeyStatus, type ParkedKey } from './key-reads';
import {
  DEFAULT_POLICY,
  type AcquireOptions,
  type AcquireResult,
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
  DEFAULT_GROUP,
  OTHER_GROUP,
} from './types';

const SYNC_BATCH = 500;

/**
 * How many Redis round trips a call makes one after the other (a caller's deadline for it is that many
 * command timeouts). Every script call is one; sync and mergeLearned go in batches of SYNC_BATCH, and
 * sync's removals are allowed as many batches as its additions.
 */
export const roundTrips = {
  /** acquire (again after a re-sync of a vanished pool), report, release, setState, heartbeat, ping. */
  single: 1,
  /** TIME, HGETALL and the pool's sets together; then one pipeline of every key and bucket. */
  snapshot: 2,
  /** Additions (one call even for no keys), HKEYS, removals. */
  sync: (keys: number) => 2 * batches(keys) + 1,
  mergeLearned: (buckets: number) => batches(buckets),
} as const;

const batches = (items: number) => Math.max(1, Math.ceil(items / SYNC_BATCH));

/** Lease tokens: unique per process and attempt, cheaper than a UUID per request. */
const processTag = crypto.randomBytes(6).toString('hex');
let leaseCounter = 0;
const nextToken = () => `${processTag}${(leaseCounter++).toString(36)}`;

const POOL_MISSING = Symbol('pool missing');

const optional = (value: number | string | undefined) => (value === undefined ? '' : value);

/** The shared key state over Redis: every change is one atomic Lua script call. */
export class RedisKeyStore implements KeyStore {
  readonly policy: StorePolicy;
  private readonly keysByPool = new Map<string, PoolKeys>();
  /** What each pool was last synced to, so a pool that vanished from Redis can be put back. */
  private readonly syncedSpecs = new Map<string, { specs: readonly KeySpec[]; options: SyncOptions }>();
  private readonly resyncs = new Map<string, Promise<unknown>>();
  private readonly writes: WriteCoalescer;

  constructor(
    readonly redis: Redis | Cluster,
    policy: Partial<StorePolicy> = {},
  ) {
    this.policy = { ...DEFAULT_POLICY, ...policy };
    this.writes = WriteCoalescer.of(redis);
  }

  keys(pool: string): PoolKeys {
    let keys = this.keysByPool.get(pool);
    if (!keys) {
      keys = poolKeys(this.policy.prefix, pool);
      this.keysByPool.set(pool, keys);
    }
    return keys;
  }

  async acquire(pool: string, options: AcquireOptions = {}): Promise<AcquireResult> {
    const result = await this.acquireOnce(pool, options);
    if (result !== POOL_MISSING) return result;
    // The pool vanished from Redis (restarted without persistence, flushed, failed over to an empty
    // replica): put the last synced keys back (every replica does the same, idempotently) and ask again.
    const synced = this.syncedSpecs.get(pool);
    if (synced === undefined) return { ok: false };
    await this.resync(pool, synced.specs, synced.options);
    const again = await this.acquireOnce(pool, options);
    return again === POOL_MISSING ? { ok: false } : again;
  }

  /** One re-sync per pool at a time, however many requests find the pool missing at once. */
  private resync(pool: string, specs: readonly KeySpec[], options: SyncOptions): Promise<unknown> {
    let pending = this.resyncs.get(pool);
    if (!pending) {
      pending = this.sync(pool, specs, options).finally(() => this.resyncs.delete(pool));
      this.resyncs.set(pool, pending);
    }
    return pending;
  }

  private async acquireOnce(pool: string, options: AcquireOptions): Promise<AcquireResult | typeof POOL_MISSING> {
    const k = this.keys(pool);
    const token = nextToken();
    // An acquire leaves at once, so its answer can be read as soon as the loop comes round; only when
    // the loop is saturated (requests wait for it anyway) do a turn's acquires leave in one write,
    // which saves a syscall and a wake-up of Redis each (docs/benchmarks.md: +5-13 % req/s at 0 ms
    // upstream; holding them always doubled the acquire's wait at 50 ms upstream, loop not saturated).
    const batched = eventLoopSaturated();
    if (batched) this.writes.hold();
    const sent = runScript(
      this.redis,
      'acquire',
      [k.base],
      [
        token,
        this.policy.leaseTtlMs,
        (options.exclude ?? []).join(','),
        this.policy.returnBatch,
        this.policy.settleMs,
        options.firstAnswerGate ? '1' : '',
        options.tokens ?? 0,
        groupName(options.group),
      ],
    );
    if (!batched) this.writes.flush();
    const reply = (await sent) as [number, string | number, number?, string?, string?];
    if (reply[0] === 1) {
      const remaining = Number(reply[2]);
      const lease: Lease = { pool, keyId: String(reply[1]), token, account: String(reply[4]), group: String(reply[3]) };
      if (options.client !== undefined) lease.client = options.client;
      return {
        ok: true,
        lease,
        ...(remaining >= 0 ? { remainingRequests: remaining } : {}),
      };
    }
    const wait = Number(reply[1]);
    if (wait === -2) return POOL_MISSING;
    return wait >= 0 ? { ok: false, waitMs: wait } : { ok: false };
  }

  async report(lease: Lease, outcome: Outcome, account?: string): Promise<ReportResult | undefined> {
    const k = this.keys(lease.pool);
    const rl = outcome.rateLimit;
    const { backoff } = this.policy;
    // A success's report waits for the next acquire's write; any other may decide a retry: this turn.
    if (outcome.kind === 'success') this.writes.holdLazily();
    else this.writes.hold();
    const reply = (await runScript(
      this.redis,
      'report',
      [k.base, clientKeysOut(k, lease.client)],
      [
        lease.keyId,
        lease.token,
        lease.account,
        lease.group,
        outcome.kind,
        optional(outcome.status),
        optional(rl.retryAfterMs),
        optional(rl.limitRequests),
        optional(rl.remainingRequests),
        optional(rl.resetRequestsMs),
        optional(rl.limitTokens),
        optional(rl.remainingTokens),
        optional(rl.resetTokensMs),
        backoff.baseMs,
        backoff.factor,
        backoff.maxMs,
        backoff.jitter,
        this.policy.random(),
        this.policy.breakerFailures,
        optional(outcome.errorCode),
        lease.client === undefined ? 0 : this.policy.clientKeysOutPerMinute,
        accountName(account),
      ],
    )) as [string | number, number?, number?, string?, number?, number?, string?];
    // The key left the config while the request was in flight: nothing to record.
    if (reply[0] === -1) return undefined;
    return {
      state: reply[0] as RotationState,
      untilMs: Number(reply[1]),
      changed: reply[2] === 1,
      reason: String(reply[3] ?? ''),
      refused: reply[4] === 1,
      cooledFor: Number(reply[5] ?? 0),
      account: String(reply[6] ?? ''),
    };
  }

  async release(lease: Lease): Promise<boolean> {
    if (!lease.token) return false;
    const k = this.keys(lease.pool);
    this.writes.hold();
    const reply = await runScript(this.redis, 'release', [k.base], [lease.keyId, lease.token, lease.account, lease.group]);
    return reply === 1;
  }

  async sync(pool: string, specs: readonly KeySpec[], options: SyncOptions = {}): Promise<SyncResult> {
    this.syncedSpecs.set(pool, { specs, options });
    const k = this.keys(pool);
    const groups = JSON.stringify(trackedGroups(options));
    const maxGroups = maxGroupsOf(options);
    let added = 0;
    // One call even for no keys: it records the pool's groups and their bound.
    for (let i = 0; i === 0 || i < specs.length; i += SYNC_BATCH) {
      const batch = specs.slice(i, i + SYNC_BATCH).map(specForRedis);
      added += Number(await runScript(this.redis, 'syncKeys', [k.base], [JSON.stringify(batch), groups, maxGroups]));
    }
    const wanted = new Set(specs.map((s) => s.id));
    const stale = (await this.redis.hkeys(k.states)).filter((id) => !wanted.has(id));
    let removed = 0;
    for (let i = 0; i < stale.length; i += SYNC_BATCH) {
      removed += Number(
        await runScript(
          this.redis,
          'removeKeys',
          [k.base],
          stale.slice(i, i + SYNC_BATCH),
        ),
      );
    }
    return { added, removed, total: wanted.size };
  }

  /**
   * Merges what a replica learned in fallback into the shared state (stricter wins: lower budget,
   * later cooldown, more hand-outs in a declared-rpm window). Returns the buckets changed.
   */
  async mergeLearned(pool: string, learned: readonly LearnedBucket[]): Promise<number> {
    const k = this.keys(pool);
    let changed = 0;
    for (let i = 0; i < learned.length; i += SYNC_BATCH) {
      changed += Number(
        await runScript(this.redis, 'mergeLearned', [k.base], [JSON.stringify(learned.slice(i, i + SYNC_BATCH))]),
      );
    }
    return changed;
  }

  /**
   * Records this replica as alive and returns how many are (those heard from within `staleMs`): the
   * fallback's divisor for each key's budget.
   */
  async heartbeat(replicaId: string, staleMs: number): Promise<number> {
    return Number(await runScript(this.redis, 'heartbeat', [replicasKey(this.policy.prefix)], [replicaId, staleMs]));
  }

  snapshot(pool: string): Promise<PoolSnapshot> {
    return readSnapshot(this.redis, pool, this.keys(pool));
  }

  /** One key's state and reason (undefined: not in the pool). */
  keyStatus(pool: string, keyId: string): Promise<KeyStatus | undefined> {
    return readKeyStatus(this.redis, this.keys(pool), keyId);
  }

  /** The pool's keys waiting for a probe, and the Redis clock. */
  parkedKeys(pool: string): Promise<{ now: number; keys: ParkedKey[] }> {
    return readParkedKeys(this.redis, this.keys(pool));
  }

  async setState(
    pool: string,
    keyId: string,
    action: KeyAction,
    reason = '',
  ): Promise<{ state: KeyState; changed: boolean }> {
    const k = this.keys(pool);
    const reply = (await runScript(
      this.redis,
      'setState',
      [k.base],
      [keyId, action, reason],
    )) as [string | number, (number | string)?];
    if (typeof reply[0] === 'number' && reply[0] < 0) throw storeError(reply[0], pool, keyId);
    return { state: reply[0] as KeyState, changed: reply[1] === 1 };
  }
}

/** A group name as Redis may hold it: the request's model group, 'default', or 'other' when unfit. */
export function groupName(group: string | undefined): string {
  if (group === undefined || group === '') return DEFAULT_GROUP;
  return BUCKET_NAME.test(group) ? group : OTHER_GROUP;
}

/** An account named by an answer, as Redis may hold it ('' when none or unfit: not learned). */
export function accountName(account: string | undefined): string {
  return account !== undefined && BUCKET_NAME.test(account) ? account : '';
}

/** Groups a pool always tracks: `default`, `other` and those the config names. */
export function trackedGroups(options: SyncOptions): string[] {
  return [DEFAULT_GROUP, OTHER_GROUP, ...(options.modelGroups ?? []).map(groupName)];
}

/** How many groups a pool may track: those configured, `maxModelGroups` more, `default` and `other`. */
export function maxGroupsOf(options: SyncOptions): number {
  return (options.modelGroups?.length ?? 0) + (options.maxModelGroups ?? 16) + 2;
}

/** A key spec as sync-keys-1.lua reads it: group names made safe, an unfit account dropped. */
function specForRedis(spec: KeySpec): KeySpec {
  const out: KeySpec = { ...spec };
  if (spec.groups) out.groups = Object.fromEntries(Object.entries(spec.groups).map(([g, l]) => [groupName(g), l]));
  const account = accountName(spec.account);
  if (account) out.account = account;
  else delete out.account;
  return out;
}
