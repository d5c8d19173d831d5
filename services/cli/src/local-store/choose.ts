import path from 'node:path';
import type { RotorConfig } from '@rotor/core';
import { MEMORY_URL } from '@rotor/redis-store';
import type { ConfigSource } from '../config-source';
import { defaultRedisUrl, namesRedis, projectDir, redisAnswers, withRedisUrl } from './default-redis';
import { claimLock, readLiveLock, releaseLock, updateLock, type LocalStoreLock } from './lock';
import { findRedisServer, startLocalRedis, type LocalRedis } from './redis-process';

export const MEMORY_NOTE = 'single replica: state in memory; set REDIS_URL to share it';

/** The store a starting replica runs on, and what Rotor must undo when it stops. */
export interface StoreChoice {
  /** The config with the chosen store's URL (also for a config re-read on SIGHUP or by demo mode). */
  apply(config: RotorConfig): RotorConfig;
  /** Banner lines saying which store and why (empty when the operator's Redis is used as before). */
  banner: string[];
  /** Records the proxy's port in the lock, for `rotor status`. */
  listening(port: number): void;
  /** From here on the caller's shutdown handler calls stop(): the start-time signal handlers go. */
  handOver(): void;
  /** Stops the redis-server Rotor started and releases the lock. */
  stop(): Promise<void>;
}

/**
 * `rotor start` / `rotor proxy`: a named Redis (REDIS_URL or redis.url) is used or the start fails, as
 * always. Otherwise the default address is tried; if nothing answers there, Rotor starts redis-server
 * from the PATH with its data under `.rotor/redis`, or, with no redis-server (or one that will not
 * start), runs as one process on its in-memory store. Either way it says so, and takes the folder's lock
 * so that a second replica started here refuses instead of pretending to share state.
 */
export async function chooseStore(source: ConfigSource, config: RotorConfig, cwd = process.cwd()): Promise<StoreChoice> {
  const unchanged: StoreChoice = { apply: (c) => c, banner: [], listening: () => {}, handOver: () => {}, stop: async () => {} };
  if (namesRedis(source)) return unchanged;
  const dir = projectDir(cwd);
  const url = defaultRedisUrl(source);
  // The lock is taken only by a Rotor that makes its own store, so replicas starting together on a
  // Redis at the default address never see each other's; one running here on its own store is refused
  // either way (it shares nothing with them).
  if (await redisAnswers(url, config)) {
    const holder = readLiveLock(dir);
    if (holder) throw new Error(refusal(holder, dir));
    return { ...unchanged, apply: (c) => withRedisUrl(c, url) };
  }
  const claimed = claimLock(dir, { pid: process.pid, store: 'memory' });
  if (!claimed.ok) throw new Error(refusal(claimed.holder, dir));

  const lock: LocalStoreLock = { pid: process.pid, store: 'memory' };
  let redis: LocalRedis | undefined;
  // A process.exit anywhere (a failed start included) must not leave the lock behind (nor Redis: see
  // startLocalRedis)...
  const cleanUp = () => releaseLock(dir);
  process.once('exit', cleanUp);
  // ...nor a SIGTERM / SIGINT before the caller's shutdown handler is in place.
  const early = (signal: NodeJS.Signals) => {
    console.log(`${signal}: stopping during start`);
    process.exit(1);
  };
  process.once('SIGTERM', early).once('SIGINT', early);

  const why = `no Redis answered at ${url} and REDIS_URL is not set`;
  const banner: string[] = [];
  const executable = findRedisServer(source.env.PATH);
  if (executable) {
    try {
      redis = await startLocalRedis(executable, path.join(dir, 'redis'));
      Object.assign(lock, { store: 'redis', redisUrl: redis.url, redisPid: redis.pid });
      updateLock(dir, lock);
      banner.push(
        `Redis: ${why}, so Rotor started ${executable} (pid ${redis.pid}) at ${redis.url};`,
        `  its data persists in ${redis.dir}; it stops when Rotor stops.`,
        '  single replica: set REDIS_URL to a Redis of your own to run more replicas.',
      );
    } catch (error) {
      banner.push(`Redis: ${executable} could not be started: ${(error as Error).message}`);
    }
  } else {
    banner.push(`Redis: ${why}, and there is no redis-server on the PATH.`);
  }
  if (!redis) {
    banner.push(
      `*** ${MEMORY_NOTE}.`,
      '*** Key state is lost when Rotor stops; no worker: keys taken out of rotation stay out until a restart.',
      '*** For persistent state, install redis-server (e.g. apt-get install redis-server) and start again.',
    );
  }

  return {
    apply: (c) => withRedisUrl(c, redis ? redis.url : MEMORY_URL),
    banner,
    listening: (port) => updateLock(dir, Object.assign(lock, { proxyPort: port })),
    handOver: () => {
      process.off('SIGTERM', early).off('SIGINT', early);
    },
    stop: async () => {
      await redis?.stop();
      releaseLock(dir);
      process.off('exit', cleanUp);
    },
  };
}

function refusal(holder: LocalStoreLock, dir: string): string {
  const store =
    holder.store === 'redis' ? `the redis-server it started (${holder.redisUrl}), which stops with it` : 'its own memory';
  return (
    `another Rotor (pid ${holder.pid}) runs in ${path.dirname(dir)} on ${store}: replicas share state only through ` +
    'a Redis they all reach. Start one (redis-server) and set REDIS_URL on every replica, or stop that Rotor first.'
  );
}
