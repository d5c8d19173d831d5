import type { RotorConfig } from '@rotor/core';
import { RedisKeyStore, closeRedis, connectOrExplain, createRedisClient } from '@rotor/redis-store';

export interface StoreClient {
  store: RedisKeyStore;
  close(): Promise<void>;
}

/**
 * The key store the proxies share, for one CLI command: same URL, prefix and scripts as `rotor proxy`.
 * Fails fast with a clear message when Redis does not answer.
 */
export async function openStore(config: RotorConfig): Promise<StoreClient> {
  const redis = createRedisClient({
    url: config.redis.url,
    // An operator command may wait a little longer than a request would.
    commandTimeoutMs: Math.max(config.redis.commandTimeoutMs, 5000),
    connectTimeoutMs: config.redis.connectTimeoutMs,
    lazyConnect: true,
    offlineQueue: true,
  });
  redis.on('error', () => undefined); // reported through the failed connect below
  await connectOrExplain(
    redis,
    config.redis.url,
    config.redis.connectTimeoutMs + 5000,
    'Point REDIS_URL (or redis.url in the config) at the one the proxies use.',
  );
  return {
    store: new RedisKeyStore(redis, { prefix: config.redis.prefix }),
    close: () => closeRedis(redis),
  };
}
