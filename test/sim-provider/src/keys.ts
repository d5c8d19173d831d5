import type { KeyMode, KeyOptions, KeyStats, Limits, Totals } from './types';

/** A key the simulator accepts, with its effective limits and mode. */
export interface ResolvedKey {
  secret: string;
  limits: Limits;
  mode: KeyMode;
}

export const DEFAULT_LIMITS: Limits = { rpm: 60 };

const zeroStats = (): KeyStats => ({
  calls: 0,
  ok: 0,
  rateLimited: 0,
  quota: 0,
  invalid: 0,
  serverErrors: 0,
  probes: 0,
});

/** Which secrets are valid, their limits/modes, and their counters. */
export class KeyRegistry {
  private readonly keys = new Map<string, KeyOptions>();
  private readonly counters = new Map<string, KeyStats>();
  private unauthenticated = 0;

  constructor(
    keys: Record<string, KeyOptions>,
    private readonly defaults: Limits,
    private readonly acceptAnyKey: boolean,
  ) {
    for (const [secret, options] of Object.entries(keys)) this.keys.set(secret, { ...options });
  }

  /** Undefined = the key is not accepted (401 invalid_api_key). */
  resolve(secret: string): ResolvedKey | undefined {
    const listed = this.keys.get(secret);
    if (!listed && !(this.acceptAnyKey && secret.length > 0)) return undefined;
    return {
      secret,
      limits: {
        rpm: listed?.rpm ?? this.defaults.rpm,
        tpm: listed?.tpm ?? this.defaults.tpm,
      },
      mode: listed?.mode ?? 'ok',
    };
  }

  setMode(secret: string, mode: KeyMode): void {
    this.keys.set(secret, { ...this.keys.get(secret), mode });
  }

  setLimits(secret: string, limits: Limits): void {
    this.keys.set(secret, { ...this.keys.get(secret), rpm: limits.rpm, tpm: limits.tpm });
  }

  /** Mutable counters of one key (created on first use). */
  count(secret: string): KeyStats {
    let stats = this.counters.get(secret);
    if (!stats) {
      stats = zeroStats();
      this.counters.set(secret, stats);
    }
    return stats;
  }

  countUnauthenticated(): void {
    this.unauthenticated += 1;
  }

  stats(secret: string): KeyStats {
    return { ...(this.counters.get(secret) ?? zeroStats()) };
  }

  totals(): Totals {
    const sum: Totals = { ...zeroStats(), unauthenticated: this.unauthenticated };
    for (const stats of this.counters.values()) {
      for (const field of Object.keys(stats) as (keyof KeyStats)[]) sum[field] += stats[field];
    }
    return sum;
  }

  resetCounters(): void {
    this.counters.clear();
    this.unauthenticated = 0;
  }
}
