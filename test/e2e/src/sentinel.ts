import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, requireProgram, spawnRedis, spawnTracked, stopProcess, type RedisProcess } from '@rotor/testkit';

const run = promisify(execFile);
export const SENTINEL_MASTER = 'rotor-primary';

export interface SentinelSetup {
  primary: RedisProcess;
  replica: RedisProcess;
  sentinelPorts: number[];
  /** redis+sentinel://127.0.0.1:<s1>,...,127.0.0.1:<s3>/rotor-primary */
  url: string;
  /** Port of the primary the sentinels announce now. */
  primaryPort(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Redis Sentinel as Debian ships it (`redis-sentinel`): a primary, one replica and three sentinels
 * (quorum 2) on loopback, with short timeouts so a failover takes seconds.
 */
export async function startSentinelSetup(downAfterMs = 1000): Promise<SentinelSetup> {
  // Before any server starts: a missing program fails the test at once, naming it.
  requireProgram('redis-sentinel');
  requireProgram('redis-cli');
  const primary = await spawnRedis();
  const replica = await spawnRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  await waitFor(async () => (await info(replica.port, 'replication')).includes('master_link_status:up'), 10_000, 'replica in sync');
  const sentinels: ChildProcess[] = [];
  const sentinelPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rotor-sentinel-${port}-`));
    const file = path.join(dir, 'sentinel.conf');
    fs.writeFileSync(
      file,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} ${downAfterMs}`,
        `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
        '',
      ].join('\n'),
    );
    sentinels.push(spawnTracked('redis-sentinel', [file], { stdio: ['ignore', 'ignore', 'inherit'] }));
    sentinelPorts.push(port);
  }
  for (const port of sentinelPorts) {
    await waitFor(async () => (await sentinelMaster(port)).length > 0, 10_000, `sentinel ${port}`);
  }
  // Every sentinel must know the replica and the other sentinels before a failover can be agreed.
  await waitFor(
    async () => {
      for (const port of sentinelPorts) {
        const { stdout } = await run('redis-cli', ['-p', String(port), 'sentinel', 'master', SENTINEL_MASTER]);
        const fields = stdout.trim().split('\n');
        const value = (name: string) => Number(fields[fields.indexOf(name) + 1]);
        if (value('num-slaves') < 1 || value('num-other-sentinels') < 2) return false;
      }
      return true;
    },
    20_000,
    'sentinels see the replica and each other',
  );
  return {
    primary,
    replica,
    sentinelPorts,
    url: `redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${SENTINEL_MASTER}`,
    primaryPort: async () => Number((await sentinelMaster(sentinelPorts[0]!))[1]),
    stop: async () => {
      await Promise.all(sentinels.map((child) => stopProcess(child, 'SIGKILL')));
      await primary.kill();
      await replica.kill();
    },
  };
}

async function sentinelMaster(port: number): Promise<string[]> {
  try {
    const { stdout } = await run('redis-cli', ['-p', String(port), 'sentinel', 'get-master-addr-by-name', SENTINEL_MASTER]);
    return stdout.trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

async function info(port: number, section: string): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'info', section]);
  return stdout;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
