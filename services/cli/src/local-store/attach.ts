import path from 'node:path';
import type { RotorConfig } from '@rotor/core';
import type { ConfigSource } from '../config-source';
import { MEMORY_NOTE } from './choose';
import { defaultRedisUrl, namesRedis, projectDir, withRedisUrl } from './default-redis';
import { readLiveLock } from './lock';

/** Where `rotor status` / `rotor keys` read the state the proxies use. */
export interface InspectTarget {
  config: RotorConfig;
  /** Said before the answer when that state is one replica's own (not a Redis the operator named). */
  note?: string;
  /** The state is in a running Rotor's memory: only its admin API can show it. */
  memory?: { baseUrl: string; pid: number };
}

/**
 * A named Redis is read as always. Otherwise a Rotor running in this folder on a store it made
 * (its lock in `.rotor/`) is read there: the redis-server it started, or its memory through its
 * admin API. Otherwise the default address.
 */
export function inspectTarget(source: ConfigSource, config: RotorConfig, cwd = process.cwd()): InspectTarget {
  if (namesRedis(source)) return { config };
  const lock = readLiveLock(projectDir(cwd));
  if (lock?.store === 'redis' && lock.redisUrl) {
    return {
      config: withRedisUrl(config, lock.redisUrl),
      note:
        `single replica: state in the redis-server Rotor (pid ${lock.pid}) started at ${lock.redisUrl}, ` +
        `data in ${path.join(projectDir(cwd), 'redis')}; set REDIS_URL to share it`,
    };
  }
  if (lock?.store === 'memory' && lock.proxyPort) {
    return {
      config,
      note: `${MEMORY_NOTE} (Rotor pid ${lock.pid}, port ${lock.proxyPort})`,
      memory: { baseUrl: `http://127.0.0.1:${lock.proxyPort}`, pid: lock.pid },
    };
  }
  return { config: withRedisUrl(config, defaultRedisUrl(source)) };
}
