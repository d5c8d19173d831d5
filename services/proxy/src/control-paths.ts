import { ADMIN_PREFIX } from './admin';

/** The control plane's own GET paths (HEAD too), served by the Express app before any pool route. */
export const HEALTH_PATH = '/healthz';
export const READY_PATH = '/readyz';
export const METRICS_PATH = '/metrics';

const ADMIN = new RegExp(`^${ADMIN_PREFIX}(?:/|$)`, 'i');
const getsOf = (paths: string[]) => new RegExp(`^(?:${paths.join('|')})/?$`, 'i');
const GETS = getsOf([HEALTH_PATH, READY_PATH]);
const GETS_AND_METRICS = getsOf([HEALTH_PATH, READY_PATH, METRICS_PATH]);

/**
 * Whether a request is the control plane's (the Express app) rather than a pool route's: the admin
 * prefix (any method), GET / HEAD of /healthz, /readyz and, when served on this port, /metrics. They
 * are matched before the pool routes, so a catch-all route '/' never shadows them.
 *
 * Matched as Express matches them (control-paths.test.ts holds the two side by side): case-insensitive,
 * one optional trailing slash, the admin prefix on whole segments, on the raw (undecoded) path. A target
 * that is not a path (`OPTIONS *`, absolute-form `http://host/x`) is no pool route's either: the
 * control plane answers it too.
 */
export function isControlPath(method: string | undefined, url: string, serveMetrics: boolean): boolean {
  if (!url.startsWith('/')) return true;
  const path = pathnameOf(url);
  if (ADMIN.test(path)) return true;
  if (method !== 'GET' && method !== 'HEAD') return false;
  return (serveMetrics ? GETS_AND_METRICS : GETS).test(path);
}

/**
 * The path as Express reads it (parseurl): up to the query or fragment. A target with a '#' goes
 * through Node's legacy url.parse there, which turns the path's backslashes into slashes.
 */
function pathnameOf(url: string): string {
  const end = url.search(/[?#]/);
  const path = end < 0 ? url : url.slice(0, end);
  return url.includes('#') ? path.replace(/\\/g, '/') : path;
}
