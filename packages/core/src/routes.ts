import type { PoolConfig, RotorConfig } from './config-types';

export interface RouteMatch {
  kind: 'match';
  pool: PoolConfig;
  prefix: string;
  /**
   * What follows the prefix, query string included: append it to `pool.baseUrl`. Always starts with
   * '/' (the bare prefix `/v1` or `/v1?x` is routed as `/v1/`), dot segments already resolved.
   */
  rest: string;
}

/** The request path leaves its route's prefix through dot segments (`/v1/../../x`, `/v1/%2e%2e/x`). */
export interface RouteLeft {
  kind: 'leaves_route';
  pool: PoolConfig;
  prefix: string;
}

export type RouteResult = RouteMatch | RouteLeft | { kind: 'no_route' };

/**
 * The route for a request path: longest prefix, matched on whole segments (`/v1` takes `/v1/chat` and
 * `/v1?x`, not `/v10`). Routes are already sorted longest first, so the first match wins.
 *
 * The rest of the path is normalised before it goes anywhere near a pool key: dot segments are
 * resolved, counting `%2e` as a dot and `%2f`, `%5c` and `\` as separators (an upstream or an
 * intermediary may decode them), and a path that would climb out of its route's prefix is refused,
 * so a key is only ever sent below its pool's base URL.
 */
export function routeFor(config: RotorConfig, url: string): RouteResult {
  const queryAt = url.search(/[?#]/);
  const pathname = queryAt < 0 ? url : url.slice(0, queryAt);
  const query = queryAt < 0 ? '' : url.slice(queryAt);
  for (const route of config.routes) {
    const { prefix } = route;
    const matches = prefix === '/' || pathname === prefix || pathname.startsWith(prefix + '/');
    const pool = config.pools[route.pool];
    if (!matches || !pool) continue;
    const restPath = prefix === '/' ? pathname : pathname.slice(prefix.length);
    const resolved = resolveDotSegments(restPath === '' ? '/' : restPath);
    if (resolved === undefined) return { kind: 'leaves_route', pool, prefix };
    return { kind: 'match', pool, prefix, rest: resolved + query };
  }
  return { kind: 'no_route' };
}

const SEPARATOR = /\/|%2f|%5c|\\/i;
const DOT = /%2e/gi;
const ENCODED_DOT = /%2e/i;

/**
 * `path` (starting with '/') with its dot segments resolved (RFC 3986 §5.2.4), or undefined when a
 * `..` would climb above its start. A path without dot segments is returned unchanged, byte for byte.
 */
export function resolveDotSegments(path: string): string | undefined {
  // The common case (no dot at all) costs one scan, not a split.
  if (!path.includes('.') && !ENCODED_DOT.test(path)) return path;
  const segments = path.slice(1).split(SEPARATOR);
  const isDot = (segment: string) => {
    const plain = segment.replace(DOT, '.');
    return plain === '.' || plain === '..';
  };
  if (!segments.some(isDot)) return path;
  const kept: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const plain = segments[i]!.replace(DOT, '.');
    if (plain !== '.' && plain !== '..') {
      kept.push(segments[i]!);
      continue;
    }
    if (plain === '..' && kept.pop() === undefined) return undefined;
    // `/a/b/..` is `/a/`: a dot segment at the end leaves a trailing slash.
    if (i === segments.length - 1) kept.push('');
  }
  return '/' + kept.join('/');
}
