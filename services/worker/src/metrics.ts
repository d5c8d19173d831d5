import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PoolSnapshot } from '@rotor/redis-store';
import type { ProbeKind } from './probe-request';

const KEY_STATES = ['active', 'cooling', 'suspended', 'disabled'] as const;
/** BullMQ job states worth a gauge (completed/failed jobs are removed at once, so they stay near 0). */
export const QUEUE_STATES = [
  'waiting',
  'delayed',
  'active',
  'prioritized',
  'paused',
  'failed',
  'completed',
] as const;

/**
 * The worker's Prometheus metrics (`rotor_` prefix). Labels are bounded: pool comes from config, key_id
 * is a fingerprint (never a secret), state / reason / result are small fixed sets. Pool and queue gauges
 * are set from a store snapshot taken at scrape time (see scrape.ts); counters count this process's work,
 * so sum them over replicas, and take max() of per-replica timestamps.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly r = [this.registry];

  readonly poolKeys = new Gauge({
    name: 'rotor_pool_keys',
    help: 'Keys per pool by state (active, cooling, suspended, disabled), from the shared store',
    labelNames: ['pool', 'state'],
    registers: this.r,
  });
  readonly poolKeysOut = new Gauge({
    name: 'rotor_pool_keys_out',
    help: 'Keys out of rotation per pool by state and reason (rate_limited, budget, quota, circuit_open, backoff_ceiling, suspect_invalid, invalid_key, operator)',
    labelNames: ['pool', 'state', 'reason'],
    registers: this.r,
  });
  readonly keyCooldown = new Gauge({
    name: 'rotor_key_cooldown_seconds',
    help: 'Seconds until a cooling key returns to rotation by itself (cooling keys only)',
    labelNames: ['pool', 'key_id'],
    registers: this.r,
  });
  readonly keyOut = new Gauge({
    name: 'rotor_key_out_of_rotation_seconds',
    help: 'Seconds since a suspended or disabled key left rotation (those keys only)',
    labelNames: ['pool', 'key_id', 'state', 'reason'],
    registers: this.r,
  });
  readonly probes = new Counter({
    name: 'rotor_probes_total',
    help: 'Probes sent by this worker, by pool, probe kind (models = free listing, request = 1-token request) and result (outcome class)',
    labelNames: ['pool', 'probe', 'result'],
    registers: this.r,
  });
  readonly probeDuration = new Histogram({
    name: 'rotor_probe_duration_seconds',
    help: 'Time from sending a probe to its answer (or timeout)',
    labelNames: ['pool', 'probe'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: this.r,
  });
  readonly lastSuccess = new Gauge({
    name: 'rotor_probe_last_success_timestamp_seconds',
    help: 'Unix time of the last probe that found a key fit again (this replica; take max over replicas)',
    labelNames: ['pool', 'key_id'],
    registers: this.r,
  });
  readonly queueJobs = new Gauge({
    name: 'rotor_queue_jobs',
    help: 'BullMQ jobs by queue and state (delayed = probes waiting for their time)',
    labelNames: ['queue', 'state'],
    registers: this.r,
  });
  readonly jobsFailed = new Counter({
    name: 'rotor_queue_jobs_failed_total',
    help: 'Job runs that threw (Redis trouble, a bug); the job is retried, then dropped and rescheduled by reconciliation',
    labelNames: ['queue', 'job'],
    registers: this.r,
  });
  readonly jobsStalled = new Counter({
    name: 'rotor_queue_jobs_stalled_total',
    help: 'Running jobs found without a live worker (lock expired) and handed to another run',
    labelNames: ['queue'],
    registers: this.r,
  });
  readonly reconcileScheduled = new Counter({
    name: 'rotor_reconcile_scheduled_total',
    help: 'Probes the reconciliation sweep had to schedule (parked keys that had none: a lost enqueue)',
    labelNames: ['pool'],
    registers: this.r,
  });
  readonly reconcileLastRun = new Gauge({
    name: 'rotor_reconcile_last_run_timestamp_seconds',
    help: 'Unix time this replica last completed a reconciliation sweep (take max over replicas)',
    registers: this.r,
  });
  readonly redisErrors = new Counter({
    name: 'rotor_redis_errors_total',
    help: 'Redis calls that failed or timed out, and connection errors, by operation',
    labelNames: ['op'],
    registers: this.r,
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'rotor_worker_' });
    // prom-client names three gauges `nodejs_active_*_total`, which `promtool check metrics` rejects
    // (only counters end in _total): they are left out.
    for (const metric of this.registry.getMetricsAsArray()) {
      const { name, type } = metric as unknown as { name: string; type: string };
      if (name.endsWith('_total') && type !== 'counter') this.registry.removeSingleMetric(name);
    }
  }

  probe(pool: string, keyId: string, kind: ProbeKind, result: string, seconds: number): void {
    this.probes.inc({ pool, probe: kind, result });
    this.probeDuration.observe({ pool, probe: kind }, seconds);
    if (result === 'success') this.lastSuccess.set({ pool, key_id: keyId }, Date.now() / 1000);
  }

  /** Replaces every pool/key gauge with what the snapshots say (keys that left a state lose their series). */
  setPools(snapshots: readonly PoolSnapshot[]): void {
    this.poolKeys.reset();
    this.poolKeysOut.reset();
    this.keyCooldown.reset();
    this.keyOut.reset();
    for (const { pool, now, keys } of snapshots) {
      const counts = Object.fromEntries(KEY_STATES.map((s) => [s, 0])) as Record<string, number>;
      const out = new Map<string, { state: string; reason: string; n: number }>();
      for (const key of keys) {
        counts[key.state] = (counts[key.state] ?? 0) + 1;
        if (key.state === 'active') continue;
        const reason = key.reason ?? '';
        const slot = `${key.state}\0${reason}`;
        const entry = out.get(slot) ?? { state: key.state, reason, n: 0 };
        entry.n += 1;
        out.set(slot, entry);
        if (key.state === 'cooling' && key.until !== undefined) {
          this.keyCooldown.set({ pool, key_id: key.id }, Math.max(0, key.until - now) / 1000);
        } else if (key.parkedAt !== undefined) {
          this.keyOut.set(
            { pool, key_id: key.id, state: key.state, reason },
            Math.max(0, now - key.parkedAt) / 1000,
          );
        }
      }
      for (const [state, n] of Object.entries(counts)) this.poolKeys.set({ pool, state }, n);
      for (const { state, reason, n } of out.values()) this.poolKeysOut.set({ pool, state, reason }, n);
    }
  }

  setQueue(queue: string, counts: Record<string, number>): void {
    for (const state of QUEUE_STATES) this.queueJobs.set({ queue, state }, counts[state] ?? 0);
  }
}
