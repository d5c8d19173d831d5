import {
  figures,
  hgetall,
  readyz,
  redisCli,
  startSentinelSetup,
  startTopology,
  statuses,
  steadyLoad,
  successRate,
  waitUntil,
  type SentinelSetup,
  type Topology,
} from '../src';

/**
 * Case 5: Redis Sentinel (Debian's redis-sentinel: a primary, a replica, 3 sentinels, quorum 2). The
 * primary is killed under a load well above the keys' capacity, so that budgets matter: the replicas
 * serve from their fallback meanwhile (each with its share of every key's learned budget), follow the
 * new primary through the sentinels, and are back on shared state within 10 s. Upstream 429s per key
 * during the failover stay within one of the steady rate.
 */
const WINDOW_MS = 3000;
const PROVIDER_RPM = 30;
const KEYS = 4;
let sentinel: SentinelSetup;
let topo: Topology;

beforeAll(async () => {
  sentinel = await startSentinelSetup(1000);
  topo = await startTopology({
    replicas: 2,
    loadBalancer: true,
    windowMs: WINDOW_MS,
    providerRpm: PROVIDER_RPM,
    redis: { url: sentinel.url },
    redisConfig: { fallback: { refreshMs: 500, recoverEveryMs: 250 } },
    config: { log: { level: 'warn' } },
    pools: { sentinel: { keys: KEYS } },
  });
}, 60_000);

afterAll(async () => {
  await topo?.stop();
  await sentinel?.stop();
});

const upstream429 = () => topo.secrets.sentinel!.map((s) => topo.sim.stats(s).rateLimited);
const allReady = async () => (await Promise.all(topo.proxies.map((p) => readyz(p.url)))).every((r) => r.status === 'ready');

it('primary killed under load: replicas follow the new primary within 10 s, <= 1 extra upstream 429 per key', async () => {
  const oldPrimary = await sentinel.primaryPort();
  const load = steadyLoad(`${topo.url}/sentinel`, 6, 5);
  // Steady state over two windows: how many upstream 429s per key Rotor lets through normally.
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const steadyFrom = upstream429();
  await new Promise((r) => setTimeout(r, 2 * WINDOW_MS));
  const steadyTo = upstream429();

  const killedAt = Date.now();
  await sentinel.primary.kill();
  await waitUntil(async () => (await Promise.all(topo.proxies.map((p) => readyz(p.url)))).some((r) => r.status === 'degraded'), 5000, 'fallback');
  const recoveredMs = await waitUntil(allReady, 15_000, 'replicas back on shared state');
  const newPrimary = await sentinel.primaryPort();
  // One more window on the new primary, then the count.
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const failoverTo = upstream429();
  const samples = await load.stop();

  const during = samples.filter((s) => s.start >= killedAt);
  const steadyPerKey = steadyTo.map((n, i) => n - steadyFrom[i]!);
  const failoverPerKey = failoverTo.map((n, i) => n - steadyTo[i]!);
  const failoverMs = Date.now() - killedAt;
  // What the steady rate would give over the same time, per key.
  const expectedPerKey = steadyPerKey.map((n) => (n * failoverMs) / (2 * WINDOW_MS));
  const role = await redisCli(newPrimary, 'ROLE');
  const acquired = await Promise.all(
    Object.keys(await hgetall(newPrimary, 'rotor:{sentinel}:states')).map(async (id) => Number((await hgetall(newPrimary, `rotor:{sentinel}:key:${id}`)).acquired ?? 0)),
  );
  figures('sentinel failover', {
    oldPrimary,
    newPrimary,
    recoveredAfterKillMs: recoveredMs,
    answersFromKill: statuses(during),
    clientErrors: during.filter((s) => s.status !== 200 && s.rotorError !== 'keys_exhausted').length,
    upstream429PerKey: { steadyOver2Windows: steadyPerKey, failoverOver: failoverPerKey, failoverMs },
    handOutsOnNewPrimary: acquired,
  });

  expect(newPrimary).not.toBe(oldPrimary);
  expect(role[0]).toBe('master');
  expect(recoveredMs).toBeLessThan(10_000);
  // Every answer is a completion or Rotor's own 429 for the excess over capacity (never a 5xx).
  expect(during.every((s) => s.status === 200 || s.rotorError === 'keys_exhausted')).toBe(true);
  expect(successRate(during)).toBeGreaterThan(0);
  for (const [i, n] of failoverPerKey.entries()) expect(n).toBeLessThanOrEqual(Math.ceil(expectedPerKey[i]!) + 1);
  expect(acquired.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
}, 60_000);
