import { startWorker } from '@rotor/worker';
import { findConfig, parseSource } from '../config-source';
import { watchConfigFile } from '../config-watch';
import { inspectTarget } from '../local-store/attach';
import { reloadOnSighup } from '../reload';
import { onShutdown } from '../signals';

/**
 * `rotor worker`: one worker replica (run any number). It probes keys that left rotation and serves
 * GET /metrics on worker.metricsPort (env METRICS_PORT). SIGHUP, or a change of the config file, reloads
 * the config; SIGTERM/SIGINT let running probes finish (bounded), then close the queue and Redis.
 */
export async function workerCommand(): Promise<void> {
  const source = findConfig();
  // With no Redis named, a `rotor proxy` in this folder may run on a redis-server it started: work there.
  const { config, note } = inspectTarget(source, parseSource(source));
  if (note) console.log(note);
  const handle = await startWorker(config);
  console.log(`rotor worker: metrics on http://${config.host}:${handle.metricsPort}/metrics`);
  for (const pool of Object.values(config.pools)) {
    console.log(
      `  pool ${pool.name}: ${pool.provider}, ${pool.keys.length} key(s), probe model ${pool.probeModel}`,
    );
  }
  reloadOnSighup(
    () => parseSource(findConfig()),
    (next) => handle.reload(next),
    (headline, reason) => console.error(`rotor worker: ${headline}\n${reason}`),
  );
  // A changed file takes the SIGHUP path itself: one reload, whatever asked for it.
  const watch = watchConfigFile(source.file, () => process.emit('SIGHUP', 'SIGHUP'));
  onShutdown(() => {
    watch.close();
    return handle.close();
  });
}
