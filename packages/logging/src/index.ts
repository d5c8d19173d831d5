import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '@rotor/core';

/**
 * Every header or field that can hold a secret is redacted, whatever logs it: client tokens
 * (authorization, x-api-key), pool keys on upstream requests (authorization, x-api-key, x-goog-api-key,
 * api-key), cookies, and any `secret` / `token` field. Rotor logs key ids, never secrets, and never
 * bodies (providers echo keys in some error bodies): this is the second line of defence.
 */
const REDACT = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-goog-api-key"]',
  'req.headers["api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["x-goog-api-key"]',
  'headers["api-key"]',
  'headers.cookie',
  'secret',
  '*.secret',
  'token',
  '*.token',
];

/**
 * The logger of one Rotor process (`rotor-proxy`, `rotor-worker`): JSON lines on stdout, or on
 * `destination` (tests read what a process logs, redaction included, from there).
 */
export function createLogger(name: string, level: LogLevel = 'info', destination?: DestinationStream): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } }, destination);
}

export type { DestinationStream, Logger };
