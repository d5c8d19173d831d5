import type { RotorConfig } from '@rotor/core';
import { createRedisClient, openKeyStore, type OpenedRedisStore, type RedisConnection } from '@rotor/redis-store';
import type { Logger } from './logger';

export type { RedisConnection };

/**
 * The worker's key store, opened as every service opens it (@rotor/redis-store openKeyStore): patient
 * (no client request waits on the worker: a command may take max(redis.commandTimeoutMs, 5 s) and waits
 * for a reconnect, so a slow Redis slows probes down without failing them), scripts loaded.
 */
export function openWorkerStore(config: RotorConfig, onError: (op: string) => void, logger: Logger): Promise<OpenedRedisStore> {
  return openKeyStore(config, { failFast: false, onError: connectionError(onError, logger) });
}

/**
 * The connection BullMQ's queue and workers share. No command timeout (its workers block on BZPOPMIN
 * for seconds, and a Worker duplicates this connection for that) and maxRetriesPerRequest null, as
 * BullMQ requires; commands are queued while disconnected: the worker has no request to answer fast,
 * only work to resume.
 */
export function bullConnection(config: RotorConfig, onError: (op: string) => void, logger: Logger): RedisConnection {
  const bull = queueConnection(config);
  bull.on('error', connectionError(onError, logger));
  return bull;
}

/** A BullMQ connection; `failFast` (the proxy's producer side) errors at once while Redis is away. */
export function queueConnection(config: RotorConfig, failFast = false): RedisConnection {
  return createRedisClient({
    url: config.redis.url,
    connectTimeoutMs: config.redis.connectTimeoutMs,
    offlineQueue: !failFast,
    maxRetriesPerRequest: failFast ? 1 : null,
    ...(failFast ? { commandTimeoutMs: Math.max(config.redis.commandTimeoutMs, 1000) } : {}),
  });
}

/** Counted (op `connection`) and logged at debug: the client reconnects by itself. */
function connectionError(onError: (op: string) => void, logger: Logger): (error: Error) => void {
  return (error) => {
    onError('connection');
    logger.debug({ err: error.message }, 'redis connection error');
  };
}
