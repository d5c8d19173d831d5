import type { RotorConfig } from '@rotor/core';
import type { RedisKeyStore } from '@rotor/redis-store';
import type { Queue } from 'bullmq';
import { QUEUE_STATES, type WorkerMetrics } from './metrics';

export interface ScrapeSources {
  config: () => RotorConfig;
  store: RedisKeyStore;
  queue: Queue;
  metrics: WorkerMetrics;
}

/**
 * Refreshes the pool and queue gauges from the store right before a scrape. Concurrent scrapes share one
 * refresh, and a refresh younger than `maxAgeMs` is reused. If Redis fails, the gauges keep their last
 * values and rotor_redis_errors_total{op="snapshot"} counts it.
 */
export function gaugeRefresher(sources: ScrapeSources, maxAgeMs = 1000): () => Promise<void> {
  let running: Promise<void> | undefined;
  let doneAt = 0;
  const refresh = async () => {
    const { metrics, store, queue } = sources;
    try {
      const pools = Object.keys(sources.config().pools);
      metrics.setPools(await Promise.all(pools.map((pool) => store.snapshot(pool))));
    } catch {
      metrics.redisErrors.inc({ op: 'snapshot' });
    }
    try {
      metrics.setQueue(queue.name, await queue.getJobCounts(...QUEUE_STATES));
    } catch {
      metrics.redisErrors.inc({ op: 'queue_counts' });
    }
    doneAt = Date.now();
  };
  return () => {
    if (running) return running;
    if (Date.now() - doneAt < maxAgeMs) return Promise.resolve();
    running = refresh().finally(() => {
      running = undefined;
    });
    return running;
  };
}
