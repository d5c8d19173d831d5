#!/usr/bin/env -S npx tsx
import { ConfigError, loadConfig } from '@rotor/core';
import { startWorker } from './app';

/**
 * One worker replica on its own: `tsx services/worker/src/main.ts` (or `rotor worker`). The config file
 * is ROTOR_CONFIG (default ./rotor.yaml); METRICS_PORT / REDIS_URL override it. SIGHUP reloads the
 * config; SIGTERM / SIGINT let the running probes finish (bounded), then close the queue and Redis.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env.ROTOR_CONFIG ?? 'rotor.yaml', process.env);
  const handle = await startWorker(config);
  console.log(`rotor worker: metrics on http://${config.host}:${handle.metricsPort}/metrics`);
  process.on('SIGHUP', () => {
    try {
      void handle.reload(loadConfig(process.env.ROTOR_CONFIG ?? 'rotor.yaml', process.env));
    } catch (error) {
      console.error(`rotor worker: reload refused, keeping the old config\n${(error as Error).message}`);
    }
  });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`${signal}: shutting down`);
    handle.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  const message =
    error instanceof ConfigError
      ? `invalid config\n${error.message}`
      : error instanceof Error
        ? error.message
        : String(error);
  console.error(`rotor worker: ${message}`);
  process.exit(1);
});
