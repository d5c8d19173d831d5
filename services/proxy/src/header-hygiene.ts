import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Credentials a client may send: never forwarded (the pool key is the only credential upstream sees). */
const CLIENT_CREDENTIALS = ['authorization', 'x-api-key', 'x-goog-api-key', 'api-key', 'cookie', 'proxy-authorization'];

/** Hop-by-hop headers (RFC 9110 §7.6.1), plus those a proxy must set itself. */
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
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
];

const REQUEST_DROP = new Set([...CLIENT_CREDENTIALS, ...HOP_BY_HOP]);
const RESPONSE_DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'trailer', 'te']);

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
    if (drop.has(name) || alsoDrop?.has(name)) continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** The request headers upstream sees: the client's, cleaned, plus exactly one provider credential. */
export function upstreamRequestHeaders(
  client: IncomingHttpHeaders,
  credential: Record<string, string>,
  bodyLength: number | undefined,
): IncomingHttpHeaders {
  const out = copyWithout(client, REQUEST_DROP, connectionNamed(client));
  for (const name of Object.keys(credential)) out[name.toLowerCase()] = credential[name];
  if (bodyLength !== undefined) out['content-length'] = String(bodyLength);
  return out;
}

/** The response headers the client sees: the provider's, minus hop-by-hop ones (Node sets framing). */
export function clientResponseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  return copyWithout(upstream, RESPONSE_DROP, connectionNamed(upstream));
}
