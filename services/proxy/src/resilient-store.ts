import crypto from 'node:crypto';
import type { Outcome, RedisConfig, RotorError } from '@rotor/core';
import { rotorError } from '@rotor/core';
import {
  StoreError,
  preloadScripts,
  roundTrips,
  type AcquireOptions,
  type AcquireResult,
  type KeyAction,
  type KeySpec,
  type KeyState,
  type KeyStore,
  type Lease,
  type MemoryKeyStore,
  type PoolSnapshot,
  type RedisKeyStore,
  type ReportResult,
  type SyncResult,
  type SyncOptions,
} from '@rotor/redis-store';
import { Deadlines } from './deadlines';
import type { Logger } from './logger';

/**
 * shared: Redis answers; every call goes there (the replicas act as one rotator).
 * fallback: Redis is unreachable and the policy is fail-open: this replica serves from its own memory.
 * unavailable: Redis is unreachable and the policy is fail-closed: requests get 503 at once.
 */
export type StoreMode = 'shared' | 'fallback' | 'unavailable';

/** A pool as Redis is synced to it: the keys and options of the config in force. */
export interface PoolSync {
  pool: string;
  keys: readonly KeySpec[];
  options: SyncOptions;
}

export interface ResilientStoreOptions {
  /** The Redis store itself (heartbeats, snapshots, pings go straight to it). */
  redis: RedisKeyStore;
  /** The same store as the request path calls it (instrumented: timed, errors counted). */
  shared: KeyStore;
  /** This replica's own rotation: kept close to Redis's state while Redis answers, used when it does not. */
  fallback: MemoryKeyStore;
  config: RedisConfig;
  /**
   * The pools of the config in force (it may be reloaded during an outage): the fallback copies their
   * state from Redis, and Redis is synced to them when it is back.
   */
  pools(): PoolSync[];
  logger: Logger;
  onModeChange?(mode: StoreMode): void;
}

/**
 * What a call gives while Redis is away (cut off, or the call has just failed or outlived its deadline):
 * - `fallback`: this replica's own answer when fail-open; a 503 when fail-closed (acquire, report, snapshot).
 * - `always`: this replica's own answer under either policy: nothing is served from it (release, sync,
 *   the store's own pings and heartbeats).
 * - `refuse`: a 503 under either policy, saying why: what must reach every replica (an operator's key action).
 */
type WhileAway<T> = { fallback: () => T | Promise<T> } | { always: () => T | Promise<T> } | { refuse: string };

/** What a Redis call is named in the logs and in `status().reason`. */
type RedisOp = 'acquire' | 'report' | 'release' | 'sync' | 'snapshot' | 'setState' | 'ping' | 'heartbeat' | 'connection';

/** Added to a call's command timeouts before it is given up even if the client never says so. */
const GUARD_SLACK_MS = 100;

/**
 * The key store the proxy uses: Redis while it answers; when a call fails or outlives its deadline
 * (`redis.commandTimeoutMs` per round trip, no offline queue), the replica switches at once to its
 * in-memory fallback (fail-open) or refuses requests with 503 (fail-closed), and tries Redis again every
 * `redis.fallback.recoverEveryMs` (and whenever the connection comes back): a ping, the scripts loaded,
 * every pool synced, what it learned in fallback merged (lower budgets, cooldowns, hand-outs), and it is
 * back on shared state by itself. Every Redis call goes through `viaRedis`, so each has a deadline and
 * each says what it gives while Redis is away.
 *
 * While Redis answers, the fallback is kept warm: every outcome is also reported to it (budgets,
 * cooldowns), and every `redis.fallback.refreshMs` it copies Redis's key states (operator-disabled,
 * suspended, cooling keys, budgets) and learns how many replicas are alive, so that in fallback each
 * key's budget is divided by that count (or by `redis.fallback.replicas` when set).
 */
export class ResilientKeyStore implements KeyStore {
  private currentMode: StoreMode = 'shared';
  private since = 0;
  private why = '';
  private replicas = 1;
  private readonly fromFallback = new WeakSet<Lease>();
  private readonly replicaId = crypto.randomBytes(6).toString('hex');
  private recoverTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private recovering: Promise<void> | undefined;
  private closed = false;
  /** One deadline watcher per number of round trips (each watcher needs one fixed limit). */
  private readonly deadlines = new Map<number, Deadlines>();

