import crypto from 'node:crypto';
import type { Outcome, RedisConfig } from '@rotor/core';
import { rotorError } from '@rotor/core';
import {
  StoreError,
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

export interface ResilientStoreOptions {
  /** The Redis store itself (heartbeats, snapshots, pings go straight to it). */
  redis: RedisKeyStore;
  /** The same store as the request path calls it (instrumented: timed, errors counted). */
  shared: KeyStore;
  /** This replica's own rotation: kept close to Redis's state while Redis answers, used when it does not. */
  fallback: MemoryKeyStore;
  config: RedisConfig;
  /** Puts Redis back in line after an outage: scripts loaded, every pool synced from the current config. */
  resync(): Promise<void>;
  /** The pools of the current config (the fallback copies their state from Redis). */
  pools(): string[];
  logger: Logger;
  onModeChange?(mode: StoreMode): void;
}

/** Added to the Redis command timeout before a call is given up even if the client never says so. */
const GUARD_SLACK_MS = 100;

/**
 * The key store the proxy uses: Redis while it answers; when a call fails or times out
 * (`redis.commandTimeoutMs`, no offline queue), the replica switches at once to its in-memory fallback
 * (fail-open) or refuses requests with 503 (fail-closed), and tries Redis again every
 * `redis.fallback.recoverEveryMs` (and whenever the connection comes back): a ping, the scripts loaded,
 * every pool synced, what it learned in fallback merged (lower budgets, cooldowns, hand-outs), and it is
 * back on shared state by itself.
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
  private readonly deadlines: Deadlines;

  constructor(private readonly options: ResilientStoreOptions) {
    const limitMs = options.config.commandTimeoutMs + GUARD_SLACK_MS;
    this.deadlines = new Deadlines(limitMs, `no answer from Redis in ${limitMs} ms`);
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
    try {
      const alive = await redis.heartbeat(this.replicaId, 3 * config.fallback.refreshMs);
      this.replicas = config.fallback.replicas === 'auto' ? Math.max(1, alive) : config.fallback.replicas;
      fallback.setShare(1 / this.replicas);
    } catch (error) {
      this.down('heartbeat', errorMessage(error));
      return;
    }
    for (const pool of this.options.pools()) {
      try {
        const snapshot = await redis.snapshot(pool);
        fallback.adopt(snapshot, Date.now());
      } catch (error) {
        this.options.logger.debug({ pool, err: errorMessage(error) }, 'fallback refresh: snapshot failed');
      }
    }
  }

  /** Readiness probe: while shared, a ping (a dead Redis is noticed even with no traffic). */
  async check(): Promise<StoreMode> {
    if (this.currentMode === 'shared') {
      try {
        await this.guard(this.options.redis.redis.ping());
      } catch (error) {
        this.down('ping', errorMessage(error));
      }
    }
    return this.currentMode;
  }

  async acquire(pool: string, options?: AcquireOptions): Promise<AcquireResult> {
    if (this.currentMode === 'shared') {
      try {
        return await this.guard(this.options.shared.acquire(pool, options));
      } catch (error) {
        this.down('acquire', errorMessage(error));
      }
    }
    this.refuseIfClosed();
    const result = await this.options.fallback.acquire(pool, options);
    if (result.ok) this.fromFallback.add(result.lease);
    return result;
  }

  async report(lease: Lease, outcome: Outcome, account?: string): Promise<ReportResult | undefined> {
    const { fallback, shared } = this.options;
    if (this.fromFallback.has(lease)) return fallback.report(lease, outcome, account);
    // A lease from Redis: the fallback learns the outcome too (no lease of its own to release).
    const learned = fallback.report({ ...lease, token: '' }, outcome, account);
    if (this.currentMode === 'shared') {
      try {
        return await this.guard(shared.report(lease, outcome, account));
      } catch (error) {
        this.down('report', errorMessage(error));
      }
    }
    // Redis's copy of the lease expires by its TTL.
    this.refuseIfClosed();
    return learned;
  }

  async release(lease: Lease): Promise<boolean> {
    if (this.fromFallback.has(lease)) return this.options.fallback.release(lease);
    if (this.currentMode === 'shared') {
      try {
        return await this.guard(this.options.shared.release(lease));
      } catch (error) {
        this.down('release', errorMessage(error));
      }
    }
    // Redis's copy of the lease expires by its TTL.
    return false;
  }

  async sync(pool: string, keys: readonly KeySpec[], options?: SyncOptions): Promise<SyncResult> {
    const local = await this.options.fallback.sync(pool, keys, options);
    if (this.currentMode === 'shared') {
      try {
        return await this.options.shared.sync(pool, keys, options);
      } catch (error) {
        this.down('sync', errorMessage(error));
      }
    }
    // Redis is synced from the then-current config when it is back.
    return local;
  }

  async snapshot(pool: string): Promise<PoolSnapshot> {
    if (this.currentMode === 'shared') {
      try {
        return await this.options.shared.snapshot(pool);
      } catch (error) {
        this.down('snapshot', errorMessage(error));
      }
    }
    this.refuseIfClosed();
    return this.options.fallback.snapshot(pool);
  }

  async setState(pool: string, keyId: string, action: KeyAction, reason?: string): Promise<{ state: KeyState; changed: boolean }> {
    if (this.currentMode === 'shared') {
      try {
        return await this.options.shared.setState(pool, keyId, action, reason);
      } catch (error) {
        if (error instanceof StoreError) throw error;
        this.down('setState', errorMessage(error));
      }
    }
    // An operator's action must reach every replica: refused rather than applied to this one only.
    throw rotorError('redis_unavailable', `Redis is unreachable: key actions need the shared state (${this.why})`, {
      retryAfterMs: this.options.config.fallback.recoverEveryMs,
    });
  }

  close(): void {
    this.closed = true;
    clearInterval(this.refreshTimer);
    clearInterval(this.recoverTimer);
    this.deadlines.close();
  }

  private refuseIfClosed(): void {
    if (this.currentMode !== 'unavailable') return;
    throw rotorError(
      'redis_unavailable',
      `Rotor cannot reach its shared key state (Redis: ${this.why}) and redis.failurePolicy is fail-closed: nothing was sent upstream; retry shortly`,
      { retryAfterMs: this.options.config.fallback.recoverEveryMs },
    );
  }

  /** Redis failed: leave shared mode (once) and start trying to come back. */
  private down(op: string, reason: string): void {
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

  /** One attempt to return to shared state: ping, scripts, pools. Concurrent callers share it. */
  private recover(): Promise<void> {
    if (this.closed || this.currentMode === 'shared') return Promise.resolve();
    this.recovering ??= (async () => {
      try {
        await this.guard(this.options.redis.redis.ping());
        await this.options.resync();
        // What the fallback period spent and learned goes into the shared state first, so the
        // first requests back on Redis do not spend it again (no burst of 429s at the switch).
        if (this.currentMode === 'fallback') {
          for (const pool of this.options.pools()) {
            await this.options.redis.mergeLearned(pool, this.options.fallback.learned(pool));
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

  /** A Redis call that has not settled a little after the command timeout is treated as failed. */
  private guard<T>(call: Promise<T>): Promise<T> {
    return this.deadlines.watch(call);
  }
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));
