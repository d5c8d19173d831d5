import type { RotorConfig } from '@rotor/core';
import { RedisKeyStore, createRedisClient } from '@rotor/redis-store';

/** Redis URL without its password, for messages. */
const displayUrl = (url: string) => url.replace(/\/\/[^@/]*@/, '//');

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
  redis.on('error', () => undefined); // reported through the failed command below
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new Error(
      `Redis at ${displayUrl(config.redis.url)} did not answer (${(error as Error).message}). ` +
        'Point REDIS_URL (or redis.url in the config) at the one the proxies use.',
    );
  }
  return {
    store: new RedisKeyStore(redis, { prefix: config.redis.prefix }),
    close: async () => {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
