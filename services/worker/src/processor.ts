import { DelayedError, type Job } from 'bullmq';
import { probeDelay } from './delays';
import { runProbe, type ProbeContext } from './probe-job';
import { PROBE_JOB, RECONCILE_JOB, type ProbeJobData } from './queue';
import { reconcile, type ReconcileContext } from './reconcile';

export type WorkerContext = ProbeContext & ReconcileContext;

/**
 * The BullMQ processor. A probe that keeps its key out does not finish: its job (same id, so still the
 * key's only probe) moves back to `delayed` with the next attempt number and a doubled delay, capped.
 */
export function processor(ctx: WorkerContext) {
  return async (job: Job<ProbeJobData>, token?: string): Promise<unknown> => {
    if (job.name === RECONCILE_JOB) return reconcile(ctx);
    if (job.name !== PROBE_JOB) throw new Error(`unknown job ${job.name}`);
    const verdict = await runProbe(ctx, job.data);
    if (verdict.done) return verdict.why;
    const { next } = verdict;
    await job.updateData(next);
    await job.moveToDelayed(
      Date.now() + probeDelay(next.reason, next.attempt, ctx.config.worker.probe),
      token,
    );
    throw new DelayedError();
  };
}
