import { createLogger as createRotorLogger, type DestinationStream, type Logger } from '@rotor/logging';
import type { LogLevel } from '@rotor/core';

/** `destination`: where the JSON lines go instead of stdout (tests capture them). */
export function createLogger(level: LogLevel = 'info', name = 'rotor-proxy', destination?: DestinationStream): Logger {
  return createRotorLogger(name, level, destination);
}

export type { Logger };
