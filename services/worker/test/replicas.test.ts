import { ProbeScheduler } from '../src/scheduler';
import {
  idOf,
  keyState,
  killAllWorkers,
  metricValue,
  reportOn,
  scrape,
  setup,
  spawnWorker,
  waitFor,
  type Setup,
  type WorkerProcess,
} from './helpers';

afterAll(killAllWorkers);

/** Worker processes started by a test; SIGKILLed at its end whatever happened. */
const started: WorkerProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.kill()));
});
async function worker(s: Setup, entry: 'worker' | 'cli' = 'worker') {
  const w = await spawnWorker(s.raw, entry);
  started.push(w);
  return w;
}

/** How the proxies do it: a scheduler per replica, all scheduling the same keys. */
async function scheduleAll(s: Setup, ids: string[], replicas = 2): Promise<void> {
  const schedulers = await Promise.all(Array.from({ length: replicas }, () => ProbeScheduler.open(s.config)));
  try {
    for (const scheduler of schedulers) {
      await Promise.all(ids.map((id) => scheduler.schedule('openai', id, 'suspended', 'quota')));
    }
  } finally {
    await Promise.all(schedulers.map((x) => x.close()));
  }
}

describe('worker replicas (separate processes)', () => {
  let s: Setup;
  afterEach(() => s?.close());

  it('two workers, 50 suspended keys: every key probed exactly once per round, none twice', async () => {
    // Rounds of 1 s (quotaAfterMs = maxBackoffMs), so a key's probes must be ~1 s apart.
    s = await setup({ keys: 50, worker: { probe: { quotaAfterMs: 1000, maxBackoffMs: 1000 } } });
    for (const secret of s.secrets) s.sim.setMode(secret, 'quota');
    const ids = s.secrets.map((secret) => idOf(s.config, secret));
    for (const id of ids) await reportOn(s.store, s.config, id, 'quota');
    const [a, b] = await Promise.all([worker(s), worker(s)]);
    await scheduleAll(s, ids);

    const calls = () => s.secrets.map((secret) => s.sim.stats(secret).calls);
    await waitFor('two rounds on every key', () => calls().every((n) => n >= 2), 8000, 10);
    for (const id of ids)
      expect(await keyState(s.store, id)).toMatchObject({ state: 'suspended', reason: 'quota' });
    // The provider takes the keys again: the next round reinstates each key, then probes stop.
    for (const secret of s.secrets) s.sim.setMode(secret, 'ok');
    await waitFor(
      'every key back',
      async () => (await s.store.snapshot('openai')).keys.every((k) => k.state === 'active'),
      8000,
      50,
    );

    // None twice: a key's probes are a whole round apart (a duplicate job would show up as a short gap).
    const rounds: number[] = [];
    for (const secret of s.secrets) {
      const at = s.sim.requestLog.filter((e) => e.secret === secret).map((e) => e.at);
      for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(950);
      expect(s.sim.stats(secret).ok).toBe(1); // exactly one probe found it fit; the rest saw no credit
      rounds.push(at.length);
    }
    expect(Math.min(...rounds)).toBeGreaterThanOrEqual(3);

    // Both replicas took part, and together they sent every probe the provider saw, no more.
    const [ta, tb] = await Promise.all([scrape(a!.metricsPort), scrape(b!.metricsPort)]);
    const byA = metricValue(ta, 'rotor_probes_total');
    const byB = metricValue(tb, 'rotor_probes_total');
    expect(byA).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
    expect(byA + byB).toBe(s.sim.totals().calls);
    expect(
      metricValue(ta, 'rotor_probes_total', { result: 'success' }) +
        metricValue(tb, 'rotor_probes_total', { result: 'success' }),
    ).toBe(50);
  });

  it('a worker SIGKILLed mid-probe: the other replica, or a restarted one, completes the probe within one stall check', async () => {
    // Probes hang (timeout 20 s), a dead worker's lock lasts 1 s, stall checks every 1 s.
    s = await setup({ keys: 2, worker: { probe: { quotaAfterMs: 200, timeoutMs: 20_000 } } });
    const bound = 1000 + 2 * 1000 + 1000; // lockDurationMs + 2 stall checks + slack
    const [k1, k2] = s.secrets as [string, string];
    const [id1, id2] = [idOf(s.config, k1), idOf(s.config, k2)];
    s.sim.setMode(k1, 'hang');
    s.sim.setMode(k2, 'hang');
    await reportOn(s.store, s.config, id1, 'quota');

    // The other replica: W1 hangs in K1's probe, W2 (started through `rotor worker`) is idle.
    const w1 = await worker(s);
    await scheduleAll(s, [id1], 1);
    await waitFor('K1 probe in flight', () => s.sim.stats(k1).calls === 1, 5000);
    const w2 = await worker(s, 'cli');
    await w1.kill('SIGKILL');
    const killed1 = Date.now();
    s.sim.setMode(k1, 'ok');
    await waitFor(
      'K1 back in rotation',
      async () => (await keyState(s.store, id1)).state === 'active',
      bound + 2000,
    );
    expect(Date.now() - killed1).toBeLessThan(bound);
    expect(s.sim.stats(k1)).toMatchObject({ calls: 2, ok: 1 });
    expect(metricValue(await scrape(w2.metricsPort), 'rotor_queue_jobs_stalled_total')).toBe(1);

    // A restart: W2 hangs in K2's probe and is killed; W1 comes back and completes it.
    await reportOn(s.store, s.config, id2, 'quota');
    await scheduleAll(s, [id2], 1);
    await waitFor('K2 probe in flight', () => s.sim.stats(k2).calls === 1, 5000);
    await w2.kill('SIGKILL');
    s.sim.setMode(k2, 'ok');
    await worker(s);
    const restarted = Date.now();
    await waitFor(
      'K2 back in rotation',
      async () => (await keyState(s.store, id2)).state === 'active',
      bound + 2000,
    );
    expect(Date.now() - restarted).toBeLessThan(bound);
    expect(s.sim.stats(k2)).toMatchObject({ calls: 2, ok: 1 });
  });
});
