/**
 * The two time formats real providers put in rate-limit headers. The proxy parses exactly these, so
 * they must match the real output, not merely be "a duration".
 */

/**
 * OpenAI's `x-ratelimit-reset-*` duration (Go `time.Duration` style at millisecond precision):
 * `0s`, `20ms`, `1s`, `1.5s`, `59.999s`, `6m0s`, `1m30.5s`, `1h2m3s`. Rounded UP to the next ms so a
 * client waiting that long never arrives early.
 */
export function formatOpenAiDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const secondsMs = total % 60_000;
  // Integer arithmetic, then trim trailing zeros: "1.500" -> "1.5", "2.000" -> "2".
  const whole = Math.floor(secondsMs / 1000);
  const frac = String(secondsMs % 1000).padStart(3, '0').replace(/0+$/, '');
  const seconds = frac ? `${whole}.${frac}s` : `${whole}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

/** Anthropic's `anthropic-ratelimit-*-reset`: RFC 3339 in UTC, with milliseconds (`2025-01-15T14:24:00.123Z`). */
export function formatRfc3339(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/** `retry-after` is whole seconds; rounded up so that honouring it never lands inside the closed window. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