  constructor(private readonly options: ResilientStoreOptions) {
    const connection = options.redis.redis;
    // A dropped connection is an outage now, not at the next request's timeout; a restored one is
    // worth a recovery attempt now, not at the next tick.
    connection.on('close', () => this.down('connection', 'connection closed'));
    connection.on('ready', () => {
      if (this.currentMode !== 'shared') void this.recover();
    });
    this.refreshTimer = setInterval(() => void this.refresh(), options.config.fallback.refreshMs);
    this.refreshTimer.unref();
  }

  get mode(): StoreMode {
    return this.currentMode;
  }

  /** What /readyz says. */
  status(): { mode: StoreMode; since: number; reason: string; replicas: number } {
    return { mode: this.currentMode, since: this.since, reason: this.why, replicas: this.replicas };
  }

  /** Copies Redis's state into the fallback and learns the replica count now (start, tests). */
  async refresh(): Promise<void> {
    if (this.currentMode !== 'shared' || this.closed) return;
    const { redis, fallback, config } = this.options;
    const alive = await this.viaRedis('heartbeat', () => redis.heartbeat(this.replicaId, 3 * config.fallback.refreshMs), {
      always: () => undefined,
    });
    if (alive === undefined) return;
    this.replicas = config.fallback.replicas === 'auto' ? Math.max(1, alive) : config.fallback.replicas;
    fallback.setShare(1 / this.replicas);
    for (const { pool } of this.options.pools()) {
      const snapshot = await this.viaRedis('snapshot', () => redis.snapshot(pool), { always: () => undefined }, roundTrips.snapshot);
      if (snapshot === undefined) return;
      fallback.adopt(snapshot, Date.now());
    }
  }

  /** Readiness probe: while shared, a ping (a dead Redis is noticed even with no traffic). */
  async check(): Promise<StoreMode> {
    await this.viaRedis('ping', () => this.options.redis.redis.ping(), { always: () => undefined });
    return this.currentMode;
  }

  acquire(pool: string, options?: AcquireOptions): Promise<AcquireResult> {
    return this.viaRedis('acquire', () => this.options.shared.acquire(pool, options), {
      fallback: async () => {
        const result = await this.options.fallback.acquire(pool, options);
        if (result.ok) this.fromFallback.add(result.lease);
        return result;
      },
    });
  }

  async report(lease: Lease, outcome: Outcome, account?: string): Promise<ReportResult | undefined> {
    const { fallback, shared } = this.options;
    if (this.fromFallback.has(lease)) return fallback.report(lease, outcome, account);
    // A lease from Redis: the fallback learns the outcome too (no lease of its own to release).
    const learned = fallback.report({ ...lease, token: '' }, outcome, account);
    // Away, Redis's copy of the lease expires by its TTL.
    return this.viaRedis('report', () => shared.report(lease, outcome, account), { fallback: () => learned });
  }

  async release(lease: Lease): Promise<boolean> {
    if (this.fromFallback.has(lease)) return this.options.fallback.release(lease);
    // Away, Redis's copy of the lease expires by its TTL.
    return this.viaRedis('release', () => this.options.shared.release(lease), { always: () => false });
  }

  async sync(pool: string, keys: readonly KeySpec[], options?: SyncOptions): Promise<SyncResult> {
    const local = await this.options.fallback.sync(pool, keys, options);
    // Away, Redis is synced from the then-current config when it is back.
    return this.viaRedis('sync', () => this.options.shared.sync(pool, keys, options), { always: () => local }, roundTrips.sync(keys.length));
  }

  snapshot(pool: string): Promise<PoolSnapshot> {
    return this.viaRedis(
      'snapshot',
      () => this.options.shared.snapshot(pool),
      { fallback: () => this.options.fallback.snapshot(pool) },
      roundTrips.snapshot,
    );
  }

  setState(pool: string, keyId: string, action: KeyAction, reason?: string): Promise<{ state: KeyState; changed: boolean }> {
    // An operator's action must reach every replica: refused rather than applied to this one only.
    return this.viaRedis('setState', () => this.options.shared.setState(pool, keyId, action, reason), {
      refuse: 'key actions need the shared state',
    });
  }

  close(): void {
    this.closed = true;
    clearInterval(this.refreshTimer);
    clearInterval(this.recoverTimer);
    for (const deadlines of this.deadlines.values()) deadlines.close();
  }

