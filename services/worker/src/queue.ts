import type { JobsOptions } from 'bullmq';

/**
 * The probe queue: names, job ids and job data, in one place.
 *
 * BullMQ names its keys `<prefix>:<queue>:<suffix>`. The prefix is `{<redis.prefix>-bull}`: a Redis Cluster
 * hash tag, so every key of the queue lives in one slot and BullMQ's multi-key scripts run on Cluster.
 * The queue sits beside the key store on the same Redis without touching its names (`<redis.prefix>:{<pool>}:…`).
 *
 *   redis-cli ZRANGE '{rotor-bull}:probes:delayed' 0 -1 WITHSCORES     pending probes
 *   redis-cli HGETALL '{rotor-bull}:probes:probe.openai.k_0123456789ab'  one probe (data: ids only)
 */
export const PROBE_QUEUE = 'probes';
export const PROBE_JOB = 'probe';
export const RECONCILE_JOB = 'reconcile';

export function queuePrefix(redisPrefix: string): string {
  return `{${redisPrefix}-bull}`;
}

/**
 * One job id per key, so BullMQ's own dedup (adding an existing id is a no-op) keeps at most one probe per
 * key pending or running across every replica. Dots, not colons: BullMQ reserves `:` in custom ids.
 */
export function probeJobId(pool: string, keyId: string): string {
  return `probe.${pool}.${keyId}`;
}

/** Ids only: the secret is looked up in the worker's own config when the probe runs. */
export interface ProbeJobData {
  pool: string;
  keyId: string;
  /** Why the key is out (store reason: quota, circuit_open, backoff_ceiling, invalid_key, ...). */
  reason: string;
  /** Probes of this key that kept it out so far in this round of backoff (0 = first probe). */
  attempt: number;
}

/**
 * Finished probes leave no trace, so the next time the key leaves rotation its id is free again.
 * A probe that throws (Redis trouble) is retried by BullMQ a few times, then dropped; the reconciliation
 * sweep schedules it again.
 */
export const PROBE_JOB_OPTIONS: JobsOptions = {
  removeOnComplete: true,
  removeOnFail: true,
  attempts: 5,
  backoff: { type: 'exponential', delay: 5000 },
};
