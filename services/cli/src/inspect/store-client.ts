import type { RotorConfig } from '@rotor/core';
import { RedisKeyStore, closeRedis, connectOrExplain, createRedisClient, displayRedisUrl } from '@rotor/redis-store';

export interface StoreClient {
  store: RedisKeyStore;
  close(): Promise<void>;
}

/**
 * `Redis redis://127.0.0.1:6379 (from REDIS_URL), prefix rotor`: which shared state a command read or
 * changed (never a password), so an empty answer from the wrong Redis is not mistaken for an empty pool.
 */
export function describeStore(config: RotorConfig, origin: string): string {
  return `Redis ${displayRedisUrl(config.redis.url)} (${origin}), prefix ${config.redis.prefix}`;
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
