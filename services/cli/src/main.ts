#!/usr/bin/env -S npx tsx
import { ConfigError } from '@rotor/core';
import { proxyCommand } from './commands/proxy';
import { workerCommand } from './commands/worker';

const USAGE = `usage: rotor <command>
  proxy                          start one proxy replica (config: ROTOR_CONFIG, else ./rotor.yaml, else rotor.example.yaml)
  worker                         start one worker replica: probes keys out of rotation, GET /metrics on worker.metricsPort
  start                          proxy and worker in one process, for local use
`;

async function main(argv: string[]): Promise<void> {
  const [command] = argv;
  switch (command) {
    case 'proxy':
      return proxyCommand();
    case 'start':
      return proxyCommand({ withWorker: true });
    case 'worker':
      return workerCommand();
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
