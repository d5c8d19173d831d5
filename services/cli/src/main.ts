#!/usr/bin/env -S npx tsx
import { ConfigError } from '@rotor/core';
import { findConfig, parseSource } from './config-source';
import { processIo } from './inspect/io';

const USAGE = `usage: rotor <command>
  proxy                          start one proxy replica (config: ROTOR_CONFIG, else ./rotor.yaml, else rotor.example.yaml)
  worker                         start one worker replica: probes keys out of rotation, GET /metrics on worker.metricsPort
  start                          proxy and worker in one process, for local use
  status [<pool>...] [--json]    every pool's keys from Redis: state, until, reason, in-flight, successes/failures
  keys disable|enable|clear <pool> <keyId|label> [--json]
                                 take a key out of rotation on every replica, put it back, or end its cooldown
`;

// Commands are loaded on demand: `rotor status` need not load the proxy and the worker.
async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'proxy':
      return (await import('./commands/proxy.js')).proxyCommand();
    case 'start':
      return (await import('./commands/proxy.js')).proxyCommand({ withWorker: true });
    case 'worker':
      return (await import('./commands/worker.js')).workerCommand();
    case 'status': {
      const config = parseSource(findConfig());
      process.exit(await (await import('./commands/status.js')).statusCommand(rest, config, processIo));
    }
    // eslint-disable-next-line no-fallthrough -- process.exit above
    case 'keys': {
      const config = parseSource(findConfig());
      process.exit(await (await import('./commands/keys.js')).keysCommand(rest, config, processIo));
    }
    // eslint-disable-next-line no-fallthrough -- process.exit above
    default:
      process.stderr.write(USAGE);
      process.exit(command ? 2 : 0);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`rotor: invalid config\n${error.message}`);
  } else {
    console.error(`rotor: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(1);
});
