import type { ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OutcomeKind } from '@rotor/core';
import type { KeyStore } from '@rotor/redis-store';
import { ModelLabels, type MetricsPool } from './model-labels';

const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

/**
 * prom-client finds a series by hashing its label object on every call; on the request path that is
 * several hashes per request. This keeps each metric's children by a cheap string key instead. The
 * label values are bounded (pools, routes, key ids from config; fixed sets), and a reload that drops
 * a pool leaves at most its few children behind.
 */
class LabelledChildren {
  private readonly byMetric = new Map<object, Map<string, unknown>>();

  get<M extends { labels(labels: Record<string, string>): unknown }>(metric: M, key: string, labels: Record<string, string>): ReturnType<M['labels']> {
    let children = this.byMetric.get(metric);
    if (!children) {
      children = new Map();
      this.byMetric.set(metric, children);
    }
    let child = children.get(key);
    if (child === undefined) {
      child = metric.labels(labels);
      children.set(key, child);
    }
    return child as ReturnType<M['labels']>;
  }
}

/** Store operations timed by `instrumentStore` (the `op` label of the Redis metrics). */
export const STORE_OPS = ['acquire', 'report', 'release', 'sync', 'snapshot', 'setState'] as const;
export type StoreOp = (typeof STORE_OPS)[number];

/**
 * The proxy's Prometheus metrics (`rotor_` prefix). Labels are bounded: pool and route come from
 * config, key_id is a fingerprint (never a secret), model is a model group (bounded per pool, see
 * ModelLabels), status is a class (2xx, 4xx, ...), outcome and op are small fixed sets. Per-pool series
 * start at 0 (see `initPools`), so rates and alerts have data before the first event.
 */
