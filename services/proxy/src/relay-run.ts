import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { PoolConfig, PoolKey, Provider, RotorConfig } from '@rotor/core';
import { modelGroupOf, providers, readRequestCost } from '@rotor/core';
import type { KeyStore } from '@rotor/redis-store';
import { upstreamPath } from './header-hygiene';
import type { Logger } from './logger';
import type { ProxyMetrics } from './metrics';
import type { Upstream } from './upstream';

export interface RelayContext {
  config: RotorConfig;
  store: KeyStore;
  logger: Logger;
  metrics: ProxyMetrics;
  upstreams: Map<string, Upstream>;
  /** pool -> key id -> configured key (secret and headers), for this replica's config in force. */
  keys: Map<string, Map<string, PoolKey>>;
  /** A report moved a key to suspended / disabled: the worker should probe it. */
  onKeyParked?: (pool: string, keyId: string, state: string, reason: string) => void;
}

export interface RelayRequest {
  pool: PoolConfig;
  /** Path + query to append to the pool's base URL. */
  path: string;
  body?: Buffer;
  route: string;
  /** The client's id (`c_…`, never its token): it bounds how many keys its requests take out. */
  client?: string;
}

/**
 * A key that returns this soon (typically one whose budget is only uncertain while answers are in
 * flight) is worth waiting for whatever the pool's maxWaitMs says: a short wait beats a 429. Bounded
 * in total per request.
 */
const SETTLE_WAIT_MS = 250;
const SETTLE_BUDGET_MS = 1000;
/**
 * While it has waited less than this, a request leaves keys that were never answered (nothing known of
 * their budget) to their one request in flight (the store's first-answer gate); after that it takes
 * them anyway: the gate delays a request on a cold pool, it never refuses one. A pool that may wait
 * (maxWaitMs) holds gated requests for its whole wait budget instead: an LLM's first answer takes
 * seconds, and a burst sent before it would meet the provider's 429s.
 */
const FIRST_ANSWER_WAIT_MS = SETTLE_BUDGET_MS - SETTLE_WAIT_MS;
/**
 * A request of a pool that may wait is not answered with an upstream 429 while its wait budget lasts:
 * the key cools and the request waits for a key again. Such attempts are bounded too (a provider whose
 * 429s name no wait must not be met in a loop): at most this many times `retry.maxAttempts`.
 */
const WAITING_ATTEMPTS_FACTOR = 4;

/**
 * One client request across its attempts: what it asks for, which keys it took, how long it has
 * waited, and whether its client is still there. The waiting rules read it.
 */
export class Run {
  readonly pool: PoolConfig;
  readonly provider: Provider;
  /** Read once: a reload during the request does not change its rules halfway. */
  readonly retry: RotorConfig['retry'];
  readonly timeouts: RotorConfig['timeouts'];
  readonly forwardedPath: string;
  /** What the provider will count this request for (prompt + output limit), reserved at each hand-out. */
  readonly tokens: number;
  /** The model group it names: its bucket. */
  readonly group: string;
  readonly started = performance.now();
  /** Keys handed out to this request, in order. */
  readonly tried: string[] = [];
  /** Never handed out again in this request, except keys that met a 429 and have cooled since. */
  readonly exclude = new Set<string>();
  private readonly rateLimited = new Set<string>();
  /** Attempts counted against retry.maxAttempts: an upstream 429 waited out is not one. */
  private charged = 0;
  private waited429s = 0;
  private readonly gateForMs: number;
  /** Time spent upstream: not counted in Rotor's added latency. */
  upstreamMs = 0;
  /** The attempt in flight, aborted if the client leaves. */
  proxyReq: ClientRequest | undefined;
  clientGone = false;

  constructor(
    readonly ctx: RelayContext,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly request: RelayRequest,
  ) {
    const { pool } = request;
    this.pool = pool;
    this.provider = providers[pool.provider];
    this.retry = ctx.config.retry;
    this.timeouts = ctx.config.timeouts;
    this.forwardedPath = upstreamPath(request.path);
    const { tokens, model } = readRequestCost(pool.provider, request.path, request.body, pool.defaultOutputTokens);
    this.tokens = tokens;
    this.group = modelGroupOf(pool, model);
    this.gateForMs = Math.max(FIRST_ANSWER_WAIT_MS, pool.maxWaitMs - SETTLE_WAIT_MS);
    res.once('close', () => {
      if (res.writableFinished) return;
      this.clientGone = true;
      this.proxyReq?.destroy();
    });
    ctx.metrics.track(pool.name, res);
  }

  elapsedMs(): number {
    return performance.now() - this.started;
  }

  /** The request is over, answered with `status`: counted, with the time Rotor added. */
  finish(status: number): void {
    this.ctx.metrics.request(this.pool.name, this.request.route, status, this.elapsedMs() - this.upstreamMs);
  }

  /** Another charged attempt may follow. */
  attemptsLeft(): boolean {
    return this.charged < this.retry.maxAttempts;
  }

  /** A key was handed out: charged, and not handed out again. Returns the attempt's number. */
  leased(keyId: string): number {
    this.tried.push(keyId);
    this.exclude.add(keyId);
    return ++this.charged;
  }

  /** Whether acquire leaves never-answered keys to their one request in flight (see FIRST_ANSWER_WAIT_MS). */
  firstAnswerGate(): boolean {
    return this.elapsedMs() < this.gateForMs;
  }

  /** No key now, the first back in `waitMs`: within the pool's maxWaitMs, or a short settle wait. */
  worthWaiting(waitMs: number): boolean {
    const waited = this.elapsedMs();
    return waited + waitMs <= this.pool.maxWaitMs || (waitMs <= SETTLE_WAIT_MS && waited + waitMs <= SETTLE_BUDGET_MS);
  }

  /** An upstream 429 on a pool that may wait: the request may wait for a key instead of answering it. */
  mayWaitAfter429(): boolean {
    return (
      this.pool.maxWaitMs > 0 &&
      this.elapsedMs() < this.pool.maxWaitMs &&
      this.waited429s < this.retry.maxAttempts * WAITING_ATTEMPTS_FACTOR
    );
  }

  /** The 429 of `keyId` is waited out: the attempt is not charged; the key may serve once it has cooled. */
  waitOut429(keyId: string): void {
    this.waited429s++;
    this.charged--;
    this.rateLimited.add(keyId);
  }

  /** After a wait: a key that answered 429 is back once its cooldown is over, it may serve this request now. */
  readmitCooled(): void {
    for (const id of this.rateLimited) this.exclude.delete(id);
    this.rateLimited.clear();
  }

  /** The configured key (secret and headers) behind `keyId` in this replica's config in force. */
  key(keyId: string): PoolKey | undefined {
    return this.ctx.keys.get(this.pool.name)?.get(keyId);
  }

  /** Some providers quote the key in an error body: none of the pool's secrets is passed on. */
  poolSecrets(): string[] {
    return [...(this.ctx.keys.get(this.pool.name)?.values() ?? [])].map((k) => k.secret);
  }
}
