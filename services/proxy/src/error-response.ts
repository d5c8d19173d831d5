import type { ServerResponse } from 'node:http';
import { ROTOR_ERROR_STATUS, type Provider, type RotorErrorCode } from '@rotor/core';

/** Error types in the provider's own vocabulary, so SDKs raise the error class they would for the provider. */
const TYPES: Partial<Record<RotorErrorCode, string>> = {
  bad_path: 'invalid_request_error',
  unauthorized: 'authentication_error',
  forbidden: 'permission_error',
  not_found: 'not_found_error',
  payload_too_large: 'request_too_large',
  keys_exhausted: 'rate_limit_error',
  no_usable_keys: 'overloaded_error',
  upstream_timeout: 'timeout_error',
  upstream_unreachable: 'api_error',
  redis_unavailable: 'api_error',
};

/**
 * Rotor's own answers, in the shape of the pool's provider (OpenAI's `{error:{...}}`, Anthropic's
 * `{type:"error",...}`), with `Retry-After` (seconds, rounded up) and `retry-after-ms` when a wait is known.
 * Returns the status sent. Messages never contain key material.
 */
export function sendRotorError(
  res: ServerResponse,
  provider: Provider,
  code: RotorErrorCode,
  message: string,
  retryAfterMs?: number,
): number {
  const status = ROTOR_ERROR_STATUS[code];
  if (res.headersSent) {
    res.destroy();
    return status;
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-rotor-error': code };
  if (retryAfterMs !== undefined) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
    headers['retry-after-ms'] = String(Math.max(1, Math.ceil(retryAfterMs)));
  }
  res.writeHead(status, headers);
  res.end(JSON.stringify(provider.errorBody(status, message, TYPES[code])));
  return status;
}
