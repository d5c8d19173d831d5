import { parseDecimal, parseRetryAfter, parseRetryAfterMs } from '../durations';
import { headerValue, type HeaderMap } from '../headers';

/** A non-negative count header (`x-ratelimit-remaining-requests: 59`); anything else is absent. */
export function headerCount(headers: HeaderMap, name: string): number | undefined {
  const n = parseDecimal(headerValue(headers, name));
  return n === undefined || n < 0 ? undefined : n;
}

/** `retry-after-ms` wins (finer grained), then `Retry-After` (seconds or HTTP date). */
export function retryAfterFromHeaders(headers: HeaderMap, nowMs: number): number | undefined {
  return (
    parseRetryAfterMs(headerValue(headers, 'retry-after-ms')) ??
    parseRetryAfter(headerValue(headers, 'retry-after'), nowMs)
  );
}

/** Copy only the defined fields, so an Outcome never carries `key: undefined` (kept out of Redis/JSON). */
export function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
