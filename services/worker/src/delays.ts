import type { WorkerConfig } from '@rotor/core';

export type ProbeTiming = WorkerConfig['probe'];

/** First probe delay for a key that just left rotation, by the store's reason. */
export function firstProbeDelay(reason: string, probe: ProbeTiming): number {
  if (reason === 'quota') return probe.quotaAfterMs;
  if (reason === 'invalid_key') return probe.invalidAfterMs;
  if (reason === 'suspect_invalid') return probe.suspectAfterMs;
  return probe.suspendedAfterMs;
}

/**
 * Delay before probe number `attempt` (0 = first): doubles with every probe that kept the key out,
 * capped at maxBackoffMs, but never below the first delay (invalid keys start at a day, above the cap).
 */
export function probeDelay(reason: string, attempt: number, probe: ProbeTiming): number {
  const first = firstProbeDelay(reason, probe);
  const cap = Math.max(first, probe.maxBackoffMs);
  if (first > 0) return Math.min(first * 2 ** Math.min(attempt, 40), cap);
  // A suspect is re-checked at once; if that could not settle it (provider down), it backs off
  // like any suspended key.
  if (attempt === 0) return 0;
  return Math.min(probe.suspendedAfterMs * 2 ** Math.min(attempt - 1, 40), cap);
}

/** A key the worker probes: out of rotation by an upstream answer, never by an operator. */
export function isProbed(state: string, reason: string | undefined): boolean {
  if (state === 'suspended') return true;
  return state === 'disabled' && reason !== 'operator';
}
