import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RotorConfig } from '@rotor/core';
import { RedisKeyStore, createRedisClient, preloadScripts } from '@rotor/redis-store';
import type { Cluster, Redis } from 'ioredis';
import { buildApp, type Readiness } from './app';
import { createLogger, type Logger } from './logger';
import { ProxyMetrics } from './metrics';
import { secretsByPool, syncPools } from './pool-sync';
import type { RelayContext } from './relay';
import { Upstream } from './upstream';

export interface ProxyOptions {
  logger?: Logger;
  /** Overrides config.port (0 = any free port). */
  port?: number;
  onKeyParked?: RelayContext['onKeyParked'];
  /** Bound on waiting for in-flight requests at shutdown. */
  drainTimeoutMs?: number;
}

export interface ProxyHandle {
  url: string;
  port: number;
  server: http.Server;
  store: RedisKeyStore;
  redis: Redis | Cluster;
  metrics: ProxyMetrics;
  /** Applies a new config without dropping traffic: keys added/removed, the rest keep their state. */
  reload(config: RotorConfig): Promise<void>;
  close(): Promise<void>;
}

/** Redis URL without its password, for messages. */
export function displayUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

export async function startProxy(config: RotorConfig, options: ProxyOptions = {}): Promise<ProxyHandle> {
  const logger = options.logger ?? createLogger(config.log.level);
  const redis = createRedisClient({
    url: config.redis.url,
    commandTimeoutMs: config.redis.commandTimeoutMs,
    connectTimeoutMs: config.redis.connectTimeoutMs,
    offlineQueue: false,
    lazyConnect: true,
  });
  redis.on('error', (error: Error) => logger.debug({ err: error.message }, 'redis connection error'));
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new Error(
      `Redis at ${displayUrl(config.redis.url)} did not answer (${(error as Error).message}). ` +
        'Start one (redis-server) or point REDIS_URL at yours.',
    );
  }
  const store = new RedisKeyStore(redis, {
    prefix: config.redis.prefix,
    leaseTtlMs: config.leaseTtlMs,
    backoff: config.backoff,
    breakerFailures: config.circuitBreaker.failures,
  });
  await preloadScripts(redis);
  await syncPools(config, store);

  const metrics = new ProxyMetrics(Object.keys(config.pools));
  const ctx: RelayContext = {
    config,
    // Timed and error-counted per op (rotor_redis_*): wrap the Redis store itself, not a fallback around it.
    store: metrics.instrumentStore(store),
    logger,
    metrics,
    upstreams: new Map(Object.values(config.pools).map((pool) => [pool.name, new Upstream(pool.baseUrl)])),
    secrets: secretsByPool(config),
    ...(options.onKeyParked ? { onKeyParked: options.onKeyParked } : {}),
  };
  const readiness = async (): Promise<Readiness> => {
    if (redis.status !== 'ready') return { status: 'unavailable', detail: `redis ${redis.status}` };
    try {
      await redis.ping();
      return { status: 'ready', detail: 'redis reachable, scripts loaded' };
    } catch (error) {
      return { status: 'unavailable', detail: `redis: ${(error as Error).message}` };
    }
  };
  const app = buildApp({ relay: ctx, readiness, serveMetrics: config.metricsPort === undefined });
  const server = http.createServer(app);
  // Keep-alive from a load balancer outlives Node's 5 s default less often than it races it.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await listen(server, options.port ?? config.port, config.host);
  const metricsServer = config.metricsPort === undefined ? undefined : await startMetricsServer(metrics, config);
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    store,
    redis,
    metrics,
    reload: async (next) => {
      await syncPools(next, store);
      metrics.initPools(Object.keys(next.pools));
      for (const pool of Object.values(next.pools)) {
        if (ctx.config.pools[pool.name]?.baseUrl !== pool.baseUrl) {
          ctx.upstreams.get(pool.name)?.close();
          ctx.upstreams.set(pool.name, new Upstream(pool.baseUrl));
        }
      }
      ctx.secrets = secretsByPool(next);
      ctx.config = next;
      logger.info({ pools: Object.keys(next.pools).length }, 'config reloaded');
    },
    close: async () => {
      await drain(server, options.drainTimeoutMs ?? 10_000);
      metricsServer?.close();
      for (const upstream of ctx.upstreams.values()) upstream.close();
      await closeRedis(redis);
    },
  };
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stop accepting, let in-flight requests finish within a bound, then cut what is left. */
async function drain(server: http.Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive connections go as soon as their request is done (a load balancer reconnects elsewhere).
  const idle = setInterval(() => server.closeIdleConnections(), 50);
  const cut = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearInterval(idle);
  clearTimeout(cut);
}

async function startMetricsServer(metrics: ProxyMetrics, config: RotorConfig): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': metrics.registry.contentType });
    res.end(await metrics.registry.metrics());
  });
  await listen(server, config.metricsPort!, config.host);
  return server;
}

/** QUIT when Redis answers (pending replies arrive first), else drop the connection: never hang here. */
export async function closeRedis(redis: Redis | Cluster, timeoutMs = 2000): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  const timer = setTimeout(() => redis.disconnect(), timeoutMs);
  await redis.quit().catch(() => redis.disconnect());
  clearTimeout(timer);
}
