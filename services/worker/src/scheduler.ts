import { Queue } from 'bullmq';
import type { RotorConfig } from '@rotor/core';
import { firstProbeDelay, isProbed, type ProbeTiming } from './delays';
import {
  PROBE_JOB,
  PROBE_JOB_OPTIONS,
  PROBE_QUEUE,
  probeJobId,
  queuePrefix,
  type ProbeJobData,
} from './queue';
import { closeRedis } from '@rotor/redis-store';
import { queueConnection, type RedisConnection } from './redis';

export type ScheduleResult = 'added' | 'pending' | 'restarted' | 'ignored';

/**
 * Puts probes on the queue; runs nothing. Used by the worker (reconciliation) and by every proxy replica
 * (a report that parks a key schedules its probe at once), so it only needs a non-blocking connection.
 */
export class ProbeScheduler {
  private timing: ProbeTiming;

  constructor(
    readonly queue: Queue<ProbeJobData>,
    config: RotorConfig,
    private readonly ownConnection?: RedisConnection,
  ) {
    this.timing = config.worker.probe;
  }

  /**
   * A scheduler with its own connection, for a proxy process. It fails fast while Redis is away (a
   * lost schedule is caught by the worker's reconciliation sweep), so a caller never waits on it.
   */
  static async open(config: RotorConfig): Promise<ProbeScheduler> {
    const connection = queueConnection(config, true);
    connection.on('error', () => {}); // the proxy's own client reports Redis trouble
    const queue = new Queue<ProbeJobData>(PROBE_QUEUE, {
      connection,
      prefix: queuePrefix(config.redis.prefix),
    });
    queue.on('error', () => {});
    return new ProbeScheduler(queue, config, connection);
  }

  reload(config: RotorConfig): void {
    this.timing = config.worker.probe;
  }

  /**
   * A key just left rotation (state suspended / disabled, `reason` from the store): make sure its probe
   * is pending. Adding an existing job id is a no-op in BullMQ, so any number of replicas may call this.
   * A pending probe left over from an earlier stint out of rotation (a later backoff round, or another
   * reason) starts over at the first delay for the new reason.
   */
  async schedule(pool: string, keyId: string, state: string, reason: string): Promise<ScheduleResult> {
    if (!isProbed(state, reason)) return 'ignored';
    const id = probeJobId(pool, keyId);
    const delay = firstProbeDelay(reason, this.timing);
    const data: ProbeJobData = { pool, keyId, reason, attempt: 0 };
    const existing = await this.queue.getJob(id);
    if (!existing) {
      await this.queue.add(PROBE_JOB, data, { ...PROBE_JOB_OPTIONS, jobId: id, delay });
      return 'added';
    }
    const stale = existing.data.attempt > 0 || existing.data.reason !== reason;
    if (!stale || (await existing.getState()) !== 'delayed') return 'pending';
    try {
      await existing.updateData(data);
      await existing.changeDelay(delay);
      return 'restarted';
    } catch {
      // It became due (or ran) in between: the probe will look at the key's current state anyway.
      return 'pending';
    }
  }

  /**
   * Reconciliation: a parked key with no probe at all gets one, due `firstDelay` after it was parked
   * (at once if that is past). Never touches a pending probe, so backoff rounds keep their delays.
   */
  async ensure(
    pool: string,
    keyId: string,
    reason: string,
    parkedAt: number | undefined,
    now: number,
  ): Promise<boolean> {
    const id = probeJobId(pool, keyId);
    if ((await this.queue.getJobState(id)) !== 'unknown') return false;
    const first = firstProbeDelay(reason, this.timing);
    const delay = parkedAt === undefined ? first : Math.max(0, parkedAt + first - now);
    await this.queue.add(
      PROBE_JOB,
      { pool, keyId, reason, attempt: 0 },
      { ...PROBE_JOB_OPTIONS, jobId: id, delay },
    );
    return true;
  }

  async close(): Promise<void> {
    await this.queue.close();
    if (this.ownConnection) await closeRedis(this.ownConnection);
  }
}
