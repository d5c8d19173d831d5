import type { KeySnapshot, PoolSnapshot } from '@rotor/redis-store';

export const STATUS_COLUMNS = [
  'KEY ID',
  'LABEL',
  'STATE',
  'UNTIL',
  'REASON',
  'IN-FLIGHT',
  'OK',
  'FAILED',
  '429',
] as const;

/** `2025-01-02T03:04:05Z (in 42s)`: when a cooling key returns, on the Redis clock. */
export function formatUntil(untilMs: number | undefined, nowMs: number): string {
  if (untilMs === undefined) return '-';
  const at = new Date(untilMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const left = Math.max(0, Math.ceil((untilMs - nowMs) / 1000));
  return `${at} (in ${formatSeconds(left)})`;
}

function formatSeconds(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * The state an operator should read: a cooldown that has ended is `active` (the next acquire puts the
 * key back; Redis still says `cooling` until then), not "cooling … (in 0s)".
 */
export function shownState(key: KeySnapshot, nowMs: number): KeySnapshot['state'] {
  return key.state === 'cooling' && key.until !== undefined && key.until <= nowMs ? 'active' : key.state;
}

export function statusRow(key: KeySnapshot, nowMs: number): string[] {
  const state = shownState(key, nowMs);
  return [
    key.id,
    key.label ?? '-',
    state,
    state === 'cooling' ? formatUntil(key.until, nowMs) : '-',
    state === key.state ? key.reason || '-' : '-',
    String(key.inflight),
    String(key.successes),
    String(key.failures),
    String(key.rateLimited),
  ];
}

export function poolHeadline(snapshot: PoolSnapshot, provider?: string): string {
  const counts = { active: 0, cooling: 0, suspended: 0, disabled: 0 };
  for (const key of snapshot.keys) counts[shownState(key, snapshot.now)] += 1;
  const parts = Object.entries(counts).map(([state, n]) => `${n} ${state}`);
  const kind = provider ? `${provider}, ` : '';
  return `pool ${snapshot.pool} (${kind}${snapshot.keys.length} key${snapshot.keys.length === 1 ? '' : 's'}): ${parts.join(', ')}`;
}
