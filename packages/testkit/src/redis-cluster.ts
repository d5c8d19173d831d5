import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireProgram } from './processes';
import { spawnRedis, type RedisProcess } from './redis-server';

const run = promisify(execFile);

export interface RedisClusterProcess {
  nodes: RedisProcess[];
  /** host/port pairs for ioredis' Cluster constructor. */
  startupNodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

/** A real Redis Cluster of `masters` primaries (no replicas), created with `redis-cli --cluster create`. */
export async function spawnRedisCluster(masters = 3): Promise<RedisClusterProcess> {
  requireProgram('redis-cli');
  const nodes: RedisProcess[] = [];
  for (let i = 0; i < masters; i++) {
    nodes.push(
      await spawnRedis({
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'],
      }),
    );
  }
  const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
  await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
  await waitForClusterOk(nodes[0]!.port);
  return {
    nodes,
    startupNodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.kill()));
    },
  };
}

async function waitForClusterOk(port: number, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
    if (stdout.includes('cluster_state:ok')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('redis cluster did not reach cluster_state:ok');
}
