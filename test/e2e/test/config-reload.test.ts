import fs from 'node:fs';
import { parse, stringify } from 'yaml';
import { burst, tally, startTopology, type Topology } from '../src';

/** Keys added and removed by a config reload (SIGHUP), under traffic, without dropping a request. */
let topo: Topology;
beforeAll(async () => {
  topo = await startTopology({ replicas: 2, loadBalancer: true, windowMs: 60_000, providerRpm: 1000, pools: { pool: { keys: 3 } } });
}, 60_000);
afterAll(async () => {
  await topo?.stop();
});

it('SIGHUP applies added and removed keys on every replica while requests keep succeeding', async () => {
  const [a, b, c] = topo.secrets.pool!;
  const added = `sk-e2e-added-${Date.now()}`;
  topo.sim.setLimits(added, { rpm: 1000 });
  let stop = false;
  const answers: number[] = [];
  const traffic = (async () => {
    while (!stop) answers.push(...(await burst(`${topo.url}/pool`, 10)).map((x) => x.status));
  })();
  await new Promise((r) => setTimeout(r, 300));

  const config = parse(fs.readFileSync(topo.configFile, 'utf8')) as { pools: { pool: { keys: string[] } } };
  config.pools.pool.keys = [b!, c!, added];
  fs.writeFileSync(topo.configFile, stringify(config));
  for (const proxy of topo.proxies) proxy.child.kill('SIGHUP');
  await new Promise((r) => setTimeout(r, 500));
  const removedCallsAtSwitch = topo.sim.stats(a!).calls;
  await new Promise((r) => setTimeout(r, 700));
  stop = true;
  await traffic;

  console.log(`reload: ${answers.length} requests, ${JSON.stringify(tally(answers.map((status) => ({ status, at: 0 }))))}; added key served ${topo.sim.stats(added).ok}`);
  expect(answers.every((s) => s === 200)).toBe(true);
  expect(topo.sim.stats(added).ok).toBeGreaterThan(0);
  expect(topo.sim.stats(a!).calls).toBe(removedCallsAtSwitch); // the removed key gets nothing more
  expect(topo.logs()).toContain('config reloaded');
});
