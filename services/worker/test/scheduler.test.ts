import { Queue } from 'bullmq';
import { createRedisClient } from '@rotor/redis-store';
import { testRedisUrl } from '@rotor/testkit';
import { firstProbeDelay, isProbed, probeDelay } from '../src/delays';
import { WorkerMetrics } from '../src/metrics';
import { PROBE_QUEUE, probeJobId, queuePrefix, type ProbeJobData } from '../src/queue';
import { reconcile } from '../src/reconcile';
import { ProbeScheduler } from '../src/scheduler';
import { idOf, reportOn, setup, silent, type Setup } from './helpers';

const timing = {
  suspendedAfterMs: 30_000,
  quotaAfterMs: 3_600_000,
  invalidAfterMs: 86_400_000,
  suspectAfterMs: 0,
  maxBackoffMs: 3_600_000,
  timeoutMs: 10_000,
};

describe('probe delays', () => {
  it('start from the reason the key left rotation', () => {
    expect(firstProbeDelay('quota', timing)).toBe(3_600_000);
    expect(firstProbeDelay('invalid_key', timing)).toBe(86_400_000);
    expect(firstProbeDelay('suspect_invalid', timing)).toBe(0);
    expect(firstProbeDelay('circuit_open', timing)).toBe(30_000);
    expect(firstProbeDelay('backoff_ceiling', timing)).toBe(30_000);
  });

  it('double with every probe that keeps the key out, capped, never below the first delay', () => {
    expect([0, 1, 2, 3, 7, 8, 200].map((n) => probeDelay('circuit_open', n, timing))).toEqual([
      30_000, 60_000, 120_000, 240_000, 3_600_000, 3_600_000, 3_600_000,
    ]);
    expect(probeDelay('quota', 5, timing)).toBe(3_600_000);
    expect(probeDelay('invalid_key', 3, timing)).toBe(86_400_000);
  });

  it('check a suspect at once, then back off from the suspended delay if it could not be checked', () => {
    expect([0, 1, 2].map((n) => probeDelay('suspect_invalid', n, timing))).toEqual([0, 30_000, 60_000]);
  });

  it('probe keys out by an upstream answer, never those an operator disabled', () => {
    expect(isProbed('suspended', 'quota')).toBe(true);
    expect(isProbed('disabled', 'invalid_key')).toBe(true);
    expect(isProbed('disabled', 'operator')).toBe(false);
    // A report's state 'cooling' is the key's bucket cooling (RotationState): the key is not out.
    expect(isProbed('cooling', 'rate_limited')).toBe(false);
    expect(isProbed('active', '')).toBe(false);
  });
});

