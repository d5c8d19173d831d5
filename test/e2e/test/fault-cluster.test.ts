import { figures, lastTopology, redisCli, setDefaultRedis } from '../src';

/**
 * Case 6: Redis Cluster (3 primaries). The proxy issue's end-to-end rotation scenarios (3 `rotor proxy`
 * processes behind nginx, 13 pools, cold/warm overload, declared rpm, 1 vs 3 replicas) run here
 * unchanged, with the replicas given `redis+cluster://<3 primaries>` instead of one redis-server.
 */
setDefaultRedis('cluster');
// required (not imported) so that it loads after setDefaultRedis: imports are hoisted
require('./rotation.test');

it('the scenarios ran on all 3 primaries: the pools are spread over their slots', async () => {
  const topo = lastTopology();
  expect(topo?.cluster).toBeDefined();
  const nodes = topo!.cluster!.nodes;
  const keysPerPrimary = await Promise.all(nodes.map(async (n) => Number((await redisCli(n.port, 'DBSIZE'))[0]!.replace(/^\(integer\) /, ''))));
  const info = await redisCli(nodes[0]!.port, 'CLUSTER', 'INFO');
  figures('cluster', { redisUrl: topo!.redisUrl, keysPerPrimary, state: info.find((l) => l.startsWith('cluster_state')) });
  expect(info).toContain('cluster_state:ok');
  expect(keysPerPrimary.every((n) => n > 0)).toBe(true);
});
