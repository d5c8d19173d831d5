import { Cluster, Redis, type RedisOptions } from 'ioredis';

export interface RedisConnectionOptions {
  /**
   * redis://[:password@]host:port[/db], rediss:// for TLS,
   * redis+sentinel://host:port[,host:port...]/<masterName> for Sentinel,
   * redis+cluster://host:port[,host:port...] for Redis Cluster.
   */
  url: string;
  /** Every command fails after this long instead of hanging the request path. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /**
   * false (proxy): a command issued while disconnected fails at once, so the proxy can fall back
   * instead of queueing requests without bound. true (worker, CLI): wait for the connection.
   */
  offlineQueue?: boolean;
  /** BullMQ needs null (it retries blocking commands itself). */
  maxRetriesPerRequest?: number | null;
  lazyConnect?: boolean;
  /**
   * ioredis auto-pipelining: commands of one event-loop turn go out as one batch, and the next batch
   * waits for its replies. Off everywhere: on the request path it made every acquire wait for a whole
   * burst's replies (docs/benchmarks.md); RedisKeyStore batches the writes nobody waits for itself
   * (write-coalescer.ts).
   */
  autoPipelining?: boolean;
}

/**
 * The one Redis client factory. Shared choices, and why:
 * - retryStrategy: reconnect forever with a capped delay: Redis coming back must heal the process by
 *   itself, without a restart.
 * - reconnectOnError for READONLY (a failed-over primary now answers as a replica) and LOADING (a
 *   restarted Redis still loading): reconnect, and for READONLY resend the command to the new primary.
 * - commandTimeout: a paused or overloaded Redis costs a bounded time per request, never a hang.
 */
export function createRedisClient(options: RedisConnectionOptions): Redis | Cluster {
  const common: RedisOptions = {
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs ?? 2000,
    enableOfflineQueue: options.offlineQueue ?? true,
    maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? 1 : options.maxRetriesPerRequest,
    lazyConnect: options.lazyConnect ?? false,
    enableAutoPipelining: options.autoPipelining ?? false,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2000),
    reconnectOnError: (error) => {
      if (error.message.startsWith('READONLY')) return 2;
      return error.message.startsWith('LOADING');
    },
  };
  const url = parseRedisUrl(options.url);
  if (url.protocol === 'redis+cluster:') {
    return new Cluster(url.hosts, {
      redisOptions: withAuth(common, url),
      enableOfflineQueue: common.enableOfflineQueue,
      clusterRetryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2000),
      lazyConnect: common.lazyConnect,
    });
  }
  if (url.protocol === 'redis+sentinel:') {
    const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (!name) throw new Error('redis+sentinel:// URL needs the master name as its path');
    return new Redis({
      ...withAuth(common, url),
      sentinels: url.hosts,
      name,
      sentinelRetryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2000),
    });
  }
  if (url.protocol === 'memory:') {
    throw new Error('redis.url memory:// means no Redis: only a single `rotor proxy` runs on it (no worker, no shared state)');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new Error(`unsupported Redis URL scheme ${url.protocol} (redis, rediss, redis+sentinel, redis+cluster)`);
  }
  return new Redis(options.url, common);
}

interface ParsedRedisUrl {
  protocol: string;
  username: string;
  password: string;
  hosts: { host: string; port: number }[];
  pathname: string;
}

/**
 * `new URL` refuses a comma-separated host list (`redis+sentinel://a:26379,b:26379/name` is not a valid
 * WHATWG URL: the "port" would be `26379,b:26379`), so the authority is split by hand.
 */
function parseRedisUrl(text: string): ParsedRedisUrl {
  const match = /^([a-z][a-z0-9+.-]*:)\/\/(?:([^@/]*)@)?([^/?#]*)([^?#]*)/i.exec(text);
  if (!match) throw new Error('invalid Redis URL');
  const [, protocol, userinfo = '', authority = '', pathname = ''] = match;
  const [username = '', password = ''] = userinfo.includes(':') ? userinfo.split(/:(.*)/s) : [userinfo, ''];
  const hosts = authority
    .split(',')
    .filter(Boolean)
    .map((hostPort) => {
      const [, host = '', port = ''] = /^(\[[^\]]+\]|[^:]*)(?::(\d+))?$/.exec(hostPort) ?? [];
      return { host: host.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(port || 6379) };
    });
  return { protocol: protocol!.toLowerCase(), username, password, hosts, pathname };
}

function withAuth(options: RedisOptions, url: ParsedRedisUrl): RedisOptions {
  return {
    ...options,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
}
