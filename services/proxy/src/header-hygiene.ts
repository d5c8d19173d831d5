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

/** Headers named inside `Connection:` are hop-by-hop too, whatever they are called. */
function connectionNamed(headers: IncomingHttpHeaders): string[] {
  const value = headers.connection;
  if (!value) return [];
  return value
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
}

/** The request headers upstream sees: the client's, cleaned, plus exactly one provider credential. */
export function upstreamRequestHeaders(
  client: IncomingHttpHeaders,
  credential: Record<string, string>,
  bodyLength: number | undefined,
): IncomingHttpHeaders {
  const drop = new Set([...CLIENT_CREDENTIALS, ...HOP_BY_HOP, ...connectionNamed(client)]);
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(client)) {
    if (!drop.has(name) && value !== undefined) out[name] = value;
  }
  for (const [name, value] of Object.entries(credential)) out[name.toLowerCase()] = value;
  if (bodyLength !== undefined) out['content-length'] = String(bodyLength);
  return out;
}

const RESPONSE_DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'trailer', 'te']);

/** The response headers the client sees: the provider's, minus hop-by-hop ones (Node sets framing). */
export function clientResponseHeaders(upstream: IncomingHttpHeaders): OutgoingHttpHeaders {
  const drop = new Set([...RESPONSE_DROP, ...connectionNamed(upstream)]);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (!drop.has(name) && value !== undefined) out[name] = value;
  }
  return out;
}
