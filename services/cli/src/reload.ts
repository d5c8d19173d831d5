import type { RotorConfig } from '@rotor/core';

/**
 * One config reload: read and validate the file again, then apply it. An invalid config, or an apply
 * that fails (Redis unreachable while syncing pools or the sweep), is logged and the config in force
 * stays: a reload never becomes an unhandled rejection that kills the process. Resolves true if applied.
 */
export async function reloadConfig(
  read: () => RotorConfig,
  apply: (next: RotorConfig) => Promise<void>,
  /** `headline` says what happened, `reason` why (the config error, the Redis error). */
  log: (headline: string, reason: string) => void,
): Promise<boolean> {
  let next: RotorConfig;
  try {
    next = read();
  } catch (error) {
    log('reload refused, keeping the old config: the new one is invalid', messageOf(error));
    return false;
  }
  try {
    await apply(next);
    return true;
  } catch (error) {
    log('reload failed, keeping the old config', messageOf(error));
    return false;
  }
}

/** `reloadConfig` on every SIGHUP. */
export function reloadOnSighup(...args: Parameters<typeof reloadConfig>): void {
  process.on('SIGHUP', () => void reloadConfig(...args));
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
