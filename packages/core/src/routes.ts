import type { PoolConfig, RotorConfig } from './config-types';

export interface RouteMatch {
  pool: PoolConfig;
  prefix: string;
  /** What follows the prefix, query string included: append it to `pool.baseUrl`. '' for the prefix itself. */
  rest: string;
}

/**
 * The route for a request path: longest prefix, matched on whole segments (`/v1` takes `/v1/chat` and
 * `/v1?x`, not `/v10`). Routes are already sorted longest first, so the first match wins.
 */
export function routeFor(config: RotorConfig, path: string): RouteMatch | undefined {
  const queryAt = path.search(/[?#]/);
  const pathname = queryAt < 0 ? path : path.slice(0, queryAt);
  for (const route of config.routes) {
    const { prefix } = route;
    const matches = prefix === '/' || pathname === prefix || pathname.startsWith(prefix + '/');
    const pool = config.pools[route.pool];
    if (matches && pool) return { pool, prefix, rest: prefix === '/' ? path : path.slice(prefix.length) };
  }
  return undefined;
}
