import path from 'node:path';
import type { RotorConfig } from '@rotor/core';
import { openKeyStore } from '@rotor/redis-store';
import type { ConfigSource } from '../config-source';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Where Rotor keeps what it makes for itself (a redis-server's data, the lock): `.rotor/` in the working directory. */
export const projectDir = (cwd = process.cwd()) => path.join(cwd, '.rotor');

/**
 * Whether the operator named a Redis: `REDIS_URL` (non-blank, as the config's override reads it) or
 * `redis.url` in the config file. A named Redis is used or the start fails: never replaced.
 */
export function namesRedis(source: ConfigSource): boolean {
  if (source.env.REDIS_URL?.trim()) return true;
  const raw = source.raw as { redis?: { url?: unknown } } | null | undefined;
  return raw?.redis?.url !== undefined && raw.redis.url !== null;
}

/**
 * The address tried when no Redis is named. `ROTOR_DEFAULT_REDIS_URL` exists for tests only: they
 * need a "default address" where nothing answers without stopping a machine's Redis on 6379.
 */
export function defaultRedisUrl(source: ConfigSource): string {
  return source.env.ROTOR_DEFAULT_REDIS_URL?.trim() || DEFAULT_REDIS_URL;
}

/**
 * Whether a Redis answers at `url` within the config's connect bound, opened as the proxy will open it
 * (so one that answers but cannot take Rotor's scripts does not count).
 */
export async function redisAnswers(url: string, config: RotorConfig): Promise<boolean> {
  try {
    const opened = await openKeyStore(withRedisUrl(config, url), { failFast: true });
    await opened.close();
    return true;
  } catch {
    return false;
  }
}

export function withRedisUrl(config: RotorConfig, url: string): RotorConfig {
  return { ...config, redis: { ...config.redis, url } };
}
