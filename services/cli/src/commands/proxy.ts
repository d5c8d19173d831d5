import { ConfigError, keylessPools, totalKeys, type RotorConfig } from '@rotor/core';
import { createLogger, startProxy, type ProxyHandle } from '@rotor/proxy';
import { MEMORY_URL } from '@rotor/redis-store';
import { ProbeScheduler, createLogger as createWorkerLogger, startWorker } from '@rotor/worker';
import { findConfig, parseSource } from '../config-source';
import { watchConfigFile } from '../config-watch';
import { DEMO_CLIENT_TOKEN, startDemo } from '../demo';
import { chooseStore } from '../local-store/choose';
import { reloadOnSighup } from '../reload';
import { onShutdown } from '../signals';

/**
 * `rotor proxy`: one proxy replica; `rotor start` (withWorker): a worker in the same process too.
 * A report that parks a key schedules its probe. SIGHUP, or a change of the config file, reloads the
 * config; SIGTERM/SIGINT drain and stop.
 */
export async function proxyCommand(options: { withWorker?: boolean } = {}): Promise<void> {
  const source = findConfig();
  // Demo mode only with no configuration at all, or asked for (ROTOR_DEMO=1, the k8s dev overlay): a
  // config of the user's own without keys is a mistake (said before any store is started for it).
  const demo = (source.isShippedExample || source.env.ROTOR_DEMO === '1') && totalKeys(parseSource(source)) === 0;
  if (!demo && totalKeys(parseSource(source)) === 0) {
    throw new ConfigError([
      {
        path: 'pools',
        message: `no pool of ${source.file} has a key (every pool is optional and empty): give one keys; demo mode runs only without a config of your own, or with ROTOR_DEMO=1`,
      },
    ]);
  }
  // No Redis named and none at the default address: Rotor starts its own, or runs on its memory.
  const store = await chooseStore(source, parseSource(source));
  let config = store.apply(parseSource(source));
  const logger = createLogger(config.log.level);
  let closeSim: (() => Promise<void>) | undefined;
  if (demo) {
    const started = await startDemo(source, config);
    config = store.apply(started.config);
    closeSim = () => started.sim.close();
    console.log(`\n*** DEMO MODE: no config of your own (no ROTOR_CONFIG, no ./rotor.yaml) and no provider keys in the environment.`);
    console.log(`*** Every pool points at the built-in simulated provider (${started.sim.url}), 3 demo keys each, 20 requests/min per key.`);
    console.log('*** Set OPENAI_KEYS / ANTHROPIC_KEYS (comma-separated) to proxy real providers, or write your own rotor.yaml.\n');
  } else if (config.clientTokens.length === 0) {
    throw new Error('clientTokens: at least one client token is required (set ROTOR_CLIENT_TOKEN)');
  }
  for (const line of store.banner) console.log(line);
  // memory:// has no Redis, so no queue and no worker: keys out of rotation stay out until a restart.
  const worker = options.withWorker && config.redis.url !== MEMORY_URL
    ? await startWorker(config, { logger: createWorkerLogger(config.log.level) })
    : undefined;
  // Opened once the proxy has reached Redis; a key parked before that is found by the worker's reconciliation.
  let scheduler: ProbeScheduler | undefined = worker?.scheduler;
  const handle = await startProxy(config, {
    logger,
    onKeyParked: (pool, keyId, state, reason) => {
      scheduler?.schedule(pool, keyId, state, reason).catch((error: Error) =>
        logger.warn({ pool, keyId, err: error.message }, 'probe not scheduled (the worker\'s reconciliation will)'),
      );
    },
  });
  if (config.redis.url !== MEMORY_URL) scheduler ??= await ProbeScheduler.open(config);
  store.listening(handle.port);
  announce(config, handle, demo);
  if (worker) console.log(`rotor worker (same process): metrics on http://${config.host}:${worker.metricsPort}/metrics`);
  reloadOnSighup(
    () => store.apply(parseSource(findConfig())),
    async (next) => {
      await handle.reload(next);
      scheduler?.reload(next);
      await worker?.reload(next);
    },
    (headline, reason) => logger.error({ err: reason }, headline),
  );
  // A changed file takes the SIGHUP path itself: one reload, whatever asked for it. Not in demo mode,
  // whose config is made in memory (a reload from the file would drop the demo keys).
  const watch = demo ? undefined : watchConfigFile(source.file, () => process.emit('SIGHUP', 'SIGHUP'));
  onShutdown(async () => {
    watch?.close();
    await handle.close();
    await (worker ? worker.close() : scheduler?.close());
    await closeSim?.();
    await store.stop();
  });
  store.handOver();
}

function announce(config: RotorConfig, handle: ProxyHandle, demo: boolean): void {
  console.log(`rotor proxy listening on http://${config.host}:${handle.port}`);
  for (const pool of Object.values(config.pools)) {
    const routes = config.routes.filter((r) => r.pool === pool.name).map((r) => r.prefix);
    console.log(`  pool ${pool.name}: ${pool.provider}, ${pool.keys.length} key(s), routes ${routes.join(' ') || '(none)'}`);
  }
  for (const name of keylessPools(config)) {
    console.warn(`WARNING: pool ${name} has no keys (optional: true): its routes answer 503 until it gets keys`);
  }
  if (demo) {
    const token = config.clientTokens.includes(DEMO_CLIENT_TOKEN) ? DEMO_CLIENT_TOKEN : '<your ROTOR_CLIENT_TOKEN>';
    console.log('\ntry it:');
    console.log(
      `  curl -s http://127.0.0.1:${handle.port}/v1/chat/completions -H 'Authorization: Bearer ${token}' ` +
        `-H 'content-type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'`,
    );
  }
}
