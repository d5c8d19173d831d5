import type { HeaderMap } from '../headers';
import type { Outcome, OutcomeKind, RateLimitInfo } from '../outcome';
import type { ClassifyInput } from './provider';

/** The status-only reading every provider starts from; provider modules refine it from the error body. */
export function kindFromStatus(status: number): OutcomeKind {
  if (status < 400) return 'success'; // 3xx is returned to the client (without Location), never followed
  // 401 says "who are you?", 403 "I know you, and no": only the first is about the credential. Each
  // provider refines both from its error body (scopes, permissions, a revoked key behind a 403).
  if (status === 401) return 'invalid_key';
  if (status === 403) return 'permission_denied';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  return 'client_error';
}

export interface ErrorReading {
  /** Overrides the status-only kind when the body says more (quota vs rate, invalid key behind a 400,
   * missing scopes behind a 401). */
  kind?: OutcomeKind;
  errorCode?: string;
  /** A delay the body states (Gemini's RetryInfo), used only when no header gave one. */
  retryAfterMs?: number;
}

/** Reads who the key belongs to from an answer's headers; undefined when they say nothing. */
export type AccountReader = (headers: HeaderMap) => Outcome['account'];

/** An Outcome's `account` from the header values read: undefined (no field at all) when none was sent. */
export function accountFromHeaders(found: {
  organization?: string | undefined;
  project?: string | undefined;
}): Outcome['account'] {
  const account: NonNullable<Outcome['account']> = {};
  if (found.organization !== undefined) account.organization = found.organization;
  if (found.project !== undefined) account.project = found.project;
  return Object.keys(account).length > 0 ? account : undefined;
}

/**
 * The shared shape of every provider's `classify`: no response → the failure kind; otherwise read the
 * headers (even on success, so budgets and the key's account are learned before a 429) and let the
 * provider read the body.
 */
export function classifyAttempt(
  input: ClassifyInput,
  parseRateLimit: (headers: HeaderMap, nowMs: number) => RateLimitInfo,
  readError: (status: number, body: string | undefined) => ErrorReading,
  readAccount?: AccountReader,
): Outcome {
  if (input.failure !== undefined || input.status === undefined) {
    // No status and no failure cannot come from a real attempt; "nothing arrived" is the honest reading.
    return { kind: input.failure ?? 'connection_error', rateLimit: {} };
  }
  const status = input.status;
  const headers = input.headers ?? {};
  const rateLimit = parseRateLimit(headers, input.nowMs);
  const outcome: Outcome = { kind: kindFromStatus(status), status, rateLimit };
  const account = readAccount?.(headers);
  if (account) outcome.account = account;
  if (status < 400) return outcome;
  const reading = readError(status, input.body);
  if (reading.kind) outcome.kind = reading.kind;
  if (reading.errorCode) outcome.errorCode = reading.errorCode;
  if (rateLimit.retryAfterMs === undefined && reading.retryAfterMs !== undefined) {
    rateLimit.retryAfterMs = reading.retryAfterMs;
  }
  return outcome;
}
