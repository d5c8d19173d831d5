import type { ServerResponse } from 'node:http';
import { isRotorError, ROTOR_ERROR_STATUS, type Provider, type RotorErrorCode } from '@rotor/core';
import type { Logger } from './logger';

/**
 * Rotor's own answers, in the shape of the pool's provider (OpenAI's `{error:{...}}`, Anthropic's
 * `{type:"error",...}`), the error type in that provider's own vocabulary for the status (each
 * provider's `errorBody` picks it: one map for all would put Anthropic's types in OpenAI bodies), with
 * `Retry-After` (seconds, rounded up) and `retry-after-ms` when a wait is known.
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
  res.end(JSON.stringify(provider.errorBody(status, message)));
  return status;
}

/**
 * What both planes answer when a handler threw: an operational Rotor error with its own code and
 * message (e.g. Redis unreachable with fail-closed: 503), anything else a 500 and a log line.
 */
export function sendThrown(res: ServerResponse, provider: Provider, error: unknown, logger: Logger): number {
  if (isRotorError(error) && error.operational) {
    return sendRotorError(res, provider, error.code, error.message, error.retryAfterMs);
  }
  logger.error({ err: error instanceof Error ? error.message : String(error) }, 'request failed');
  return sendRotorError(res, provider, 'internal', 'internal error in Rotor');
}
