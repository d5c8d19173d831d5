import { spawnSync } from 'node:child_process';
import { startWorker, type WorkerHandle } from '../src/app';
import { idOf, metricValue, reportOn, scrape, setup, silent, waitFor, type Setup } from './helpers';

/** Every series of one metric as `labels -> value`, labels rendered in a fixed order. */
function series(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2]!.split(',').sort().join(','), Number(m[3]));
  }
  return out;
}

describe('GET /metrics', () => {
  let s: Setup;
  let worker: WorkerHandle;
  afterAll(async () => {
    await worker?.close();
    await s?.close();
  });

  it('passes promtool and its gauges match the store snapshot for a pool with keys in every state', async () => {
    // Long probe delays: nothing changes state while we compare.
    const long = {
      suspendedAfterMs: 600_000,
      quotaAfterMs: 600_000,
      invalidAfterMs: 600_000,
      maxBackoffMs: 600_000,
    };
    s = await setup({ keys: 7, worker: { probe: long } });
    const ids = s.secrets.map((secret) => idOf(s.config, secret));
    const [, , cooling, quota, breaker, invalid, byHand] = ids as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    await reportOn(s.store, s.config, cooling, 'rate');
    await reportOn(s.store, s.config, quota, 'quota');
    for (let i = 0; i < 5; i++) await reportOn(s.store, s.config, breaker, 'server'); // circuit breaker
    await reportOn(s.store, s.config, invalid, 'invalid');
    await s.store.setState('openai', invalid, 'invalidate', 'invalid_key'); // the probe confirmed it
    await s.store.setState('openai', byHand, 'disable');

    worker = await startWorker(s.config, { logger: silent, metricsPort: 0 });
    // The startup sweep schedules the three probed keys (operator-disabled is never probed).
    const text = await waitFor(
      'the startup reconciliation in the gauges',
      async () => {
        const t = await scrape(worker.metricsPort);
        return metricValue(t, 'rotor_queue_jobs', { state: 'delayed' }) === 4 ? t : undefined;
      },
      5000,
      200,
    );
    const snap = await s.store.snapshot('openai');

    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (check.error)
      throw new Error(`promtool not runnable (apt-get install prometheus): ${check.error.message}`);
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);

    const expected = new Map<string, number>();
    for (const state of ['active', 'cooling', 'suspended', 'disabled']) {
      expected.set(`pool="openai",state="${state}"`, snap.keys.filter((k) => k.state === state).length);
    }
    expect(series(text, 'rotor_pool_keys')).toEqual(expected);
    expect(Object.fromEntries(expected)).toEqual({
      'pool="openai",state="active"': 2,
      'pool="openai",state="cooling"': 1,
      'pool="openai",state="suspended"': 2,
      'pool="openai",state="disabled"': 2,
    });

    const out = new Map<string, number>();
    for (const k of snap.keys.filter((k) => k.state !== 'active')) {
      const labels = [`pool="openai"`, `reason="${k.reason}"`, `state="${k.state}"`].join(',');
      out.set(labels, (out.get(labels) ?? 0) + 1);
    }
    expect(series(text, 'rotor_pool_keys_out')).toEqual(out);
    expect([...out.keys()].map((l) => /reason="(\w+)"/.exec(l)![1]).sort()).toEqual([
      'circuit_open',
      'invalid_key',
      'operator',
      'quota',
      'rate_limited',
    ]);

    const cooldowns = series(text, 'rotor_key_cooldown_seconds');
    const coolingKey = snap.keys.find((k) => k.id === cooling)!;
    expect([...cooldowns.keys()]).toEqual([`key_id="${cooling}",pool="openai"`]);
    expect(cooldowns.get(`key_id="${cooling}",pool="openai"`)).toBeCloseTo(
      (coolingKey.until! - snap.now) / 1000,
      0,
    );

    const parked = series(text, 'rotor_key_out_of_rotation_seconds');
    expect([...parked.keys()].map((l) => /key_id="(\w+)"/.exec(l)![1]).sort()).toEqual(
      [quota, breaker, invalid, byHand].sort(),
    );
    for (const value of parked.values()) expect(value).toBeLessThan(10);

    expect(metricValue(text, 'rotor_queue_jobs', { queue: 'probes', state: 'failed' })).toBe(0);
    expect(metricValue(text, 'rotor_reconcile_last_run_timestamp_seconds')).toBeGreaterThan(0);
    for (const secret of s.secrets) expect(text).not.toContain(secret);
  });
});
