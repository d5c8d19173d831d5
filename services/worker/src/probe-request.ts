import { providers, type PoolConfig } from '@rotor/core';

export type ProbeKind = 'models' | 'request';

export interface ProbeRequest {
  kind: ProbeKind;
  method: 'GET' | 'POST';
  /** The pool's baseUrl + the provider's probe path: the host only ever comes from config. */
  url: URL;
  headers: Record<string, string>;
  body?: Buffer;
}

/**
 * What proves a key fit again depends on why it left. A models listing is free and proves the key valid,
 * but it succeeds for a key without credit or under a rate limit too, so it only answers for invalid
 * keys (confirmed, or suspected on one answer); everything else gets the smallest billed request (1
 * output token on the pool's probeModel).
 */
export function probeKindFor(reason: string): ProbeKind {
  return reason === 'invalid_key' || reason === 'suspect_invalid' ? 'models' : 'request';
}

export function buildProbeRequest(pool: PoolConfig, secret: string, kind: ProbeKind): ProbeRequest {
  const provider = providers[pool.provider];
  const spec = provider.probe;
  const headers: Record<string, string> = {
    accept: 'application/json',
    'user-agent': 'rotor-worker',
    ...spec.extraHeaders,
    ...provider.credentialHeaders(secret),
  };
  if (kind === 'models') {
    return { kind, method: 'GET', url: join(pool.baseUrl, spec.listPath), headers };
  }
  const minimal = spec.minimalRequest(pool.probeModel);
  const body = Buffer.from(JSON.stringify(minimal.body));
  return {
    kind,
    method: minimal.method,
    url: join(pool.baseUrl, minimal.path),
    headers: { ...headers, 'content-type': 'application/json', 'content-length': String(body.length) },
    body,
  };
}

/** baseUrl has no trailing slash (config) and probe paths start with one. */
function join(baseUrl: string, path: string): URL {
  return new URL(`${baseUrl}${path}`);
}
