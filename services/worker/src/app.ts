import type http from 'node:http';
import { Queue, Worker } from 'bullmq';
import type { RotorConfig } from '@rotor/core';
import { closeRedis, type RedisKeyStore } from '@rotor/redis-store';
import { createLogger, type Logger } from './logger';
import { WorkerMetrics } from './metrics';
import { closeServer, serverPort, startMetricsServer } from './metrics-server';
import { processor, type WorkerContext } from './processor';
import { PROBE_QUEUE, RECONCILE_JOB, queuePrefix, type ProbeJobData } from './queue';
import { bullConnection, openWorkerStore } from './redis';
import { ProbeScheduler } from './scheduler';
import { gaugeRefresher } from './scrape';

export interface WorkerOptions {
  logger?: Logger;
  /** Overrides config.worker.metricsPort (0 = any free port). */
  metricsPort?: number;
}

export interface WorkerHandle {
  /** Port of GET /metrics. */
  metricsPort: number;
  metrics: WorkerMetrics;
  /** Shares the worker's queue: `rotor start` hands it to the proxy in the same process. */
  scheduler: ProbeScheduler;
  store: RedisKeyStore;
  worker: Worker<ProbeJobData>;
  /** New keys get probes, removed keys are skipped, new timings apply to the next delays. */
  reload(config: RotorConfig): Promise<void>;
  close(): Promise<void>;
}

/**
 * One worker replica: a BullMQ worker running probes (and the reconciliation sweep), and the metrics
 * server. Any number of replicas share the queue; BullMQ locks give each job to one of them.
 */
export async function startWorker(config: RotorConfig, options: WorkerOptions = {}): Promise<WorkerHandle> {
  const logger = options.logger ?? createLogger(config.log.level);
  const metrics = new WorkerMetrics();
  const redisErrors = (op: string) => metrics.redisErrors.inc({ op });
  // The store first: a Redis that does not answer stops the start with a clear message.
  const opened = await openWorkerStore(config, redisErrors, logger);
  const { store } = opened;
  const bull = bullConnection(config, redisErrors, logger);
  const prefix = queuePrefix(config.redis.prefix);
  const queue = new Queue<ProbeJobData>(PROBE_QUEUE, { connection: bull, prefix });
  queue.on('error', (error: Error) => logger.debug({ err: error.message }, 'queue error'));
  const scheduler = new ProbeScheduler(queue, config);
  const ctx: WorkerContext = { config, store, scheduler, metrics, logger };

  const w = config.worker;
  const worker = new Worker<ProbeJobData>(PROBE_QUEUE, processor(ctx), {
    connection: bull,
    prefix,
    concurrency: w.concurrency,
    lockDuration: w.lockDurationMs,
    stalledInterval: w.stalledIntervalMs,
    // A probe on a worker that died is run again; one that kills workers repeatedly is dropped (and
    // rescheduled by the next reconciliation).
    maxStalledCount: 3,
  });
  worker.on('failed', (job, error) => {
    metrics.jobsFailed.inc({ queue: PROBE_QUEUE, job: job?.name ?? 'unknown' });
    logger.warn({ job: job?.id, err: error.message }, 'job failed');
  });
  worker.on('stalled', (jobId) => {
    metrics.jobsStalled.inc({ queue: PROBE_QUEUE });
    logger.warn({ job: jobId }, 'job stalled (its worker died): running it again');
  });
  worker.on('error', (error) => {
    metrics.redisErrors.inc({ op: 'worker' });
    logger.warn({ err: error.message }, 'worker error');
  });
  await worker.waitUntilReady();
  await upsertReconcile(queue, config);

  const refresh = gaugeRefresher({ config: () => ctx.config, store, queue, metrics });
  const port = options.metricsPort ?? w.metricsPort;
  let server: http.Server;
  try {
    server = await startMetricsServer(metrics, refresh, port, config.host);
  } catch (error) {
    await worker.close(true);
    await queue.close();
    await Promise.all([closeRedis(bull), opened.close()]);
    throw new Error(`worker metrics port ${port}: ${(error as Error).message}`);
  }

  return {
    metricsPort: serverPort(server),
    metrics,
    scheduler,
    store,
    worker,
    reload: async (next) => {
      // The one step that can fail (Redis) comes first: a failed reload leaves the old config in force.
      if (next.worker.reconcileEveryMs !== ctx.config.worker.reconcileEveryMs) await upsertReconcile(queue, next);
      ctx.config = next;
      scheduler.reload(next);
      logger.info({ pools: Object.keys(next.pools).length }, 'worker config reloaded');
    },
    close: async () => {
      // A running probe finishes within its timeout; past the bound it is cut and its lock expires, so
      // another replica runs it again after lockDurationMs.
      const bound = w.probe.timeoutMs + 2000;
      const closed = await Promise.race([worker.close().then(() => true), sleep(bound).then(() => false)]);
      if (!closed) await worker.close(true);
      await queue.close();
      await closeServer(server);
      await Promise.all([closeRedis(bull), opened.close()]);
    },
  };
}

/** One repeatable sweep for all replicas (upserting the same scheduler id is idempotent). */
async function upsertReconcile(queue: Queue<ProbeJobData>, config: RotorConfig): Promise<void> {
  await queue.upsertJobScheduler(
    RECONCILE_JOB,
    { every: config.worker.reconcileEveryMs },
    { name: RECONCILE_JOB, opts: { removeOnComplete: true, removeOnFail: true } },
  );
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