export class ProxyMetrics {
  readonly registry = new Registry();
  /** Series bound to their labels once, not looked up by a label object on every request. */
  private readonly children = new LabelledChildren();
  private readonly models = new ModelLabels();
  private readonly r = [this.registry];
  private readonly requests = new Counter({
    name: 'rotor_requests_total',
    help: 'Client requests answered, by pool, route prefix and final status class',
    labelNames: ['pool', 'route', 'status'],
    registers: this.r,
  });
  private readonly attempts = new Counter({
    name: 'rotor_upstream_attempts_total',
    help: 'Upstream attempts by pool, key id, outcome class and model group',
    labelNames: ['pool', 'key_id', 'outcome', 'model'],
    registers: this.r,
  });
  private readonly retries = new Counter({
    name: 'rotor_retries_total',
    help: 'Attempts made on another key after a failed one',
    labelNames: ['pool'],
    registers: this.r,
  });
  private readonly exhaustion = new Counter({
    name: 'rotor_exhausted_total',
    help: "Requests answered by Rotor because no key of the pool was available for the request's model group",
    labelNames: ['pool', 'model'],
    registers: this.r,
  });
  private readonly rateLimits = new Counter({
    name: 'rotor_upstream_429_total',
    help: 'Upstream 429 answers by model group, split into rate (clears by itself) and quota (account out of credit)',
    labelNames: ['pool', 'kind', 'model'],
    registers: this.r,
  });
  private readonly addedLatency = new Histogram({
    name: 'rotor_added_latency_seconds',
    help: 'Time a request spent in Rotor itself, upstream time excluded',
    labelNames: ['pool'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: this.r,
  });
  private readonly upstreamLatency = new Histogram({
    name: 'rotor_upstream_latency_seconds',
    help: 'Time from sending an upstream attempt to its response headers (or its failure)',
    labelNames: ['pool'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: this.r,
  });
  private readonly inFlight = new Gauge({
    name: 'rotor_requests_in_flight',
    help: 'Client requests this replica is handling now (until the response is finished or cut)',
    labelNames: ['pool'],
    registers: this.r,
  });
  private readonly redisDuration = new Histogram({
    name: 'rotor_redis_duration_seconds',
    help: 'Duration of key store calls to Redis (one script or pipeline each), by operation',
    labelNames: ['op'],
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: this.r,
  });
  private readonly redisErrors = new Counter({
    name: 'rotor_redis_errors_total',
    help: 'Redis calls that failed or timed out, by operation',
    labelNames: ['op'],
    registers: this.r,
  });
  private readonly fallback = new Gauge({
    name: 'rotor_fallback_mode',
    help: '1 while this replica serves from its in-memory fallback rotation because Redis is unavailable',
    registers: this.r,
  });
  private readonly keysOutRefusals = new Counter({
    name: 'rotor_keys_out_refused_total',
    help: "Answers that would have taken a key out of rotation, refused because the client's requests had already taken clientLimits.keysOutPerMinute keys out",
    labelNames: ['pool'],
    registers: this.r,
  });
  readonly authFailures = new Counter({
    name: 'rotor_client_auth_failures_total',
    help: 'Client requests refused for a missing or wrong token',
    registers: this.r,
  });

  constructor(pools: readonly MetricsPool[] = []) {
    collectDefaultMetrics({ register: this.registry, prefix: 'rotor_proxy_' });
    // prom-client names three gauges `nodejs_active_*_total`, which `promtool check metrics` rejects
    // (only counters end in _total): they are left out, as in the worker.
    for (const metric of this.registry.getMetricsAsArray()) {
      const { name, type } = metric as unknown as { name: string; type: string };
      if (name.endsWith('_total') && type !== 'counter') this.registry.removeSingleMetric(name);
    }
    this.fallback.set(0);
    for (const op of STORE_OPS) this.redisErrors.inc({ op }, 0);
    this.initPools(pools);
  }

  /**
   * Zero series for every pool (called at start and on reload), so a rate is 0, not absent: per model
   * group for the groups the pool always tracks (default, other, those configured).
   */
  initPools(pools: readonly MetricsPool[]): void {
    for (const config of pools) {
      const pool = config.name;
      this.retries.inc({ pool }, 0);
      for (const model of this.models.configure(config)) {
        this.exhaustion.inc({ pool, model }, 0);
        this.rateLimits.inc({ pool, kind: 'rate', model }, 0);
        this.rateLimits.inc({ pool, kind: 'quota', model }, 0);
      }
      this.inFlight.inc({ pool }, 0);
      this.keysOutRefusals.inc({ pool }, 0);
    }
  }

  request(pool: string, route: string, status: number, addedMs: number): void {
    const statusClass = STATUS_CLASSES[Math.floor(status / 100)] ?? `${Math.floor(status / 100)}xx`;
    this.children.get(this.requests, `${pool}\0${route}\0${statusClass}`, { pool, route, status: statusClass }).inc();
    this.children.get(this.addedLatency, pool, { pool }).observe(Math.max(0, addedMs) / 1000);
  }

  /** One upstream attempt's outcome; `group`: the model group its lease reserved from (lease.group). */
  attempt(pool: string, keyId: string, outcome: OutcomeKind, group: string): void {
    const model = this.models.of(pool, group);
    this.children
      .get(this.attempts, `${pool}\0${keyId}\0${outcome}\0${model}`, { pool, key_id: keyId, outcome, model })
      .inc();
    if (outcome === 'rate_limited') this.rateLimits.inc({ pool, kind: 'rate', model });
    if (outcome === 'quota_exhausted') this.rateLimits.inc({ pool, kind: 'quota', model });
  }

  /** One upstream attempt's time to response headers (or to its failure). */
  upstream(pool: string, ms: number): void {
    this.children.get(this.upstreamLatency, pool, { pool }).observe(Math.max(0, ms) / 1000);
  }

  /** Counts the request in flight until its response is finished or cut. */
  track(pool: string, res: ServerResponse): void {
    const gauge = this.children.get(this.inFlight, pool, { pool });
    gauge.inc();
    res.once('close', () => gauge.dec());
  }

  retry(pool: string): void {
    this.retries.inc({ pool });
  }

  keysOutRefused(pool: string): void {
    this.keysOutRefusals.inc({ pool });
  }

  /** A request Rotor answered itself; `group`: the request's model group (modelGroupOf). */
  exhausted(pool: string, group: string): void {
    this.exhaustion.inc({ pool, model: this.models.of(pool, group) });
  }

  redisError(op: string): void {
    this.redisErrors.inc({ op });
  }

  /** Times one Redis call; a rejection counts as an error of `op` and is passed on. */
  timeRedis<T>(op: string, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const duration = this.children.get(this.redisDuration, op, { op });
    const observe = () => duration.observe((performance.now() - started) / 1000);
    return call().then(
      (value) => {
        observe();
        return value;
      },
      (error: unknown) => {
        observe();
        this.redisErrors.inc({ op });
        throw error;
      },
    );
  }

  /** Fallback mode on / off (the proxy's Redis-outage rotation). */
  setFallback(on: boolean): void {
    this.fallback.set(on ? 1 : 0);
  }

  /**
   * The store with every call timed (`rotor_redis_duration_seconds`) and its failures counted
   * (`rotor_redis_errors_total`) by op. Wrap the Redis store itself (not a fallback around it), so
   * the figures are Redis's.
   */
  instrumentStore<S extends KeyStore>(store: S): KeyStore {
    return {
      acquire: (pool, options) => this.timeRedis('acquire', () => store.acquire(pool, options)),
      report: (lease, outcome, account) => this.timeRedis('report', () => store.report(lease, outcome, account)),
      release: (lease) => this.timeRedis('release', () => store.release(lease)),
      sync: (pool, keys, options) => this.timeRedis('sync', () => store.sync(pool, keys, options)),
      snapshot: (pool) => this.timeRedis('snapshot', () => store.snapshot(pool)),
      setState: (pool, keyId, action, reason) =>
        this.timeRedis('setState', () => store.setState(pool, keyId, action, reason)),
    };
  }
}
