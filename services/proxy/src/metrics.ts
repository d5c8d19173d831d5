import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OutcomeKind } from '@rotor/core';

/**
 * The proxy's Prometheus metrics (`rotor_` prefix). Labels are bounded: pool and route come from
 * config, key_id is a fingerprint (never a secret), status is a class (2xx, 4xx, ...).
 */
export class ProxyMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'rotor_requests_total',
    help: 'Client requests answered, by pool, route prefix and final status class',
    labelNames: ['pool', 'route', 'status'],
    registers: [this.registry],
  });
  private readonly attempts = new Counter({
    name: 'rotor_upstream_attempts_total',
    help: 'Upstream attempts by pool, key id and outcome class',
    labelNames: ['pool', 'key_id', 'outcome'],
    registers: [this.registry],
  });
  private readonly retries = new Counter({
    name: 'rotor_retries_total',
    help: 'Attempts made on another key after a failed one',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  private readonly exhaustion = new Counter({
    name: 'rotor_exhausted_total',
    help: 'Requests answered by Rotor because no key of the pool was available',
    labelNames: ['pool'],
    registers: [this.registry],
  });
  private readonly rateLimits = new Counter({
    name: 'rotor_upstream_429_total',
    help: 'Upstream 429 answers, split into rate (clears by itself) and quota (account out of credit)',
    labelNames: ['pool', 'kind'],
    registers: [this.registry],
  });
  private readonly addedLatency = new Histogram({
    name: 'rotor_added_latency_seconds',
    help: 'Time a request spent in Rotor itself, upstream time excluded',
    labelNames: ['pool'],
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  private readonly redisErrors = new Counter({
    name: 'rotor_redis_errors_total',
    help: 'Redis calls that failed or timed out, by operation',
    labelNames: ['op'],
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: 'rotor_client_auth_failures_total',
    help: 'Client requests refused for a missing or wrong token',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'rotor_proxy_' });
  }

  request(pool: string, route: string, status: number, addedMs: number): void {
    this.requests.inc({ pool, route, status: `${Math.floor(status / 100)}xx` });
    this.addedLatency.observe({ pool }, Math.max(0, addedMs) / 1000);
  }

  attempt(pool: string, keyId: string, outcome: OutcomeKind): void {
    this.attempts.inc({ pool, key_id: keyId, outcome });
    if (outcome === 'rate_limited') this.rateLimits.inc({ pool, kind: 'rate' });
    if (outcome === 'quota_exhausted') this.rateLimits.inc({ pool, kind: 'quota' });
  }

  retry(pool: string): void {
    this.retries.inc({ pool });
  }

  exhausted(pool: string): void {
    this.exhaustion.inc({ pool });
  }

  redisError(op: string): void {
    this.redisErrors.inc({ op });
  }
}
