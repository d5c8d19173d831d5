import {
  between,
  configVariant,
  hgetall,
  figures,
  metricValue,
  metricsText,
  percentile,
  readyz,
  startProxyProcess,
  startTopology,
  statuses,
  steadyLoad,
  successRate,
  waitUntil,
  CLIENT_TOKEN,
  type ProxyProcess,
  type Topology,
} from '../src';

/**
 * Case 1: Redis killed during steady load, 3 replicas behind nginx. Fail-open (the default): every
 * replica serves from its own memory, capped so the 3 of them stay within each key's budget, says
 * `degraded` on /readyz and rotor_fallback_mode 1, and goes back to shared state by itself when Redis
 * returns. Fail-closed: a clear 503. memory://: one replica with no Redis, loudly announced.
 */
const OUTAGE_MS = 10_000;
const COMMAND_TIMEOUT_MS = 500;
const CAPPED_RPM = 30;
let topo: Topology;
let closed: ProxyProcess;

beforeAll(async () => {
  topo = await startTopology({
    replicas: 3,
    loadBalancer: true,
    windowMs: 60_000,
    providerRpm: 100_000,
    redisConfig: { commandTimeoutMs: COMMAND_TIMEOUT_MS, fallback: { refreshMs: 500, recoverEveryMs: 250 } },
    config: { log: { level: 'warn' } },
    pools: {
      steady: { keys: 4 },
      capped: { keys: 1, limits: { rpm: CAPPED_RPM, windowMs: 60_000 } },
      closed: { keys: 2 },
    },
  });
  // A deployment of its own on the same Redis (its own prefix, so it is not counted among the 3).
  const failClosed = configVariant(topo.configFile, 'fail-closed', (c) => {
    c.redis.failurePolicy = 'fail-closed';
    c.redis.prefix = 'rotor-closed';
  });
  closed = await startProxyProcess(failClosed);
}, 60_000);

afterAll(async () => {
  await closed?.stop();
  await topo?.stop();
});

