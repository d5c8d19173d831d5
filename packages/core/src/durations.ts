/**
 * Time maths for rate-limit headers. Every function returns whole milliseconds FROM NOW (never an
 * absolute time), because the store anchors them to the Redis clock, not to this replica's clock.
 * Anything unreadable gives `undefined` (never NaN); a time in the past gives 0.
 */

const GO_DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;
const GO_UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 micro sign
  μs: 1e-3, // U+03BC greek mu: Go accepts both
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

function clampMs(ms: number): number | undefined {
  if (!Number.isFinite(ms)) return undefined;
  return ms <= 0 ? 0 : Math.round(ms);
}

/** Go `time.Duration` text as OpenAI sends it in `x-ratelimit-reset-*`: `6m0s`, `1.5s`, `20ms`, `1h2m3.5s`. */
export function parseGoDuration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  let rest = text.trim();
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0; // Go's only unit-less duration
  if (rest === '') return undefined;
  let total = 0;
  let consumed = 0;
  for (const match of rest.matchAll(GO_DURATION_PART)) {
    if (match.index !== consumed) return undefined; // garbage between the parts
    const [part, amount, unit] = match;
    total += Number(amount) * (GO_UNIT_MS[unit ?? ''] ?? Number.NaN);
    consumed += part.length;
  }
  if (consumed !== rest.length) return undefined;
  return clampMs(sign * total);
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** A plain decimal number (no exponent, no hex, no empty string: `Number('')` would say 0). */
export function parseDecimal(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  return DECIMAL.test(trimmed) ? Number(trimmed) : undefined;
}

/** `retry-after-ms: 1500` (OpenAI, Azure OpenAI). */
export function parseRetryAfterMs(text: string | undefined): number | undefined {
  const ms = parseDecimal(text);
  return ms === undefined ? undefined : clampMs(ms);
}

/** `Retry-After` (RFC 9110): delay in seconds (`2`, and the non-standard `0.5`) or an HTTP date. */
export function parseRetryAfter(text: string | undefined, nowMs: number): number | undefined {
  const seconds = parseDecimal(text);
  if (seconds !== undefined) return clampMs(seconds * 1000);
  return parseHttpDateDelay(text, nowMs);
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
// IMF-fixdate `Sun, 06 Nov 1994 08:49:37 GMT` and obsolete RFC 850 `Sunday, 06-Nov-94 08:49:37 GMT`.
const IMF_OR_RFC850 = /^[A-Za-z]+, (\d{1,2})[ -]([A-Za-z]{3})[ -](\d{2}|\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// asctime `Sun Nov  6 08:49:37 1994` (always GMT by definition).
const ASCTIME = /^[A-Za-z]{3} ([A-Za-z]{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * HTTP date to ms from now. Parsed by hand: `Date.parse` accepts far too much (`Date.parse('1')` is the
 * year 2001) and reads asctime in the local time zone.
 */
export function parseHttpDateDelay(text: string | undefined, nowMs: number): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  const imf = IMF_OR_RFC850.exec(trimmed);
  if (imf) {
    const [, day, month, year, hour, minute, second] = imf;
    return utcDelay(nowMs, twoDigitYear(year), month, day, hour, minute, second);
  }
  const asc = ASCTIME.exec(trimmed);
  if (asc) {
    const [, month, day, hour, minute, second, year] = asc;
    return utcDelay(nowMs, Number(year), month, day, hour, minute, second);
  }
  return undefined;
}

function twoDigitYear(year: string | undefined): number {
  const y = Number(year);
  return year?.length === 2 ? (y < 70 ? 2000 + y : 1900 + y) : y;
}

function utcDelay(
  nowMs: number,
  year: number,
  monthName: string | undefined,
  ...clock: (string | undefined)[]
): number | undefined {
  const month = MONTHS.indexOf((monthName ?? '').toLowerCase());
  if (month < 0) return undefined;
  const [day, hour, minute, second] = clock.map(Number) as [number, number, number, number];
  const at = validUtc(year, month, day, hour, minute, second, 0);
  return at === undefined ? undefined : clampMs(at - nowMs);
}

/** Date.UTC silently rolls `Feb 31` over to March: refuse instead of guessing. */
function validUtc(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number) {
  if (h > 23 || mi > 59 || s > 60) return undefined;
  const at = Date.UTC(y, mo, d, h, mi, Math.min(s, 59), ms); // a leap second reads as :59
  const date = new Date(at);
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo || date.getUTCDate() !== d) return undefined;
  return at;
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** RFC 3339 instant (Anthropic's `anthropic-ratelimit-*-reset: 2026-11-26T09:00:30Z`) to ms from now. */
export function parseRfc3339Delay(text: string | undefined, nowMs: number): number | undefined {
  if (text === undefined) return undefined;
  const m = RFC3339.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', , offSign, offH, offM] = m;
  const ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
  const at = validUtc(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (at === undefined) return undefined;
  const offsetMin = offSign ? (offSign === '-' ? -1 : 1) * (Number(offH) * 60 + Number(offM)) : 0;
  if (Math.abs(offsetMin) >= 24 * 60) return undefined;
  return clampMs(at - offsetMin * 60_000 - nowMs);
}

/**
 * A reset value from an OpenAI-compatible host: Go duration (OpenAI, Groq), else a bare number, read as
 * seconds, or as a Unix time when it is too large to be a delay (some compatible hosts send epoch s/ms).
 */
export function parseResetDelay(text: string | undefined, nowMs: number): number | undefined {
  const duration = parseGoDuration(text);
  if (duration !== undefined) return duration;
  const n = parseDecimal(text);
  if (n === undefined) return undefined;
  if (n >= 1e12) return clampMs(n - nowMs); // epoch milliseconds
  if (n >= 1e9) return clampMs(n * 1000 - nowMs); // epoch seconds
  return clampMs(n * 1000);
}
