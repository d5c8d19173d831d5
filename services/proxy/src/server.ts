import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { keylessPools, type RotorConfig } from '@rotor/core';
import type { KeyStore } from '@rotor/redis-store';
import type { Cluster, Redis } from 'ioredis';
import { buildApp, type Readiness } from './app';
import { dataPlane } from './data-plane';
import { createLogger, type Logger } from './logger';
import { ProxyMetrics } from './metrics';
import { keysByPool, syncPools } from './pool-sync';
import type { RelayContext } from './relay';
import type { StoreMode } from './resilient-store';
import { openStore } from './store-setup';
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
  /** The key store the replica uses (Redis behind the fail-open / fail-closed switch, or memory://). */
  store: KeyStore;
  /** Undefined with `redis.url: memory://`. */
  redis?: Redis | Cluster;
  /** shared / fallback / unavailable (Redis), or memory. */
  storeMode(): StoreMode | 'memory';
  metrics: ProxyMetrics;
  /** Applies a new config without dropping traffic: keys added/removed, the rest keep their state. */
  reload(config: RotorConfig): Promise<void>;
  close(): Promise<void>;
}

export async function startProxy(config: RotorConfig, options: ProxyOptions = {}): Promise<ProxyHandle> {
  const logger = options.logger ?? createLogger(config.log.level);
  const metrics = new ProxyMetrics(Object.values(config.pools));
  // The store re-syncs Redis from the config in force after an outage (it changes on reload).
  let inForce = config;
  const opened = await openStore(config, () => inForce, logger, metrics);
  const { store } = opened;
  const ctx: RelayContext = {
    config,
    store,
    logger,
    metrics,
    upstreams: new Map(Object.values(config.pools).map((pool) => [pool.name, new Upstream(pool.baseUrl)])),
    keys: keysByPool(config),
    ...(options.onKeyParked ? { onKeyParked: options.onKeyParked } : {}),
  };
  const readiness = async () => withKeylessPools(await opened.readiness(), ctx.config);
  const serveMetrics = config.metricsPort === undefined;
  // Two planes, one socket: pool routes go straight to the relay, the rest to the Express app.
  const controlPlane = buildApp({ relay: ctx, readiness, serveMetrics });
  const listener = dataPlane({ relay: ctx, controlPlane, serveMetrics });
  const { clientHeadersMs, clientRequestMs } = config.timeouts;
  const server = http.createServer(
    {
      // Slowloris: a client that has not sent its headers (or its whole request) in time is cut off,
      // checked every second rather than Node's default 30 s.
      headersTimeout: Math.min(clientHeadersMs, clientRequestMs),
      requestTimeout: clientRequestMs,
      connectionsCheckingInterval: Math.min(1000, clientHeadersMs),
    },
    listener,
  );
  // Keep-alive from a load balancer outlives Node's 5 s default less often than it races it.
  server.keepAliveTimeout = 65_000;
  await listen(server, options.port ?? config.port, config.host);
  const metricsServer = config.metricsPort === undefined ? undefined : await startMetricsServer(metrics, config);
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    store,
    ...(opened.redis ? { redis: opened.redis } : {}),
    storeMode: opened.mode,
    metrics,
    reload: async (next) => {
      // First, so that a return from fallback during the reload syncs Redis to the new config; put back
      // if the sync fails, since the old config then stays in force (a later re-sync must match it).
      const previous = inForce;
      inForce = next;
      try {
        await syncPools(next, store);
      } catch (error) {
        inForce = previous;
        throw error;
      }
      metrics.initPools(Object.values(next.pools));
      for (const pool of Object.values(next.pools)) {
        if (ctx.config.pools[pool.name]?.baseUrl !== pool.baseUrl) {
          ctx.upstreams.get(pool.name)?.close();
          ctx.upstreams.set(pool.name, new Upstream(pool.baseUrl));
        }
      }
      ctx.keys = keysByPool(next);
      ctx.config = next;
      logger.info({ pools: Object.keys(next.pools).length }, 'config reloaded');
    },
    close: async () => {
      await drain(server, options.drainTimeoutMs ?? 10_000);
      metricsServer?.close();
      for (const upstream of ctx.upstreams.values()) upstream.close();
      await opened.close();
    },
  };
}

/**
 * An `optional: true` pool without keys answers 503 on its routes: /readyz says so in its detail (the
 * status stays, since the replica serves its other pools).
 */
function withKeylessPools(ready: Readiness, config: RotorConfig): Readiness {
  const empty = keylessPools(config);
  if (empty.length === 0) return ready;
  return { ...ready, detail: `${ready.detail}; pool(s) without keys (optional): ${empty.join(', ')}` };
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
