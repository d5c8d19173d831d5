import { parseRfc3339Delay } from '../durations';
import { headerValue, type HeaderMap } from '../headers';
import type { Outcome, RateLimitInfo } from '../outcome';
import { accountFromHeaders, classifyAttempt, type ErrorReading } from './classify';
import { parseJson, safeErrorCode, stringField } from './error-json';
import type { Provider } from './provider';
import { definedOnly, headerCount, retryAfterFromHeaders } from './rate-limit-headers';

interface Budget {
  limit?: number;
  remaining?: number;
  resetMs?: number;
}

function readBudget(headers: HeaderMap, name: string, nowMs: number): Budget {
  const prefix = `anthropic-ratelimit-${name}`;
  return definedOnly({
    limit: headerCount(headers, `${prefix}-limit`),
    remaining: headerCount(headers, `${prefix}-remaining`),
    resetMs: parseRfc3339Delay(headerValue(headers, `${prefix}-reset`), nowMs),
  });
}

/**
 * Anthropic limits total, input and output tokens separately; the store keeps one token budget, so keep
 * the one that runs out first: fewest remaining, and on a tie the one that takes longer to refill.
 */
function mostConstraining(budgets: Budget[]): Budget {
  const known = budgets.filter((b) => b.remaining !== undefined);
  if (known.length === 0) return budgets.find((b) => Object.keys(b).length > 0) ?? {};
  const tighter = (a: Budget, b: Budget): Budget => {
    const ra = a.remaining ?? Infinity;
    const rb = b.remaining ?? Infinity;
    if (ra !== rb) return rb < ra ? b : a;
    return (b.resetMs ?? 0) > (a.resetMs ?? 0) ? b : a;
  };
  return known.reduce(tighter);
}

export function parseAnthropicRateLimit(headers: HeaderMap, nowMs: number): RateLimitInfo {
  const requests = readBudget(headers, 'requests', nowMs);
  const tokens = mostConstraining(
    ['tokens', 'input-tokens', 'output-tokens'].map((name) => readBudget(headers, name, nowMs)),
  );
  return definedOnly({
    retryAfterMs: retryAfterFromHeaders(headers, nowMs),
    limitRequests: requests.limit,
    remainingRequests: requests.remaining,
    resetRequestsMs: requests.resetMs,
    limitTokens: tokens.limit,
    remainingTokens: tokens.remaining,
    resetTokensMs: tokens.resetMs,
  });
}

/** `anthropic-organization-id` (a UUID), which Anthropic sends on every answer. */
export function readAnthropicAccount(headers: HeaderMap): Outcome['account'] {
  return accountFromHeaders({ organization: headerValue(headers, 'anthropic-organization-id') });
}

// 400 "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing ..."
// Anchored: a 400 may quote the client's own input, which must not be able to suspend a key.
const NO_CREDIT = /^your credit balance is too low/i;
// 429 "You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC."
const SPEND_LIMIT = /reached your specified (?:API|workspace API) usage limits/i;

function readAnthropicError(status: number, body: string | undefined): ErrorReading {
  const json = parseJson(body);
  const type = stringField(json, 'error', 'type');
  // The raw text stands in for the message when the body was cut at the read limit.
  const message = stringField(json, 'error', 'message') ?? body ?? '';
  if (status === 400 && NO_CREDIT.test(message)) {
    return { kind: 'quota_exhausted', errorCode: 'credit_balance_too_low' };
  }
  const errorCode = safeErrorCode(type);
  const reading: ErrorReading = errorCode ? { errorCode } : {};
  if (status === 429 && SPEND_LIMIT.test(message)) reading.kind = 'quota_exhausted';
  // The error type says it: `authentication_error` is the key, `permission_error` is what it may do.
  if (type === 'authentication_error') reading.kind = 'invalid_key';
  else if (type === 'permission_error' || (status === 403 && type !== undefined)) reading.kind = 'permission_denied';
  return reading;
}

const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  503: 'overloaded_error',
  504: 'timeout_error',
};

export const anthropic: Provider = {
  kind: 'anthropic',
  // No `/v1`: Anthropic SDKs put it in the path (`/v1/messages`), so the route forwards it.
  defaultBaseUrl: 'https://api.anthropic.com',
  // `anthropic-version` is the client's to send (it picks the API behaviour); only the probe adds one.
  credentialHeaders: (secret) => ({ 'x-api-key': secret }),
  parseRateLimit: parseAnthropicRateLimit,
  classify: (input) =>
    classifyAttempt(input, parseAnthropicRateLimit, readAnthropicError, readAnthropicAccount),
  errorBody: (status, message, type) => ({
    type: 'error',
    error: {
      type: type ?? ANTHROPIC_ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error'),
      message,
    },
  }),
  probe: {
    listPath: '/v1/models',
    minimalRequest: (model) => ({
      method: 'POST',
      path: '/v1/messages',
      body: { model, max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] },
    }),
    defaultModel: 'claude-haiku-4-5',
    extraHeaders: { 'anthropic-version': '2023-06-01' },
  },
};