  /**
   * The one way to Redis: while shared, `call` within its deadline (`roundTrips` command timeouts, see
   * `withinDeadline`); when Redis is away, or the call fails or outlives the deadline (the replica then
   * leaves shared mode), what `away` says. A StoreError is Redis's answer (no such key, disabled by an
   * operator), not an outage: it is thrown as is.
   */
  private async viaRedis<T>(op: RedisOp, call: () => Promise<T>, away: WhileAway<T>, trips: number = roundTrips.single): Promise<T> {
    if (this.currentMode === 'shared') {
      try {
        return await this.withinDeadline(call(), trips);
      } catch (error) {
        if (error instanceof StoreError) throw error;
        this.down(op, errorMessage(error));
      }
    }
    if ('refuse' in away) throw this.refusal(`Redis is unreachable: ${away.refuse} (${this.why})`);
    if ('always' in away) return away.always();
    if (this.currentMode === 'unavailable') {
      throw this.refusal(
        `Rotor cannot reach its shared key state (Redis: ${this.why}) and redis.failurePolicy is fail-closed: nothing was sent upstream; retry shortly`,
      );
    }
    return away.fallback();
  }

  /**
   * A Redis call that has not settled a little after `trips` command timeouts is treated as failed:
   * the client's own timeout bounds each command it sends, this bounds the whole call whatever the
   * client does (commands held while a Cluster or Sentinel client finds its nodes, a retry after
   * NOSCRIPT, a call of many round trips).
   */
  private withinDeadline<T>(call: Promise<T>, trips: number): Promise<T> {
    let deadlines = this.deadlines.get(trips);
    if (deadlines === undefined) {
      const limitMs = trips * this.options.config.commandTimeoutMs + GUARD_SLACK_MS;
      deadlines = new Deadlines(limitMs, `no answer from Redis in ${limitMs} ms`);
      this.deadlines.set(trips, deadlines);
    }
    return deadlines.watch(call);
  }

  private refusal(message: string): RotorError {
    return rotorError('redis_unavailable', message, { retryAfterMs: this.options.config.fallback.recoverEveryMs });
  }

  /** Redis failed: leave shared mode (once) and start trying to come back. */
  private down(op: RedisOp, reason: string): void {
    if (this.closed || this.currentMode !== 'shared') return;
    const failOpen = this.options.config.failurePolicy === 'fail-open';
    this.currentMode = failOpen ? 'fallback' : 'unavailable';
    this.since = Date.now();
    this.why = `${op}: ${reason}`;
    const { logger } = this.options;
    if (failOpen) {
      logger.warn(
        { op, err: reason, replicas: this.replicas },
        `REDIS UNREACHABLE: serving from this replica's in-memory rotation (fail-open), each key at 1/${this.replicas} of its budget, until Redis answers again`,
      );
    } else {
      logger.error({ op, err: reason }, 'REDIS UNREACHABLE: answering 503 (redis.failurePolicy fail-closed) until Redis answers again');
    }
    this.options.onModeChange?.(this.currentMode);
    clearInterval(this.recoverTimer);
    this.recoverTimer = setInterval(() => void this.recover(), this.options.config.fallback.recoverEveryMs);
    this.recoverTimer.unref();
  }

  /**
   * One attempt to return to shared state: ping, scripts, pools synced, what the fallback learned merged;
   * each step within its deadline. Concurrent callers share it.
   */
  private recover(): Promise<void> {
    if (this.closed || this.currentMode === 'shared') return Promise.resolve();
    this.recovering ??= (async () => {
      const { redis, fallback } = this.options;
      try {
        await this.withinDeadline(redis.redis.ping(), roundTrips.single);
        await this.withinDeadline(preloadScripts(redis.redis), roundTrips.single);
        const pools = this.options.pools();
        for (const { pool, keys, options } of pools) {
          await this.withinDeadline(redis.sync(pool, keys, options), roundTrips.sync(keys.length));
        }
        // What the fallback period spent and learned goes into the shared state first, so the
        // first requests back on Redis do not spend it again (no burst of 429s at the switch).
        if (this.currentMode === 'fallback') {
          for (const { pool } of pools) {
            const learned = fallback.learned(pool);
            await this.withinDeadline(redis.mergeLearned(pool, learned), roundTrips.mergeLearned(learned.length));
          }
        }
      } catch (error) {
        this.options.logger.debug({ err: errorMessage(error) }, 'redis still unreachable');
        return;
      }
      if (this.closed) return;
      const away = Date.now() - this.since;
      clearInterval(this.recoverTimer);
      this.currentMode = 'shared';
      this.why = '';
      this.options.logger.warn({ awayMs: away }, `Redis answers again: back on shared state after ${(away / 1000).toFixed(1)} s`);
      this.options.onModeChange?.('shared');
      void this.refresh();
    })().finally(() => {
      this.recovering = undefined;
    });
    return this.recovering;
  }
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
