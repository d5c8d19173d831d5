import type { Limits } from './types';

/**
 * Per-key fixed windows. A window opens at a key's first counted request (or `consume`) and lasts
 * `windowMs`; the next request after it ends opens a fresh one. Fixed windows (rather than the real
 * providers' continuously refilling buckets) make "remaining 0 until T, then full" exact, which is
 * what tests of the proxy's cooldown logic need to assert on.
 */

interface Window {
  start: number;
  requests: number;
  tokens: number;
}

/** State of a key's window as reported in headers. */
export interface WindowSnapshot {
  limits: Limits;
  usedRequests: number;
  usedTokens: number;
  remainingRequests: number;
  /** Undefined when the key has no token limit. */
  remainingTokens?: number;
  /** Epoch ms when the window ends (for a key with no open window: when one opened now would end). */
  resetAt: number;
}

export type Admission =
  | { admitted: true; snapshot: WindowSnapshot }
  | {
      admitted: false;
      /** Which limit refused the request: OpenAI's error `type` is literally this word. */
      dimension: 'requests' | 'tokens';
      limit: number;
      used: number;
      requested: number;
      snapshot: WindowSnapshot;
    };

export class WindowLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(private readonly windowMs: number) {}

  /** Counts one request of `tokens` tokens if both limits allow it; a refused request costs nothing. */
  admit(secret: string, limits: Limits, tokens: number, now: number): Admission {
    const window = this.open(secret, now);
    if (window.requests + 1 > limits.rpm) {
      return {
        admitted: false,
        dimension: 'requests',
        limit: limits.rpm,
        used: window.requests,
        requested: 1,
        snapshot: this.describe(window, limits),
      };
    }
    if (limits.tpm !== undefined && window.tokens + tokens > limits.tpm) {
      return {
        admitted: false,
        dimension: 'tokens',
        limit: limits.tpm,
        used: window.tokens,
        requested: tokens,
        snapshot: this.describe(window, limits),
      };
    }
    window.requests += 1;
    window.tokens += tokens;
    return { admitted: true, snapshot: this.describe(window, limits) };
  }

  /** Read-only view for free endpoints and error answers: does not open a window. */
  snapshot(secret: string, limits: Limits, now: number): WindowSnapshot {
    const window = this.current(secret, now) ?? { start: now, requests: 0, tokens: 0 };
    return this.describe(window, limits);
  }

  consume(secret: string, requests: number, now: number): void {
    this.open(secret, now).requests += requests;
  }

  windowEndsAt(secret: string, now: number): number {
    const window = this.current(secret, now);
    return window ? window.start + this.windowMs : now;
  }

  reset(): void {
    this.windows.clear();
  }

  private current(secret: string, now: number): Window | undefined {
    const window = this.windows.get(secret);
    if (window && now >= window.start + this.windowMs) {
      this.windows.delete(secret);
      return undefined;
    }
    return window;
  }

  private open(secret: string, now: number): Window {
    let window = this.current(secret, now);
    if (!window) {
      window = { start: now, requests: 0, tokens: 0 };
      this.windows.set(secret, window);
    }
    return window;
  }

  private describe(window: Window, limits: Limits): WindowSnapshot {
    return {
      limits,
      usedRequests: window.requests,
      usedTokens: window.tokens,
      // consume() may push usage past the limit; headers never show a negative remainder.
      remainingRequests: Math.max(0, limits.rpm - window.requests),
      remainingTokens: limits.tpm === undefined ? undefined : Math.max(0, limits.tpm - window.tokens),
      resetAt: window.start + this.windowMs,
    };
  }
}
