import type { RotorConfig } from '@rotor/core';
import { displayRedisUrl, openKeyStore, type RedisKeyStore } from '@rotor/redis-store';

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
 * The key store the proxies share, for one CLI command: same URL, prefix, policy and scripts as
 * `rotor proxy` (openKeyStore), patient as an operator's command may be. Fails fast with a clear message
 * when Redis does not answer.
 */
export function openStore(config: RotorConfig): Promise<StoreClient> {
  return openKeyStore(config, {
    failFast: false,
    hint: 'Point REDIS_URL (or redis.url in the config) at the one the proxies use.',
  });
}
