import type { RotorConfig } from '@rotor/core';
import { MemoryKeyStore } from './memory-key-store';
import { createRedisClient } from './redis-client';
import { closeRedis, connectOrExplain, type RedisConnection } from './redis-connection';
import { RedisKeyStore } from './redis-key-store';
import { preloadScripts } from './scripts';
import { DEFAULT_POLICY, type StorePolicy } from './types';

/** `redis.url` for no Redis: the key state lives in one process (a single proxy replica). */
export const MEMORY_URL = 'memory://';

/** What a command may take at least when no client request waits on it (worker, CLI). */
export const PATIENT_COMMAND_TIMEOUT_MS = 5000;

/**
 * The store's rules as the config sets them: prefix, lease TTL, backoff, circuit breaker, a client's
 * keys-out limit. The rest (returnBatch, settleMs, the random draw) are DEFAULT_POLICY's.
 */
export function storePolicyFromConfig(config: RotorConfig): StorePolicy {
  return {
    ...DEFAULT_POLICY,
    prefix: config.redis.prefix,
    leaseTtlMs: config.leaseTtlMs,
    backoff: { ...config.backoff },
    breakerFailures: config.circuitBreaker.failures,
    clientKeysOutPerMinute: config.clientLimits.keysOutPerMinute,
  };
}

export interface OpenKeyStoreOptions {
  /**
   * true (the proxy: a client waits on every call): a command fails after `redis.commandTimeoutMs`, and
   * at once while disconnected (the proxy falls back instead of queueing requests without bound); the
   * commands of one event-loop turn go out as one pipeline. false (worker, CLI: no client waits): a
   * command may take max(`redis.commandTimeoutMs`, 5 s) and waits for a reconnect.
   */
  failFast: boolean;
  /** `memory://` opens a MemoryKeyStore (only a single proxy can run on it); refused when not set. */
  allowMemory?: boolean;
  /** What to do when Redis does not answer at start, said after "Redis at <url> did not answer (…)." */
  hint?: string;
  /** Connection errors (the client reconnects by itself); ignored when not given. */
  onError?(error: Error): void;
}

export interface OpenedRedisStore {
  kind: 'redis';
  store: RedisKeyStore;
  redis: RedisConnection;
  policy: StorePolicy;
  close(): Promise<void>;
}

export interface OpenedMemoryStore {
  kind: 'memory';
  store: MemoryKeyStore;
  policy: StorePolicy;
  close(): Promise<void>;
}

export type OpenedKeyStore = OpenedRedisStore | OpenedMemoryStore;

const DEFAULT_HINT = 'Start one (redis-server) or point REDIS_URL at yours.';

/**
 * The one way a service opens the key store its config names: the policy from the config, the client
 * from the one factory (redis://, rediss://, Sentinel, Cluster; timeouts as `failFast` says), connected
 * within connectTimeoutMs + one command timeout (a wrong URL stops the caller at once with a message
 * naming it, never its password), the scripts loaded.
 */
export function openKeyStore(config: RotorConfig, options: OpenKeyStoreOptions & { allowMemory?: false }): Promise<OpenedRedisStore>;
export function openKeyStore(config: RotorConfig, options: OpenKeyStoreOptions): Promise<OpenedKeyStore>;
export async function openKeyStore(config: RotorConfig, options: OpenKeyStoreOptions): Promise<OpenedKeyStore> {
  const policy = storePolicyFromConfig(config);
  const { url, connectTimeoutMs } = config.redis;
  if (url === MEMORY_URL && options.allowMemory) {
    return { kind: 'memory', store: new MemoryKeyStore(policy), policy, close: async () => {} };
  }
  const commandTimeoutMs = options.failFast
    ? config.redis.commandTimeoutMs
    : Math.max(config.redis.commandTimeoutMs, PATIENT_COMMAND_TIMEOUT_MS);
  // memory:// without allowMemory: the factory says only a single proxy runs on it.
  const redis = createRedisClient({
    url,
    commandTimeoutMs,
    connectTimeoutMs,
    offlineQueue: !options.failFast,
    lazyConnect: true,
    // No auto-pipelining: it holds each command until the end of the tick and sends a burst's acquires
    // and reports as one batch, so every acquire waits for the whole batch's replies. Measured at 50
    // connections, 50 ms upstream: acquire 5.2-5.6 ms mean with it, 2.1-2.9 ms without (docs/benchmarks.md).
    autoPipelining: false,
  });
  redis.on('error', options.onError ?? (() => undefined));
  await connectOrExplain(redis, url, connectTimeoutMs + commandTimeoutMs, options.hint ?? DEFAULT_HINT);
  try {
    await preloadScripts(redis);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  return { kind: 'redis', store: new RedisKeyStore(redis, policy), redis, policy, close: () => closeRedis(redis) };
}
