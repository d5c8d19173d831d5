import { createLogger as createRotorLogger, type Logger } from '@rotor/logging';
import type { LogLevel } from '@rotor/core';

export function createLogger(level: LogLevel = 'info', name = 'rotor-worker'): Logger {
  return createRotorLogger(name, level);
}

export type { Logger };