const post = (url: string) =>
  fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('Redis killed under steady load (fail-open, 3 replicas behind nginx)', () => {
  it('keeps serving (>= 99%), capped, degraded + metric, bounded latency, back on shared state by itself', async () => {
    // Every replica has heard the others' heartbeats: each will take 1/3 of a key's budget in fallback.
    await new Promise((r) => setTimeout(r, 1200));
    const load = steadyLoad(`${topo.url}/steady`, 8);
    await new Promise((r) => setTimeout(r, 2000));

    const killedAt = Date.now();
    await topo.redis.kill();
    const detect = await waitUntil(
      async () => (await Promise.all(topo.proxies.map((p) => readyz(p.url)))).every((r) => r.status === 'degraded'),
      3000,
      'every replica degraded',
    );
    const ready = await Promise.all(topo.proxies.map((p) => readyz(p.url)));
    const fallbackGauge = await Promise.all(topo.proxies.map(async (p) => metricValue(await metricsText(p.url), 'rotor_fallback_mode')));

    // The cap: 100 requests at a key whose declared budget is 30 per window, through all 3 replicas.
    const cappedAnswers = await Promise.all(Array.from({ length: 100 }, () => post(`${topo.url}/capped`).then((r) => r.status)));
    const cappedCalls = topo.poolStat('capped', 'calls');

    // Fail-closed replica: a clear 503, nothing sent upstream.
    const closedCallsBefore = topo.poolStat('closed', 'calls');
    const refused = await post(`${closed.url}/closed`);
    const refusedBody = (await refused.json()) as { error: { message: string } };
    const closedReady = await readyz(closed.url);

    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + OUTAGE_MS - Date.now())));
    const restartedAt = Date.now();
    const redis = await topo.redis.restart();
    topo.redis = redis;
    const recovery = await waitUntil(
      async () => (await Promise.all([...topo.proxies, closed].map((p) => readyz(p.url)))).every((r) => r.status === 'ready'),
      10_000,
      'every replica ready again',
    );
    await new Promise((r) => setTimeout(r, 1000));
    const samples = await load.stop();

    const outage = between(samples, killedAt, restartedAt);
    const after = between(samples, restartedAt + recovery, Date.now());
    const latencies = outage.map((s) => s.end - s.start);
    // Shared state again: the restarted (empty) Redis got the pools back and counts hand-outs.
    const states = await hgetall(redis.port, 'rotor:{steady}:states');
    const acquired = await Promise.all(Object.keys(states).map(async (id) => (await hgetall(redis.port, `rotor:{steady}:key:${id}`)).acquired));
    const gaugeAfter = await Promise.all(topo.proxies.map(async (p) => metricValue(await metricsText(p.url), 'rotor_fallback_mode')));

    figures('redis outage (fail-open)', {
      outageMs: restartedAt - killedAt,
      requestsDuringOutage: outage.length,
      successRate: Number((successRate(outage) * 100).toFixed(2)),
      statuses: statuses(outage),
      latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) },
      degradedAfterMs: detect,
      fallbackGauge,
      capped: { declaredPerWindow: CAPPED_RPM, sent: 100, upstreamCalls: cappedCalls, answers: statuses(cappedAnswers.map((status) => ({ status, start: 0, end: 0 }))) },
      failClosed: { status: refused.status, upstreamCalls: topo.poolStat('closed', 'calls') - closedCallsBefore, readyz: closedReady.code },
      recoveredAfterRestartMs: recovery,
      afterRecovery: { requests: after.length, successRate: successRate(after), fallbackGauge: gaugeAfter },
    });

    expect(successRate(outage)).toBeGreaterThanOrEqual(0.99);
    expect(outage.length).toBeGreaterThan(100);
    expect(Math.max(...latencies)).toBeLessThanOrEqual(COMMAND_TIMEOUT_MS + 300);
    expect(ready.map((r) => [r.code, r.status])).toEqual([
      [200, 'degraded'],
      [200, 'degraded'],
      [200, 'degraded'],
    ]);
    expect(ready[0]!.detail).toContain('each key at 1/3 of its budget');
    expect(fallbackGauge).toEqual([1, 1, 1]);
    // 3 replicas in fallback together stay within the key's declared budget (not 3 x 30).
    expect(cappedCalls).toBeLessThanOrEqual(CAPPED_RPM);
    expect(cappedCalls).toBeGreaterThanOrEqual(CAPPED_RPM - 3);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('x-rotor-error')).toBe('redis_unavailable');
    expect(refusedBody.error.message).toContain('fail-closed');
    expect(topo.poolStat('closed', 'calls')).toBe(closedCallsBefore);
    expect(closedReady.code).toBe(503);
    expect(recovery).toBeLessThan(5000);
    expect(gaugeAfter).toEqual([0, 0, 0]);
    expect(successRate(after)).toBe(1);
    expect(Object.keys(states)).toHaveLength(4);
    expect(acquired.reduce((sum, n) => sum + Number(n ?? 0), 0)).toBeGreaterThan(0);
    expect(topo.logs()).toContain('REDIS UNREACHABLE');
    expect(topo.logs()).toContain('back on shared state');
  }, 60_000);
});

describe('no Redis at all (redis.url memory://)', () => {
  it('one replica serves from its own memory, says so loudly, and reports degraded', async () => {
    const file = configVariant(topo.configFile, 'memory', (c) => {
      c.redis = { url: 'memory://' };
    });
    const solo = await startProxyProcess(file);
    try {
      const answers = await Promise.all(Array.from({ length: 12 }, () => post(`${solo.url}/steady`).then((r) => r.status)));
      const ready = await readyz(solo.url);
      figures('memory:// replica', { answers: statuses(answers.map((status) => ({ status, start: 0, end: 0 }))), readyz: ready });
      expect(answers.every((s) => s === 200)).toBe(true);
      expect([ready.code, ready.status]).toEqual([200, 'degraded']);
      expect(solo.output()).toContain('NO REDIS');
      expect(solo.output()).toContain('run ONE replica');
    } finally {
      await solo.stop();
    }
  });
});
