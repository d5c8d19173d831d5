import {
  figures,
  hgetall,
  metricValue,
  metricsText,
  readyz,
  redisCli,
  startTopology,
  statuses,
  steadyLoad,
  successRate,
  waitUntil,
  type Topology,
} from '../src';

/**
 * Case 4: the script cache emptied under load, by SCRIPT FLUSH and by a Redis restart (which also
 * loses every key: no persistence). Redis answers NOSCRIPT to EVALSHA; the client resends the script
 * (EVAL) and the replicas reload every script when Redis returns: clients see no error at all.
 */
let topo: Topology;

beforeAll(async () => {
  topo = await startTopology({
    replicas: 3,
    loadBalancer: true,
    windowMs: 60_000,
    providerRpm: 100_000,
    redisConfig: { fallback: { refreshMs: 1000, recoverEveryMs: 250 } },
    config: { log: { level: 'warn' } },
    pools: { flushed: { keys: 4 } },
  });
}, 60_000);

afterAll(async () => {
  await topo?.stop();
});

const errorstat = async (port: number, name: string) => {
  const lines = await redisCli(port, 'INFO', 'errorstats');
  const line = lines.find((l) => l.startsWith(`errorstat_${name}:`));
  return line ? Number(/count=(\d+)/.exec(line)![1]) : 0;
};
const cachedScripts = async (port: number) =>
  Number((await redisCli(port, 'INFO', 'memory')).find((l) => l.startsWith('number_of_cached_scripts:'))!.split(':')[1]);

it('SCRIPT FLUSH x5 under load: every request succeeds, the replicas never leave shared state', async () => {
  const load = steadyLoad(`${topo.url}/flushed`, 6);
  const fallbackSeen = new Set<number>();
  const watch = setInterval(async () => {
    for (const p of topo.proxies) fallbackSeen.add(metricValue(await metricsText(p.url).catch(() => ''), 'rotor_fallback_mode'));
  }, 100);
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 400));
    await redisCli(topo.redis.port, 'SCRIPT', 'FLUSH');
  }
  await new Promise((r) => setTimeout(r, 400));
  clearInterval(watch);
  const samples = await load.stop();
  const noscript = await errorstat(topo.redis.port, 'NOSCRIPT');
  figures('SCRIPT FLUSH x5', { requests: samples.length, statuses: statuses(samples), noscriptRepliesFromRedis: noscript, fallbackGaugeSeen: [...fallbackSeen] });
  expect(successRate(samples)).toBe(1);
  expect(noscript).toBeGreaterThan(0); // the flushes did bite: every one was absorbed
  expect([...fallbackSeen]).toEqual([0]);
  expect(topo.logs()).not.toContain('NOSCRIPT');
}, 30_000);

it('Redis restarted (scripts and keys lost) under load: every request succeeds; scripts reloaded and pools back', async () => {
  const load = steadyLoad(`${topo.url}/flushed`, 6);
  await new Promise((r) => setTimeout(r, 800));
  const restartedAt = Date.now();
  topo.redis = await topo.redis.restart();
  const backMs = await waitUntil(
    async () => (await Promise.all(topo.proxies.map((p) => readyz(p.url)))).every((r) => r.status === 'ready'),
    10_000,
    'replicas back on Redis',
  );
  await new Promise((r) => setTimeout(r, 800));
  const samples = await load.stop();
  const after = samples.filter((s) => s.start > restartedAt + backMs);
  const scripts = await cachedScripts(topo.redis.port);
  const states = await hgetall(topo.redis.port, 'rotor:{flushed}:states');
  const noscript = await errorstat(topo.redis.port, 'NOSCRIPT');
  figures('Redis restart', {
    requests: samples.length,
    statuses: statuses(samples),
    replicasBackOnRedisAfterMs: backMs,
    requestsAfterReturn: after.length,
    scriptsCachedInNewRedis: scripts,
    keysInNewRedis: Object.keys(states).length,
    noscriptRepliesFromNewRedis: noscript,
  });
  expect(successRate(samples)).toBe(1);
  expect(after.length).toBeGreaterThan(50);
  expect(scripts).toBeGreaterThanOrEqual(6); // acquire, report, set-state, sync-keys, remove-keys, heartbeat
  expect(Object.keys(states)).toHaveLength(4);
  expect(topo.logs()).not.toContain('NOSCRIPT');
}, 30_000);
