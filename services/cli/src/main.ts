#!/usr/bin/env -S npx tsx
import { ConfigError } from '@rotor/core';
import { findConfig, parseSource, type ConfigSource } from './config-source';
import { adminSnapshots } from './inspect/admin-snapshots';
import { processIo } from './inspect/io';
import { inspectTarget } from './local-store/attach';
import { namesRedis } from './local-store/default-redis';

const USAGE = `usage: rotor <command>
  proxy                          start one proxy replica (config: ROTOR_CONFIG, else ./rotor.yaml, else rotor.example.yaml)
  worker                         start one worker replica: probes keys out of rotation, GET /metrics on worker.metricsPort
  start                          proxy and worker in one process, for local use
  status [<pool>...] [--json]    every pool from Redis: keys (state, reason, account, in-flight, successes/failures)
                                 and buckets (model group, account, ready or cooling until, requests/tokens left)
  keys disable|enable|clear <pool> <keyId|label> [--json]
                                 take a key out of rotation on every replica, put it back, or end the
                                 cooldowns of its account's buckets
`;

type ProxyCommands = typeof import('./commands/proxy.js');
type WorkerCommands = typeof import('./commands/worker.js');
type StatusCommands = typeof import('./commands/status.js');
type KeysCommands = typeof import('./commands/keys.js');

/**
 * Commands are loaded on demand (`rotor status` need not load the proxy and the worker), with require
 * rather than import(): Rotor runs as `node --require tsx/cjs`, whose TypeScript hook a dynamic
 * import() would bypass (and the ESM loader it needs is a thread costing ~20 MB of RSS).
 */
const load = <T>(id: string): T => require(id) as T;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'proxy':
      return load<ProxyCommands>('./commands/proxy').proxyCommand();
    case 'start':
      return load<ProxyCommands>('./commands/proxy').proxyCommand({ withWorker: true });
    case 'worker':
      return load<WorkerCommands>('./commands/worker').workerCommand();
    case 'status': {
      const { config, memory, origin } = target();
      const open = memory ? async () => adminSnapshots(memory.baseUrl, config.adminToken) : undefined;
      process.exit(await load<StatusCommands>('./commands/status').statusCommand(rest, config, processIo, open, origin));
    }
    // eslint-disable-next-line no-fallthrough -- process.exit above
    case 'keys': {
      const { config, memory, origin } = target();
      if (memory) throw new Error(`keys: that state is in Rotor pid ${memory.pid}: use its admin API (${memory.baseUrl}/admin/pools)`);
      process.exit(await load<KeysCommands>('./commands/keys').keysCommand(rest, config, processIo, origin));
    }
    // eslint-disable-next-line no-fallthrough -- process.exit above
    default:
      process.stderr.write(USAGE);
      process.exit(command ? 2 : 0);
  }
}

/**
 * The config for status / keys, pointed at the state a Rotor in this folder made for itself, if any
 * (said on stderr), and where its Redis URL came from, for the line that names that Redis.
 */
function target(): ReturnType<typeof inspectTarget> & { origin?: string } {
  const source = findConfig();
  const found = inspectTarget(source, parseSource(source));
  if (found.note) processIo.err(found.note);
  return found.memory ? found : { ...found, origin: redisOrigin(source, found.note !== undefined) };
}

function redisOrigin(source: ConfigSource, madeByRotorHere: boolean): string {
  if (source.env.REDIS_URL?.trim()) return 'from REDIS_URL';
  if (namesRedis(source)) return `from ${source.file}, REDIS_URL not set`;
  return madeByRotorHere ? 'started by the Rotor in this folder' : 'the default address: REDIS_URL not set';
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`rotor: invalid config\n${error.message}`);
  } else {
    console.error(`rotor: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(1);
});
