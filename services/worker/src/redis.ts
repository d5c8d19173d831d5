import type { RotorConfig } from '@rotor/core';
import { createRedisClient, type RedisConnection } from '@rotor/redis-store';
import type { Logger } from './logger';

export type { RedisConnection };

/** The worker answers no client: a slow Redis may slow it down, but should not fail its probes. */
export const WORKER_COMMAND_TIMEOUT_FLOOR_MS = 5000;

/**
 * The worker's connections, all from the shared factory:
 * - `store`: key-store scripts and snapshots; command timeout redis.commandTimeoutMs, at least 5 s.
 * - `bull`: BullMQ. No command timeout (its workers block on BZPOPMIN for seconds, and a Worker
 *   duplicates this connection for that) and maxRetriesPerRequest null, as BullMQ requires.
 * Both queue commands while disconnected: the worker has no request to answer fast, only work to resume.
 */
export function workerConnections(config: RotorConfig, onError: (op: string) => void, logger: Logger) {
  const store = createRedisClient({
    url: config.redis.url,
    commandTimeoutMs: Math.max(config.redis.commandTimeoutMs, WORKER_COMMAND_TIMEOUT_FLOOR_MS),
    connectTimeoutMs: config.redis.connectTimeoutMs,
    offlineQueue: true,
    lazyConnect: true, // startWorker connects it first, to fail at once with a clear message
  });
  const bull = queueConnection(config);
  watch(store, 'connection', onError, logger);
  watch(bull, 'connection', onError, logger);
  return { store, bull };
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

function watch(redis: RedisConnection, op: string, onError: (op: string) => void, logger: Logger): void {
  redis.on('error', (error: Error) => {
    onError(op);
    logger.debug({ err: error.message }, 'redis connection error');
  });
}

