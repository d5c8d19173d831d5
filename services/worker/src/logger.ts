import pino, { type Logger } from 'pino';
import type { LogLevel } from '@rotor/core';

/**
 * The worker logs key ids, never secrets; the redaction is a second line of defence for any header map
 * or object that carries one by mistake.
 */
const REDACT = [
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["x-goog-api-key"]',
  'headers["api-key"]',
  'secret',
  '*.secret',
];

export function createLogger(level: LogLevel = 'info', name = 'rotor-worker'): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' } });
}

export type { Logger };
