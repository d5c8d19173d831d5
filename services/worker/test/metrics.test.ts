import { spawnSync } from 'node:child_process';
import type { BucketSnapshot, KeySnapshot, PoolSnapshot } from '@rotor/redis-store';
import { startWorker, type WorkerHandle } from '../src/app';
import { modelFigures } from '../src/metrics';
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

  it('passes promtool and its gauges match the store snapshot for keys in every state and buckets per model', async () => {
    // Long probe delays: nothing changes state while we compare.
    const long = {
      suspendedAfterMs: 600_000,
      quotaAfterMs: 600_000,
      invalidAfterMs: 600_000,
      maxBackoffMs: 600_000,
    };
    s = await setup({ keys: 7, worker: { probe: long } });
    const ids = s.secrets.map((secret) => idOf(s.config, secret));
    const [known, requestsOnly, cooling, quota, breaker, invalid, byHand] = ids as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    // Two answers tell what their buckets of the default group have left (10 minutes to their reset);
    // a 429 for gpt-4o cools the third key's gpt-4o bucket only: the key stays active.
    const window = { resetRequestsMs: 600_000, resetTokensMs: 600_000 };
    await reportOn(s.store, s.config, known, {
      kind: 'success',
      status: 200,
      rateLimit: { ...window, remainingRequests: 40, remainingTokens: 9000 },
    });
    await reportOn(s.store, s.config, requestsOnly, {
      kind: 'success',
      status: 200,
      rateLimit: { resetRequestsMs: 600_000, remainingRequests: 50 },
    });
    const cooled = await reportOn(s.store, s.config, cooling, 'rate', 'openai', 'gpt-4o');
    expect(cooled).toMatchObject({ state: 'cooling', account: `~${cooling}` });
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
    for (const state of ['active', 'suspended', 'disabled']) {
      expected.set(`pool="openai",state="${state}"`, snap.keys.filter((k) => k.state === state).length);
    }
    expect(series(text, 'rotor_pool_keys')).toEqual(expected);
    expect(Object.fromEntries(expected)).toEqual({
      'pool="openai",state="active"': 3,
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
    ]);

    // Buckets per model group: one per account of the 3 active keys (each its own account) in every
    // group the pool tracks; only gpt-4o's bucket of the third key cools.
    expect(snap.groups).toEqual(['default', 'gpt-4o', 'other']);
    const coolingBucket = snap.buckets.find((b) => b.state === 'cooling')!;
    expect(coolingBucket).toMatchObject({ account: `~${cooling}`, group: 'gpt-4o', reason: 'rate_limited' });
    expect(series(text, 'rotor_buckets')).toEqual(
      new Map([
        ['model="default",pool="openai",state="cooling"', 0],
        ['model="default",pool="openai",state="ready"', 3],
        ['model="gpt-4o",pool="openai",state="cooling"', 1],
        ['model="gpt-4o",pool="openai",state="ready"', 2],
        ['model="other",pool="openai",state="cooling"', 0],
        ['model="other",pool="openai",state="ready"', 3],
      ]),
    );
    const cooldowns = series(text, 'rotor_bucket_cooldown_seconds');
    expect([...cooldowns.keys()].sort()).toEqual([
      'model="default",pool="openai"',
      'model="gpt-4o",pool="openai"',
      'model="other",pool="openai"',
    ]);
    expect(cooldowns.get('model="default",pool="openai"')).toBe(0);
    expect(cooldowns.get('model="gpt-4o",pool="openai"')).toBeCloseTo(
      (coolingBucket.until! - snap.now) / 1000,
      0,
    );
    expect(cooldowns.get('model="gpt-4o",pool="openai"')).toBeGreaterThan(50);
    // Room left: what the answers said, summed per group; the cooling bucket has none; nothing is
    // known of `other` (no series).
    expect(series(text, 'rotor_bucket_remaining_requests')).toEqual(
      new Map([
        ['model="default",pool="openai"', 90],
        ['model="gpt-4o",pool="openai"', 0],
      ]),
    );
    expect(series(text, 'rotor_bucket_remaining_tokens')).toEqual(
      new Map([
        ['model="default",pool="openai"', 9000],
        ['model="gpt-4o",pool="openai"', 0],
      ]),
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

describe('modelFigures (the bucket gauges of one pool)', () => {
  const NOW = 1_000_000;
  const key = (id: string, state: KeySnapshot['state'], account?: string): KeySnapshot => ({
    id,
    state,
    ...(account ? { account } : {}),
    weight: 1,
    inflight: 0,
    acquired: 0,
    successes: 0,
    rateLimited: 0,
    failures: 0,
    consecutiveFailures: 0,
  });
  const bucket = (account: string, group: string, fields: Partial<BucketSnapshot> = {}): BucketSnapshot => ({
    account,
    group,
    state: 'ready',
    inflight: 0,
    ...fields,
  });
  const pool = (keys: KeySnapshot[], buckets: BucketSnapshot[], groups: string[]): PoolSnapshot => ({
    pool: 'p',
    now: NOW,
    keys,
    buckets,
    groups,
  });

  it('counts one bucket per account with an active key, never those of parked accounts', () => {
    const figures = modelFigures(
      pool(
        [
          key('k1', 'active', 'org-a'),
          key('k2', 'active', 'org-a'), // same account: same bucket
          key('k3', 'suspended', 'org-a'),
          key('k4', 'active'), // its own account ~k4
          key('k5', 'suspended', 'org-b'), // org-b serves nothing: its cooling bucket does not count
        ],
        [
          bucket('org-a', 'gpt-4o', { state: 'cooling', until: NOW + 30_000 }),
          bucket('~k4', 'gpt-4o', { state: 'cooling', until: NOW + 5_000 }),
          bucket('org-b', 'gpt-4o', { state: 'cooling', until: NOW + 90_000 }),
          bucket('org-b', 'default', { remainingRequests: 7, resetRequestsAt: NOW + 1000 }),
        ],
        ['default', 'gpt-4o', 'other'],
      ),
    );
    expect(Object.fromEntries(figures)).toEqual({
      default: { ready: 2, cooling: 0, cooldownMs: 0 },
      'gpt-4o': { ready: 0, cooling: 2, cooldownMs: 30_000, requests: 0, tokens: 0 },
      other: { ready: 2, cooling: 0, cooldownMs: 0 },
    });
  });

  it('sums the room of windows still running, each figure on its own reset', () => {
    const figures = modelFigures(
      pool(
        [key('k1', 'active', 'org-a'), key('k2', 'active', 'org-b'), key('k3', 'active', 'org-c')],
        [
          bucket('org-a', 'default', {
            remainingRequests: 10,
            resetRequestsAt: NOW + 1000,
            remainingTokens: 500,
            resetTokensAt: NOW, // this window just reset: its figure is stale
          }),
          bucket('org-b', 'default', { remainingRequests: 5, resetRequestsAt: NOW + 1 }),
          bucket('org-c', 'default', { remainingRequests: 99, resetRequestsAt: NOW - 1 }), // stale
          // A bucket of a group the snapshot's groups miss (read between two writes): still counted.
          bucket('org-a', 'late', { remainingTokens: 300, resetTokensAt: NOW + 10 }),
        ],
        ['default'],
      ),
    );
    expect(figures.get('default')).toEqual({ ready: 3, cooling: 0, cooldownMs: 0, requests: 15 });
    expect(figures.get('late')).toEqual({ ready: 3, cooling: 0, cooldownMs: 0, tokens: 300 });
  });
});
