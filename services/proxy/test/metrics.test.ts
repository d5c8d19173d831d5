import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { ModelLabels } from '../src/model-labels';
import { CLIENT_TOKEN, startRig, type Rig } from './harness';

/** The value of one series (labels given as a subset) in a Prometheus text exposition. */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return undefined;
}

describe('proxy /metrics', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ keys: 2, rpm: 2, windowMs: 60_000 });
  });
  afterAll(() => rig?.close());

  const chat = () =>
    fetch(`${rig.proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('passes promtool check metrics and carries the latency, in-flight, Redis and fallback series', async () => {
    const initial = await (await fetch(`${rig.proxy.url}/metrics`)).text();
    // Zero series from the start: rates and alerts have data before the first event.
    expect(value(initial, 'rotor_fallback_mode')).toBe(0);
    // ... per model group for the groups every pool tracks.
    for (const model of ['default', 'other']) {
      expect(value(initial, 'rotor_exhausted_total', { pool: 'openai', model })).toBe(0);
      expect(value(initial, 'rotor_upstream_429_total', { pool: 'openai', kind: 'quota', model })).toBe(0);
    }
    expect(value(initial, 'rotor_exhausted_total', { pool: 'openai', model: 'gpt-4o-mini' })).toBeUndefined();
    expect(value(initial, 'rotor_redis_errors_total', { op: 'acquire' })).toBe(0);

    rig.sim.consume(rig.secrets[0]!, 2); // the first key answers 429: a retry on the second
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await chat()).status);
    expect(statuses).toEqual([200, 200, 429, 429]);

    const text = await (await fetch(`${rig.proxy.url}/metrics`)).text();
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (check.error)
      throw new Error(`promtool not runnable (apt-get install prometheus): ${check.error.message}`);
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);

    expect(value(text, 'rotor_upstream_latency_seconds_count', { pool: 'openai' })).toBe(3);
    expect(value(text, 'rotor_requests_in_flight', { pool: 'openai' })).toBe(0);
    expect(value(text, 'rotor_redis_duration_seconds_count', { op: 'acquire' })).toBeGreaterThanOrEqual(5);
    // Attempts, 429s and exhaustion carry the request's model group (gpt-4o-mini is its own group).
    const model = 'gpt-4o-mini';
    expect(value(text, 'rotor_upstream_429_total', { pool: 'openai', kind: 'rate', model })).toBe(1);
    expect(value(text, 'rotor_upstream_429_total', { pool: 'openai', kind: 'rate', model: 'default' })).toBe(
      0,
    );
    expect(
      value(text, 'rotor_upstream_attempts_total', { pool: 'openai', outcome: 'rate_limited', model }),
    ).toBe(1);
    expect(value(text, 'rotor_upstream_attempts_total', { pool: 'openai', outcome: 'success', model })).toBe(
      2,
    );
    expect(value(text, 'rotor_retries_total', { pool: 'openai' })).toBe(1);
    expect(value(text, 'rotor_exhausted_total', { pool: 'openai', model })).toBe(2);
    expect(value(text, 'rotor_exhausted_total', { pool: 'openai', model: 'default' })).toBe(0);
    expect(value(text, 'rotor_requests_total', { pool: 'openai', route: '/v1', status: '4xx' })).toBe(2);
    for (const secret of rig.secrets) expect(text).not.toContain(secret);
    expect(text).not.toContain(CLIENT_TOKEN);

    rig.proxy.metrics.setFallback(true);
    expect(value(await (await fetch(`${rig.proxy.url}/metrics`)).text(), 'rotor_fallback_mode')).toBe(1);
    rig.proxy.metrics.setFallback(false);
  });

  it('counts requests in flight while upstream keeps them waiting', async () => {
    // The anthropic pool shares the keys but not their state: its keys are all in rotation.
    rig.sim.setMode(rig.secrets[1]!, 'hang');
    rig.sim.setMode(rig.secrets[0]!, 'hang');
    // node:http, so that destroying the request really closes the socket (the client leaves).
    const pending = http.get(`${rig.proxy.url}/anthropic/v1/models`, {
      headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'anthropic-version': '2023-06-01' },
    });
    pending.on('error', () => undefined);
    let inFlight: number | undefined;
    for (let i = 0; i < 50 && inFlight !== 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
      inFlight = value(await (await fetch(`${rig.proxy.url}/metrics`)).text(), 'rotor_requests_in_flight', {
        pool: 'anthropic',
      });
    }
    expect(inFlight).toBe(1);
    pending.destroy();
    for (let i = 0; i < 50 && inFlight !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      inFlight = value(await (await fetch(`${rig.proxy.url}/metrics`)).text(), 'rotor_requests_in_flight', {
        pool: 'anthropic',
      });
    }
    expect(inFlight).toBe(0);
    rig.sim.setMode(rig.secrets[0]!, 'ok');
    rig.sim.setMode(rig.secrets[1]!, 'ok');
  });
});

describe('the model label', () => {
  it('is the model group, bounded per pool as the store bounds its groups; past the bound, other', () => {
    const labels = new ModelLabels();
    // Tracked: default, other, fast (configured); 2 more groups may be named (maxModelGroups).
    expect(
      labels.configure({ name: 'p', modelGroups: { fast: ['gpt-4o-mini'] }, maxModelGroups: 2 }),
    ).toEqual(['default', 'other', 'fast']);
    expect(['a', 'b', 'c', 'a', 'fast', 'default'].map((g) => labels.of('p', g))).toEqual([
      'a',
      'b',
      'other',
      'a',
      'fast',
      'default',
    ]);
    // A name unfit for a label (and a bucket) is other; each pool has its own bound.
    expect(labels.of('p', 'has space')).toBe('other');
    expect(labels.of('q', 'c')).toBe('c');
    // A reload that raises the bound lets new groups in; those named stay.
    labels.configure({ name: 'p', modelGroups: { fast: ['gpt-4o-mini'] }, maxModelGroups: 3 });
    expect(['c', 'd', 'b'].map((g) => labels.of('p', g))).toEqual(['c', 'other', 'b']);
  });
});