describe('ProbeScheduler (real Redis, no worker)', () => {
  let s: Setup;
  let queue: Queue<ProbeJobData>;
  let scheduler: ProbeScheduler;
  const redis = createRedisClient({ url: testRedisUrl(), maxRetriesPerRequest: null });

  beforeEach(async () => {
    s = await setup({ keys: 5, worker: { probe: timing } });
    queue = new Queue<ProbeJobData>(PROBE_QUEUE, {
      connection: redis,
      prefix: queuePrefix(s.config.redis.prefix),
    });
    scheduler = new ProbeScheduler(queue, s.config);
  });
  afterEach(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    await s.close();
  });
  afterAll(() => redis.quit());

  it('one job per key however many replicas schedule it, delayed by reason, holding ids only', async () => {
    const [a, b] = s.secrets.map((secret) => idOf(s.config, secret));
    const other = await ProbeScheduler.open(s.config); // a second proxy replica, its own connection
    try {
      expect(await scheduler.schedule('openai', a!, 'suspended', 'quota')).toBe('added');
      expect(await other.schedule('openai', a!, 'suspended', 'quota')).toBe('pending');
      await Promise.all(
        Array.from({ length: 10 }, () => other.schedule('openai', b!, 'disabled', 'invalid_key')),
      );
    } finally {
      await other.close();
    }
    expect(await queue.getJobCounts('delayed', 'waiting', 'active')).toMatchObject({
      delayed: 2,
      waiting: 0,
      active: 0,
    });
    const job = (await queue.getJob(probeJobId('openai', a!)))!;
    expect(job.data).toEqual({ pool: 'openai', keyId: a, reason: 'quota', attempt: 0 });
    expect(job.delay).toBe(3_600_000);
    expect((await queue.getJob(probeJobId('openai', b!)))!.delay).toBe(86_400_000);
    const stored = JSON.stringify(
      await redis.hgetall(`${queuePrefix(s.config.redis.prefix)}:${PROBE_QUEUE}:${job.id}`),
    );
    for (const secret of s.secrets) expect(stored).not.toContain(secret);
  });

  it('ignores keys an operator disabled and keys in rotation (a key whose bucket cools is in rotation)', async () => {
    const a = idOf(s.config, s.secrets[0]!);
    expect(await scheduler.schedule('openai', a, 'disabled', 'operator')).toBe('ignored');
    expect(await scheduler.schedule('openai', a, 'cooling', 'rate_limited')).toBe('ignored');
    expect(await queue.count()).toBe(0);
  });

  it('a key that leaves rotation again restarts a pending probe left from an earlier backoff round', async () => {
    const a = idOf(s.config, s.secrets[0]!);
    await scheduler.schedule('openai', a, 'suspended', 'circuit_open');
    const job = (await queue.getJob(probeJobId('openai', a)))!;
    await job.updateData({ pool: 'openai', keyId: a, reason: 'circuit_open', attempt: 6 });
    await job.changeDelay(3_600_000);
    expect(await scheduler.schedule('openai', a, 'suspended', 'quota')).toBe('restarted');
    const after = (await queue.getJob(probeJobId('openai', a)))!;
    expect(after.data).toEqual({ pool: 'openai', keyId: a, reason: 'quota', attempt: 0 });
    expect(after.delay).toBe(3_600_000);
    expect(await queue.count()).toBe(1);
  });

  it('reconciliation schedules parked keys without a probe, from when they were parked, and nothing else', async () => {
    const [quota, invalid, byHand, already, cooled] = s.secrets.map((secret) => idOf(s.config, secret));
    await reportOn(s.store, s.config, quota!, 'quota');
    await reportOn(s.store, s.config, invalid!, 'invalid');
    // One 401 makes a suspect; the worker's probe confirmed it (as runProbe does).
    await s.store.setState('openai', invalid!, 'invalidate', 'invalid_key');
    await reportOn(s.store, s.config, byHand!, 'invalid');
    await s.store.setState('openai', byHand!, 'disable');
    await reportOn(s.store, s.config, already!, 'quota');
    await scheduler.schedule('openai', already!, 'suspended', 'quota');
    // A 429 cools the key's bucket: the key stays active, it returns by itself, it is never probed.
    expect(await reportOn(s.store, s.config, cooled!, 'rate')).toMatchObject({ state: 'cooling' });
    const snap = await s.store.snapshot('openai');
    expect(snap.keys.find((k) => k.id === cooled)?.state).toBe('active');
    expect(snap.buckets.filter((b) => b.state === 'cooling').map((b) => b.account)).toEqual([`~${cooled}`]);
    const metrics = new WorkerMetrics();
    const ctx = { config: s.config, store: s.store, scheduler, metrics, logger: silent };

    expect(await reconcile(ctx)).toEqual({ openai: 2 });
    expect((await queue.getJobs(['delayed'])).map((j) => j.data.keyId).sort()).toEqual(
      [quota, invalid, already].sort(),
    );
    const invalidJob = (await queue.getJob(probeJobId('openai', invalid!)))!;
    expect(invalidJob.delay).toBeGreaterThan(86_400_000 - 5_000);
    expect(invalidJob.delay).toBeLessThanOrEqual(86_400_000);
    expect(await reconcile(ctx)).toEqual({ openai: 0 });
    expect(await metrics.registry.getSingleMetricAsString('rotor_reconcile_scheduled_total')).toContain(
      'rotor_reconcile_scheduled_total{pool="openai"} 2',
    );
  });
});
