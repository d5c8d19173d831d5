/**
 * What one upstream attempt ended as, from the rotator's point of view. The store's `report` script
 * switches on `kind`; the proxy decides retries from it. Keep the strings stable: they are written to
 * Redis (`last_class`) and used as metric label values.
 */
export const OUTCOME_KINDS = [
  'success', // 2xx (and 3xx: returned to the client without its Location, never followed)
  'rate_limited', // 429 that will clear by itself (RPM/TPM window)
  'quota_exhausted', // 429/402/400 that says the account has no credit left (`insufficient_quota`)
  'invalid_key', // 401 (or a 403 / Gemini 400 that says so): the credential itself is wrong or revoked
  'permission_denied', // 403 (or a 401 that says so): a valid key may not do this; the key is fine
  'server_error', // 5xx (529 overloaded included)
  'timeout', // no response headers (or body progress) within the configured time
  'connection_error', // refused / reset / DNS: nothing reached the provider
  'client_error', // other 4xx: the request is wrong, the key is fine
] as const;
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

/**
 * Rate-limit facts read from one response's headers. Every time is RELATIVE to the moment the response
 * was read (ms from "now"), so the store can anchor it to the Redis clock; a report made later than the
 * read ages them first (agedOutcome). Absent = the header said nothing.
 */
export interface RateLimitInfo {
  /** How long to stay away, from retry-after-ms / Retry-After (seconds or HTTP date). */
  retryAfterMs?: number;
  limitRequests?: number;
  remainingRequests?: number;
  /** Time until the request budget is full again. */
  resetRequestsMs?: number;
  limitTokens?: number;
  remainingTokens?: number;
  resetTokensMs?: number;
}

export interface Outcome {
  kind: OutcomeKind;
  /** HTTP status, when a response arrived. */
  status?: number;
  rateLimit: RateLimitInfo;
  /** Provider error type/code when one was read from the body (e.g. `insufficient_quota`). Never key material. */
  errorCode?: string;
  /**
   * Who the key belongs to, as the answer's headers say (`openai-organization` / `openai-project`,
   * `anthropic-organization-id`); absent when they say nothing. Keys of one account share its limits.
   */
  account?: { organization?: string; project?: string };
}

/**
 * The outcome as it stands `elapsedMs` after its response was read: every relative time of its
 * rate-limit facts shortened by that, never below 0 (a reset at 0 speaks of a window that is over).
 * For a report made after the read (a streamed answer is reported when its body ends), so that the
 * store anchors the times to the moment they were true, not to the end of the stream.
 */
export function agedOutcome(outcome: Outcome, elapsedMs: number): Outcome {
  if (elapsedMs <= 0) return outcome;
  const rateLimit: RateLimitInfo = { ...outcome.rateLimit };
  for (const field of ['retryAfterMs', 'resetRequestsMs', 'resetTokensMs'] as const) {
    const ms = rateLimit[field];
    // Whole ms (the store writes them to Redis), rounded up: never earlier than the provider said.
    if (ms !== undefined) rateLimit[field] = Math.max(0, Math.ceil(ms - elapsedMs));
  }
  return { ...outcome, rateLimit };
}
