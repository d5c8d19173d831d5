import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ownAccount, type BucketSnapshot, type PoolSnapshot } from '@rotor/redis-store';
import type { ProbeKind } from './probe-request';

const KEY_STATES = ['active', 'suspended', 'disabled'] as const;
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
 * is a fingerprint (never a secret), model is a model group (bounded per pool by the store: configured
 * groups, maxModelGroups more, default, other), state / reason / result are small fixed sets. Accounts
 * are never a label (there is no bound on them): the bucket gauges add up each group's buckets. Pool and
 * queue gauges are set from a store snapshot taken at scrape time (see scrape.ts); counters count this
 * process's work, so sum them over replicas, and take max() of per-replica timestamps.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly r = [this.registry];

  readonly poolKeys = new Gauge({
    name: 'rotor_pool_keys',
    help: 'Keys per pool by state (active, suspended, disabled), from the shared store',
    labelNames: ['pool', 'state'],
    registers: this.r,
  });
  readonly poolKeysOut = new Gauge({
    name: 'rotor_pool_keys_out',
    help: 'Suspended and disabled keys per pool by state and reason (quota, circuit_open, suspect_invalid, invalid_key, operator)',
    labelNames: ['pool', 'state', 'reason'],
    registers: this.r,
  });
  readonly buckets = new Gauge({
    name: 'rotor_buckets',
    help: 'Rate-limit buckets per pool, model group and state (ready, cooling): one per account with an active key, in every group the pool tracks (a bucket not used yet is ready)',
    labelNames: ['pool', 'model', 'state'],
    registers: this.r,
  });
  readonly bucketCooldown = new Gauge({
    name: 'rotor_bucket_cooldown_seconds',
    help: "Seconds until the model group's last cooling bucket returns by itself: the longest cooldown left among them (0 when none cools)",
    labelNames: ['pool', 'model'],
    registers: this.r,
  });
  readonly bucketRemainingRequests = new Gauge({
    name: 'rotor_bucket_remaining_requests',
    help: "Requests the model group's buckets have left in their current windows, summed (cooling buckets count 0; buckets whose window reset since, or never answered, are left out; absent when none is known)",
    labelNames: ['pool', 'model'],
    registers: this.r,
  });
  readonly bucketRemainingTokens = new Gauge({
    name: 'rotor_bucket_remaining_tokens',
    help: "Tokens the model group's buckets have left in their current windows, summed (as rotor_bucket_remaining_requests)",
    labelNames: ['pool', 'model'],
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

  /** Replaces every pool/key/bucket gauge with what the snapshots say (what left a state loses its series). */
  setPools(snapshots: readonly PoolSnapshot[]): void {
    this.poolKeys.reset();
    this.poolKeysOut.reset();
    this.keyOut.reset();
    this.buckets.reset();
    this.bucketCooldown.reset();
    this.bucketRemainingRequests.reset();
    this.bucketRemainingTokens.reset();
    for (const snapshot of snapshots) {
      const { pool, now, keys } = snapshot;
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
        if (key.parkedAt !== undefined) {
          this.keyOut.set(
            { pool, key_id: key.id, state: key.state, reason },
            Math.max(0, now - key.parkedAt) / 1000,
          );
        }
      }
      for (const [state, n] of Object.entries(counts)) this.poolKeys.set({ pool, state }, n);
      for (const { state, reason, n } of out.values()) this.poolKeysOut.set({ pool, state, reason }, n);
      for (const [model, f] of modelFigures(snapshot)) {
        this.buckets.set({ pool, model, state: 'ready' }, f.ready);
        this.buckets.set({ pool, model, state: 'cooling' }, f.cooling);
        this.bucketCooldown.set({ pool, model }, f.cooldownMs / 1000);
        if (f.requests !== undefined) this.bucketRemainingRequests.set({ pool, model }, f.requests);
        if (f.tokens !== undefined) this.bucketRemainingTokens.set({ pool, model }, f.tokens);
      }
    }
  }

  setQueue(queue: string, counts: Record<string, number>): void {
    for (const state of QUEUE_STATES) this.queueJobs.set({ queue, state }, counts[state] ?? 0);
  }
}

/** What one model group of a pool has, over its buckets (see the bucket gauges' help). */
export interface ModelFigures {
  ready: number;
  cooling: number;
  /** The longest cooldown left among the cooling buckets (0: none cools). */
  cooldownMs: number;
  /** Room left in the current windows, summed; undefined when no bucket's is known. */
  requests?: number;
  tokens?: number;
}

/**
 * A pool's buckets added up per model group. The buckets that count are those the group can hand out
 * from: one per account with an active key (its own `~<keyId>` when it names none), in every group
 * the pool tracks; a bucket the snapshot does not list (never used) is ready, with nothing known of
 * its room. Buckets of accounts whose keys are all parked do not count: they serve nothing.
 */
export function modelFigures(snapshot: PoolSnapshot): Map<string, ModelFigures> {
  const { now } = snapshot;
  const accounts = new Set(
    snapshot.keys.filter((k) => k.state === 'active').map((k) => k.account ?? ownAccount(k.id)),
  );
  const byGroup = new Map<string, Map<string, BucketSnapshot>>(snapshot.groups.map((g) => [g, new Map()]));
  for (const bucket of snapshot.buckets) {
    const group = byGroup.get(bucket.group) ?? new Map<string, BucketSnapshot>();
    group.set(bucket.account, bucket);
    byGroup.set(bucket.group, group);
  }
  const figures = new Map<string, ModelFigures>();
  for (const [model, buckets] of byGroup) {
    const f: ModelFigures = { ready: 0, cooling: 0, cooldownMs: 0 };
    for (const account of accounts) {
      const bucket = buckets.get(account);
      if (bucket?.state === 'cooling') {
        f.cooling += 1;
        f.cooldownMs = Math.max(f.cooldownMs, (bucket.until ?? now) - now);
        f.requests ??= 0;
        f.tokens ??= 0;
        continue;
      }
      f.ready += 1;
      if (bucket === undefined) continue;
      const requests = roomLeft(bucket.remainingRequests, bucket.resetRequestsAt, now);
      if (requests !== undefined) f.requests = (f.requests ?? 0) + requests;
      const tokens = roomLeft(bucket.remainingTokens, bucket.resetTokensAt, now);
      if (tokens !== undefined) f.tokens = (f.tokens ?? 0) + tokens;
    }
    figures.set(model, f);
  }
  return figures;
}

/** What a bucket has left in its window, known only while that window runs (its reset is ahead). */
function roomLeft(
  remaining: number | undefined,
  resetAt: number | undefined,
  now: number,
): number | undefined {
  if (remaining === undefined || resetAt === undefined || resetAt <= now) return undefined;
  return Math.max(0, remaining);
}
