import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Credentials a client may send: never forwarded (the pool key is the only credential upstream sees). */
const CLIENT_CREDENTIALS = ['authorization', 'x-api-key', 'x-goog-api-key', 'api-key', 'cookie', 'proxy-authorization'];

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1), those a proxy must set itself, and those that would let the
 * answer escape Rotor's reading of it: `accept-encoding` (Rotor asks for `identity`, so it can classify
 * and scrub what it passes on), `range` / `if-range` (an answer in pieces could carry a key past the
 * scrubber one piece at a time), `max-forwards`.
 */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
  'accept-encoding',
  'range',
  'if-range',
  'max-forwards',
];

/**
 * Headers that tell a server (or an intermediary before it) who the client is, which host, URL or
 * method was "really" asked for: a client must not choose them. Every `x-forwarded-*` goes too (a
 * prefix check).
 */
const ROUTING_CLAIMS = [
  'forwarded',
  'x-forwarded',
  'via',
  'origin',
  'referer',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'x-cluster-client-ip',
  'fastly-client-ip',
  'x-originating-ip',
  'x-remote-ip',
  'x-remote-addr',
  'x-host',
  'x-original-host',
  'x-host-override',
  'x-http-host-override',
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-override-url',
  'x-envoy-original-path',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
];

/**
 * Headers that choose whose account a key bills (OpenAI organization / project, Google's quota
 * project): they belong to the key's owner. A pool or key sets them in config (`headers`).
 */
const ACCOUNT_SELECTORS = ['openai-organization', 'openai-project', 'x-goog-user-project', 'anthropic-workspace-id'];

const REQUEST_DROP = new Set([...CLIENT_CREDENTIALS, ...HOP_BY_HOP, ...ROUTING_CLAIMS, ...ACCOUNT_SELECTORS]);
/** Response headers that name the keys' owner (organization, project): Rotor reads them, clients need not. */
const ACCOUNT_NAMES = ['openai-organization', 'openai-project', 'anthropic-organization-id'];
/** Upstream cookies and proxy challenges are the provider's business with Rotor, not the client's. */
const RESPONSE_DROP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'te',
  'set-cookie',
  'set-cookie2',
  'proxy-authenticate',
  'proxy-authentication-info',
]);
const RESPONSE_DROP_WITH_ACCOUNT = new Set([...RESPONSE_DROP, ...ACCOUNT_NAMES]);

/**
 * Headers named inside `Connection:` are hop-by-hop too, whatever they are called. Undefined when it
 * names none (no header, or only `keep-alive` / `close`: the common case costs no Set).
 */
function connectionNamed(headers: IncomingHttpHeaders): Set<string> | undefined {
  const value = headers.connection;
  if (!value || value === 'keep-alive' || value === 'close') return undefined;
  let named: Set<string> | undefined;
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '' || name === 'keep-alive' || name === 'close') continue;
    (named ??= new Set()).add(name);
  }
  return named;
}

/** Copies `headers` without the names in `drop` or in `alsoDrop` (the static sets are built once). */
function copyWithout(headers: IncomingHttpHeaders, drop: Set<string>, alsoDrop: Set<string> | undefined): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const name of Object.keys(headers)) {
    if (drop.has(name) || alsoDrop?.has(name) || name.startsWith('x-forwarded-')) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * The request headers upstream sees: the client's, cleaned, plus the key's configured headers
 * (`headers` of its pool / key, lower-case) and exactly one provider credential.
 */
export function upstreamRequestHeaders(
  client: IncomingHttpHeaders,
  credential: Record<string, string>,
  bodyLength: number | undefined,
  keyHeaders?: Record<string, string>,
): IncomingHttpHeaders {
  const out = copyWithout(client, REQUEST_DROP, connectionNamed(client));
  if (keyHeaders) Object.assign(out, keyHeaders);
  out['accept-encoding'] = 'identity';
  for (const name of Object.keys(credential)) out[name.toLowerCase()] = credential[name];
  if (bodyLength !== undefined) out['content-length'] = String(bodyLength);
  return out;
}

/**
 * The response headers the client sees: the provider's, minus hop-by-hop ones (Node sets framing),
 * cookies and proxy challenges, and, unless the pool exposes them, the headers naming the keys' owner.
 */
export function clientResponseHeaders(upstream: IncomingHttpHeaders, exposeAccount = false): OutgoingHttpHeaders {
  return copyWithout(upstream, exposeAccount ? RESPONSE_DROP : RESPONSE_DROP_WITH_ACCOUNT, connectionNamed(upstream));
}

/**
 * Query parameters that carry a credential or choose the billed project on Google's APIs (system
 * parameters that every Google API reads, whatever the pool's provider): removed from the path a
 * client asked for, so neither a client's key nor its choice of project reaches the provider.
 */
const OWNER_PARAMS = new Set(['key', 'access_token', 'userproject', 'quotauser', 'oauth_token']);

/** `path` (with its query) without OWNER_PARAMS; unchanged (same string) when it has none. */
export function upstreamPath(path: string): string {
  const queryAt = path.indexOf('?');
  if (queryAt < 0) return path;
  const params = path.slice(queryAt + 1).split('&');
  const kept = params.filter((param) => {
    const name = param.split('=', 1)[0]!;
    let decoded = name;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      // a malformed name is compared as it is
    }
    return !OWNER_PARAMS.has(decoded.trim().toLowerCase());
  });
  if (kept.length === params.length) return path;
  return kept.length > 0 ? `${path.slice(0, queryAt)}?${kept.join('&')}` : path.slice(0, queryAt);
}
