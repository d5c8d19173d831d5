import { Queue } from 'bullmq';
import { createRedisClient } from '@rotor/redis-store';
import { startWorker } from '../src/app';
import { PROBE_QUEUE, probeJobId, queuePrefix } from '../src/queue';
import { idOf, keyState, reportOn, setup, silent, waitFor, type Setup } from './helpers';

describe('graceful shutdown', () => {
  let s: Setup;
  afterAll(() => s?.close());

  it('lets the running probe finish (within its timeout), keeps its job for the next probe, then closes', async () => {
    s = await setup({ keys: 1, worker: { probe: { quotaAfterMs: 100, timeoutMs: 800 } } });
    const [secret] = s.secrets as [string];
    const id = idOf(s.config, secret);
    s.sim.setMode(secret, 'hang');
    await reportOn(s.store, s.config, id, 'quota');
    const worker = await startWorker(s.config, { logger: silent, metricsPort: 0 });
    await worker.scheduler.schedule('openai', id, 'suspended', 'quota');
    await waitFor('the probe in flight', () => s.sim.stats(secret).calls === 1, 3000);

    const started = Date.now();
    await worker.close();
    const took = Date.now() - started;
    // It waited for the probe to time out (not cut it), and not longer than the bound (timeout + 2 s).
    expect(took).toBeGreaterThanOrEqual(400);
    expect(took).toBeLessThan(800 + 2000);
    expect(s.sim.aborted.filter((a) => a.secret === secret)).toHaveLength(1);

    // The timed-out probe kept the key out and its job waits for the next worker: nothing was lost.
    expect(await keyState(s.store, id)).toMatchObject({ state: 'suspended', reason: 'quota' });
    // No worker promotes it now: it sits in `delayed` until one comes.
    const redis = createRedisClient({ url: s.config.redis.url, maxRetriesPerRequest: null });
    const queue = new Queue(PROBE_QUEUE, { connection: redis, prefix: queuePrefix(s.config.redis.prefix) });
    try {
      const job = await queue.getJob(probeJobId('openai', id));
      expect(job?.data).toEqual({ pool: 'openai', keyId: id, reason: 'quota', attempt: 1 });
      expect(await job!.getState()).toBe('delayed');
    } finally {
      await queue.close();
      await redis.quit();
    }
  });
});
