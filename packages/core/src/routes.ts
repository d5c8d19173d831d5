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
  // `OPTIONS *`, an absolute-form target (`GET http://host/x`): not a path of any route.
  if (!pathname.startsWith('/')) return { kind: 'no_route' };
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
/** Every spelling of a dot an upstream or intermediary may decode: %2e, overlong UTF-8, %u002e. */
const DOT = /%2e|%c0%ae|%e0%80%ae|%u002e/gi;
const MAYBE_DOT = /%2e|%c0%ae|%e0%80%ae|%u002e|%25/i;
const DOUBLE_ENCODED = /%25/gi;

/**
 * `path` (starting with '/') with its dot segments resolved (RFC 3986 §5.2.4), or undefined when a
 * `..` would climb above its start. A path without dot segments is returned unchanged, byte for byte.
 * A segment counts as a dot segment in every form something after Rotor might read as one: percent-
 * or double-percent-encoded, overlong UTF-8, with `;` path parameters or trailing NUL / spaces.
 */
export function resolveDotSegments(path: string): string | undefined {
  // The common case (no dot at all) costs one scan, not a split.
  if (!path.includes('.') && !MAYBE_DOT.test(path)) return path;
  // Double (or triple) encoding decoded first, so `%252e` and `%252f` are seen as what they become.
  let canonical = path;
  for (let i = 0; i < 3 && DOUBLE_ENCODED.test(canonical); i++) canonical = canonical.replace(DOUBLE_ENCODED, '%');
  const segments = canonical.slice(1).split(SEPARATOR);
  const dots = segments.map(dotsOf);
  if (!dots.some((d) => d !== undefined)) return path;
  const kept: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const dot = dots[i];
    if (dot === undefined) {
      kept.push(segments[i]!);
      continue;
    }
    if (dot === '..' && kept.pop() === undefined) return undefined;
    // `/a/b/..` is `/a/`: a dot segment at the end leaves a trailing slash.
    if (i === segments.length - 1) kept.push('');
  }
  return '/' + kept.join('/');
}

function dotsOf(segment: string): '.' | '..' | undefined {
  const plain = segment
    .split(';', 1)[0]!
    .replace(DOT, '.')
    .replace(/(?:%00|%20|%09|\s)+$/i, '');
  return plain === '.' || plain === '..' ? plain : undefined;
}
