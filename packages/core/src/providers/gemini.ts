import { parseGoDuration } from '../durations';
import type { HeaderMap } from '../headers';
import type { RateLimitInfo } from '../outcome';
import { classifyAttempt, type ErrorReading } from './classify';
import { field, parseJson, safeErrorCode, stringField } from './error-json';
import type { Provider } from './provider';
import { definedOnly, retryAfterFromHeaders } from './rate-limit-headers';

/**
 * Gemini API (generativelanguage.googleapis.com). It sends no rate-limit headers: what it knows is in the
 * error body, as google.rpc details (ErrorInfo.reason, QuotaFailure.violations[].quotaId, RetryInfo).
 */
export function parseGeminiRateLimit(headers: HeaderMap, nowMs: number): RateLimitInfo {
  return definedOnly({ retryAfterMs: retryAfterFromHeaders(headers, nowMs) });
}

interface GeminiDetails {
  reason?: string;
  quotaIds: string[];
  retryDelay?: string;
}

function readDetails(json: unknown, body: string): GeminiDetails {
  const details = field(json, 'error', 'details');
  const found: GeminiDetails = { quotaIds: [] };
  if (Array.isArray(details)) {
    for (const detail of details) {
      found.reason ??= stringField(detail, 'reason');
      found.retryDelay ??= stringField(detail, 'retryDelay');
      const violations = field(detail, 'violations');
      if (Array.isArray(violations)) {
        for (const v of violations) {
          const id = stringField(v, 'quotaId');
          if (id) found.quotaIds.push(id);
        }
      }
    }
    return found;
  }
  // A body cut at the read limit is not JSON; the same facts can still be picked out of the text.
  found.reason = /"reason"\s*:\s*"([A-Z_]+)"/.exec(body)?.[1];
  found.retryDelay = /"retryDelay"\s*:\s*"([^"]+)"/.exec(body)?.[1];
  found.quotaIds = [...body.matchAll(/"quotaId"\s*:\s*"([^"]+)"/g)].map((m) => m[1] ?? '');
  return found;
}

// 400 INVALID_ARGUMENT "API key not valid. Please pass a valid API key." / "API key expired. Please renew ..."
// Anchored: a 400 may quote the client's own input, which must not be able to take a key out.
const INVALID_KEY_TEXT = /^API key (?:not valid|expired)/i;
// 403 "Permission denied: Consumer 'api_key:...' has been suspended." is the key, not the request.
const INVALID_KEY_REASONS = new Set(['API_KEY_INVALID', 'API_KEY_EXPIRED', 'CONSUMER_SUSPENDED']);
// Paid tier with prepaid billing: "Your prepayment credits are depleted."
const NO_CREDIT_TEXT = /credits are depleted|prepayment credits/i;

function readGeminiError(status: number, body: string | undefined): ErrorReading {
  const json = parseJson(body);
  const message = stringField(json, 'error', 'message') ?? body ?? '';
  const details = readDetails(json, body ?? '');
  const reading: ErrorReading = {};
  const errorCode = safeErrorCode(details.reason, stringField(json, 'error', 'status'));
  if (errorCode) reading.errorCode = errorCode;
  const retryAfterMs = parseGoDuration(details.retryDelay);
  if (retryAfterMs !== undefined) reading.retryAfterMs = retryAfterMs;

  // Gemini answers a bad key with 400, not 401.
  if ((details.reason && INVALID_KEY_REASONS.has(details.reason)) || INVALID_KEY_TEXT.test(message.trim())) {
    reading.kind = 'invalid_key';
  } else if (status === 429) {
    // The message is the same ("You exceeded your current quota") for per-minute and per-day limits;
    // the quota id tells them apart. A daily quota will not clear within a cooldown: suspend the key.
    const daily = details.quotaIds.some((id) => /PerDay/i.test(id));
    reading.kind = daily || NO_CREDIT_TEXT.test(message) ? 'quota_exhausted' : 'rate_limited';
  }
  return reading;
}

const GRPC_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export const gemini: Provider = {
  kind: 'gemini',
  // No `/v1beta`: Google's SDKs put the API version in the path, so the route forwards it.
  defaultBaseUrl: 'https://generativelanguage.googleapis.com',
  credentialHeaders: (secret) => ({ 'x-goog-api-key': secret }),
  parseRateLimit: parseGeminiRateLimit,
  classify: (input) => classifyAttempt(input, parseGeminiRateLimit, readGeminiError),
  errorBody: (status, message, type) => ({
    error: {
      code: status,
      message,
      status: type ?? GRPC_STATUS[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION'),
    },
  }),
  probe: {
    listPath: '/v1beta/models',
    minimalRequest: (model) => ({
      method: 'POST',
      path: `/v1beta/models/${encodeURIComponent(model)}:generateContent`,
      body: {
        contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
        generationConfig: { maxOutputTokens: 1 },
      },
    }),
    defaultModel: 'gemini-2.5-flash-lite',
  },
};
