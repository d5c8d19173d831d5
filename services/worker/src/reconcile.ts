import type { RotorConfig } from '@rotor/core';
import type { RedisKeyStore } from '@rotor/redis-store';
import { isProbed } from './delays';
import type { Logger } from './logger';
import type { WorkerMetrics } from './metrics';
import type { ProbeScheduler } from './scheduler';

export interface ReconcileContext {
  config: RotorConfig;
  store: RedisKeyStore;
  scheduler: ProbeScheduler;
  metrics: WorkerMetrics;
  logger: Logger;
}

/**
 * The safety net behind "a report that parks a key schedules its probe": every key of every configured
 * pool that is out until a probe (suspended, or disabled by upstream) and has no probe pending or
 * running gets one. Catches a proxy that died between report and enqueue, a probe dropped after
 * failing, a queue flushed by hand. Runs as a BullMQ repeatable job, so once per period over all replicas.
 */
export async function reconcile(ctx: ReconcileContext): Promise<Record<string, number>> {
  const scheduled: Record<string, number> = {};
  for (const pool of Object.values(ctx.config.pools)) {
    const configured = new Set(pool.keys.map((k) => k.id));
    const { now, keys } = await ctx.store.parkedKeys(pool.name);
    let n = 0;
    for (const key of keys) {
      if (!configured.has(key.id) || !isProbed(key.state, key.reason)) continue;
      if (await ctx.scheduler.ensure(pool.name, key.id, key.reason, key.parkedAt, now)) n++;
    }
    scheduled[pool.name] = n;
    if (n > 0) {
      ctx.metrics.reconcileScheduled.inc({ pool: pool.name }, n);
      ctx.logger.warn(
        { pool: pool.name, scheduled: n },
        'reconciliation scheduled probes for parked keys that had none',
      );
    }
  }
  ctx.metrics.reconcileLastRun.set(Date.now() / 1000);
  return scheduled;
}
