import crypto from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Outcome } from '@rotor/core';
import { clientKeysOut, keyHash, poolKeys, replicasKey, type PoolKeys } from './keys';
import { runScript } from './scripts';
import { storeError } from './errors';
import { readSnapshot } from './snapshot';
import { readKeyStatus, readParkedKeys, type KeyStatus, type ParkedKey } from './key-reads';
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

const SYNC_BATCH = 500;

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
  private readonly syncedSpecs = new Map<string, readonly KeySpec[]>();
  private readonly resyncs = new Map<string, Promise<unknown>>();

  constructor(
    readonly redis: Redis | Cluster,
    policy: Partial<StorePolicy> = {},
  ) {
    this.policy = { ...DEFAULT_POLICY, ...policy };
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
    const specs = this.syncedSpecs.get(pool);
    if (specs === undefined) return { ok: false };
    await this.resync(pool, specs);
    const again = await this.acquireOnce(pool, options);
    return again === POOL_MISSING ? { ok: false } : again;
  }

  /** One re-sync per pool at a time, however many requests find the pool missing at once. */
  private resync(pool: string, specs: readonly KeySpec[]): Promise<unknown> {
    let pending = this.resyncs.get(pool);
    if (!pending) {
      pending = this.sync(pool, specs).finally(() => this.resyncs.delete(pool));
      this.resyncs.set(pool, pending);
    }
    return pending;
  }

  private async acquireOnce(pool: string, options: AcquireOptions): Promise<AcquireResult | typeof POOL_MISSING> {
    const k = this.keys(pool);
    const token = nextToken();
    const reply = (await runScript(
      this.redis,
      'acquire',
      [k.ring, k.cooling, k.states, k.leases, k.meta, k.keyPrefix],
      [
        token,
        this.policy.leaseTtlMs,
        (options.exclude ?? []).join(','),
        this.policy.returnBatch,
        this.policy.settleMs,
        options.firstAnswerGate ? '1' : '',
        options.tokens ?? 0,
      ],
    )) as [number, string | number, number?];
    if (reply[0] === 1) {
      const remaining = Number(reply[2]);
      const lease: Lease = { pool, keyId: String(reply[1]), token };
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

  async report(lease: Lease, outcome: Outcome): Promise<ReportResult | undefined> {
    const k = this.keys(lease.pool);
    const rl = outcome.rateLimit;
    const { backoff } = this.policy;
    const reply = (await runScript(
      this.redis,
      'report',
      [k.ring, k.cooling, k.parked, k.states, k.leases, k.meta, keyHash(k, lease.keyId), clientKeysOut(k, lease.client)],
      [
        lease.keyId,
        lease.token,
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
      ],
    )) as [string | number, number?, number?, string?, number?, number?];
    // The key left the config while the request was in flight: nothing to record.
    if (reply[0] === -1) return undefined;
    return {
      state: reply[0] as KeyState,
      untilMs: Number(reply[1]),
      changed: reply[2] === 1,
      reason: String(reply[3] ?? ''),
      refused: reply[4] === 1,
      cooledFor: Number(reply[5] ?? 0),
    };
  }

  async release(lease: Lease): Promise<boolean> {
    if (!lease.token) return false;
    const k = this.keys(lease.pool);
    const reply = await runScript(this.redis, 'release', [k.leases, k.keyPrefix], [lease.keyId, lease.token]);
    return reply === 1;
  }

  async sync(pool: string, specs: readonly KeySpec[]): Promise<SyncResult> {
    this.syncedSpecs.set(pool, specs);
    const k = this.keys(pool);
    let added = 0;
    for (let i = 0; i < specs.length; i += SYNC_BATCH) {
      const batch = specs.slice(i, i + SYNC_BATCH);
      added += Number(
        await runScript(this.redis, 'syncKeys', [k.ring, k.states, k.meta, k.keyPrefix], [JSON.stringify(batch)]),
      );
    }
    const wanted = new Set(specs.map((s) => s.id));
    const stale = (await this.redis.hkeys(k.states)).filter((id) => !wanted.has(id));
    let removed = 0;
    for (let i = 0; i < stale.length; i += SYNC_BATCH) {
      removed += Number(
        await runScript(
          this.redis,
          'removeKeys',
          [k.ring, k.cooling, k.parked, k.states, k.keyPrefix],
          stale.slice(i, i + SYNC_BATCH),
        ),
      );
    }
    return { added, removed, total: wanted.size };
  }

  /**
   * Merges what a replica learned in fallback into the shared state (stricter wins: lower budget,
   * later cooldown, more hand-outs in a declared-rpm window). Returns the keys changed.
   */
  async mergeLearned(pool: string, learned: readonly LearnedKey[]): Promise<number> {
    const k = this.keys(pool);
    let changed = 0;
    for (let i = 0; i < learned.length; i += SYNC_BATCH) {
      changed += Number(
        await runScript(this.redis, 'mergeLearned', [k.ring, k.cooling, k.states, k.keyPrefix], [JSON.stringify(learned.slice(i, i + SYNC_BATCH))]),
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
      [k.ring, k.cooling, k.parked, k.states, k.meta, keyHash(k, keyId)],
      [keyId, action, reason],
    )) as [string | number, (number | string)?];
    if (typeof reply[0] === 'number' && reply[0] < 0) throw storeError(reply[0], pool, keyId);
    return { state: reply[0] as KeyState, changed: reply[1] === 1 };
  }
}
