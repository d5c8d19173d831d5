import type { RotorConfig } from '@rotor/core';
import { MemoryKeyStore, openKeyStore, type KeyStore } from '@rotor/redis-store';
import type { Cluster, Redis } from 'ioredis';
import type { Readiness } from './app';
import type { Logger } from './logger';
import type { ProxyMetrics } from './metrics';
import { poolSyncs, syncPools } from './pool-sync';
import { ResilientKeyStore, type StoreMode } from './resilient-store';

export interface ProxyStore {
  /** What the request path and the admin API call. */
  store: KeyStore;
  /** The Redis connection; undefined with `redis.url: memory://`. */
  redis?: Redis | Cluster;
  mode(): StoreMode | 'memory';
  readiness(): Promise<Readiness>;
  close(): Promise<void>;
}

/**
 * The proxy's key store: Redis behind the fail-open / fail-closed switch (see ResilientKeyStore), or,
 * with `redis.url: memory://`, this process's memory alone. Redis must answer at start (a wrong
 * REDIS_URL stops the process with a clear message instead of running alone unnoticed); once running,
 * an outage is survived. `current` returns the config in force (it changes on reload).
 */
export async function openStore(
  config: RotorConfig,
  current: () => RotorConfig,
  logger: Logger,
  metrics: ProxyMetrics,
): Promise<ProxyStore> {
  const opened = await openKeyStore(config, {
    failFast: true,
    allowMemory: true,
    onError: (error) => logger.debug({ err: error.message }, 'redis connection error'),
  });
  if (opened.kind === 'memory') return openMemoryStore(config, opened.store, logger, metrics);

  const { store: redisStore, redis, policy } = opened;
  try {
    await syncPools(config, redisStore);
  } catch (error) {
    await opened.close();
    throw error;
  }

  const fallback = new MemoryKeyStore(policy);
  await syncPools(config, fallback);
  const store = new ResilientKeyStore({
    redis: redisStore,
    // Timed and error-counted per op (rotor_redis_*): the Redis store itself, not the switch around it.
    shared: metrics.instrumentStore(redisStore),
    fallback,
    config: config.redis,
    pools: () => poolSyncs(current()),
    logger,
    onModeChange: (mode) => metrics.setFallback(mode === 'fallback'),
  });
  await store.refresh();

  return {
    store,
    redis,
    mode: () => store.mode,
    readiness: async () => {
      const mode = await store.check();
      if (mode === 'shared') return { status: 'ready', detail: 'redis reachable, scripts loaded' };
      const { since, reason, replicas } = store.status();
      const down = `redis unreachable since ${new Date(since).toISOString()} (${reason})`;
      if (mode === 'fallback') {
        return {
          status: 'degraded',
          detail: `${down}: serving from this replica's in-memory rotation (fail-open), each key at 1/${replicas} of its budget`,
        };
      }
      return { status: 'unavailable', detail: `${down}: redis.failurePolicy is fail-closed, requests get 503` };
    },
    close: async () => {
      store.close();
      await opened.close();
    },
  };
}

async function openMemoryStore(config: RotorConfig, store: MemoryKeyStore, logger: Logger, metrics: ProxyMetrics): Promise<ProxyStore> {
  await syncPools(config, store);
  // The first words are what `rotor start` prints when it chose memory:// itself (no Redis found).
  const detail =
    'single replica: state in memory; set REDIS_URL to share it (no Redis, redis.url memory://: key state ' +
    'lives in this process only; run ONE replica, as more would each spend every key in full and share no cooldowns)';
  logger.warn(`NO REDIS: ${detail}`);
  metrics.setFallback(true);
  return {
    store,
    mode: () => 'memory',
    readiness: async () => ({ status: 'degraded', detail }),
    close: async () => {},
  };
}


