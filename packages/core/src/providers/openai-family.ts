import { parseResetDelay } from '../durations';
import { headerValue, type HeaderMap } from '../headers';
import type { Outcome, RateLimitInfo } from '../outcome';
import { accountFromHeaders, classifyAttempt, type ErrorReading } from './classify';
import { parseJson, safeErrorCode, stringField } from './error-json';
import type { ClassifyInput } from './provider';
import { definedOnly, headerCount, retryAfterFromHeaders } from './rate-limit-headers';

/**
 * What OpenAI and Azure OpenAI (and every OpenAI-compatible host) share: `x-ratelimit-*` headers and the
 * `{"error":{"message","type","param","code"}}` error shape.
 */

/** `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, e.g. `x-ratelimit-reset-tokens: 6m0s`. */
export function parseOpenAiRateLimit(headers: HeaderMap, nowMs: number): RateLimitInfo {
  return definedOnly({
    retryAfterMs: retryAfterFromHeaders(headers, nowMs),
    limitRequests: headerCount(headers, 'x-ratelimit-limit-requests'),
    remainingRequests: headerCount(headers, 'x-ratelimit-remaining-requests'),
    resetRequestsMs: parseResetDelay(headerValue(headers, 'x-ratelimit-reset-requests'), nowMs),
    limitTokens: headerCount(headers, 'x-ratelimit-limit-tokens'),
    remainingTokens: headerCount(headers, 'x-ratelimit-remaining-tokens'),
    resetTokensMs: parseResetDelay(headerValue(headers, 'x-ratelimit-reset-tokens'), nowMs),
  });
}

/** Codes that mean "no credit left": only a top-up (or the next billing period) brings the key back. */
const QUOTA_CODES = new Set(['insufficient_quota', 'billing_hard_limit_reached', 'billing_not_active']);
// Searched in the raw text too: a body cut at the read limit is not valid JSON but still says it.
const QUOTA_IN_TEXT =
  /"(?:code|type)"\s*:\s*"(insufficient_quota|billing_hard_limit_reached|billing_not_active)"/;

/**
 * A 401/403 that is about what the key may do, not about the key: OpenAI answers a restricted key or
 * a project without access with 401 "You have insufficient permissions for this operation. Missing
 * scopes: ..." (`missing_scope`), a model the project may not use with 403/404, an unsupported region
 * with 403 `unsupported_country_region_territory`.
 */
const PERMISSION_CODES = new Set(['missing_scope', 'unsupported_country_region_territory', 'model_not_found']);
const PERMISSION_TEXT =
  /insufficient permissions|missing scopes?|does not have access|do not have access|not have permission|not allowed to|region/i;
/** What OpenAI and compatible hosts (Groq, Mistral, DeepSeek, Azure) say of a wrong or revoked key. */
const CREDENTIAL_CODES = new Set(['invalid_api_key', 'account_deactivated', 'invalid_authentication']);
const CREDENTIAL_TEXT =
  /^(?:incorrect api key|invalid api key|invalid authentication|the api key (?:you provided )?(?:is invalid|has been)|your api key has been|access denied due to invalid subscription key|authentication fails)/i;

/** 401 → bad credential unless the body speaks of permissions; 403 → permission unless it speaks of the key. */
function credentialKind(status: number, code: string | undefined, message: string): 'invalid_key' | 'permission_denied' {
  if (code && CREDENTIAL_CODES.has(code)) return 'invalid_key';
  if (code && PERMISSION_CODES.has(code)) return 'permission_denied';
  if (CREDENTIAL_TEXT.test(message)) return 'invalid_key';
  if (PERMISSION_TEXT.test(message)) return 'permission_denied';
  return status === 401 ? 'invalid_key' : 'permission_denied';
}

/**
 * 429 "Request too large for gpt-4o in organization org-… on tokens per min (TPM): Limit 30000,
 * Requested 50001": this request can never fit the key's limit. The request is at fault, not the key:
 * the client gets the answer and no key cools.
 */
const REQUEST_TOO_LARGE = /^request too large\b/i;

export function readOpenAiError(status: number, body: string | undefined): ErrorReading {
  const json = parseJson(body);
  const code = stringField(json, 'error', 'code');
  const type = stringField(json, 'error', 'type');
  const quotaCode =
    [code, type].find((c) => c !== undefined && QUOTA_CODES.has(c)) ?? QUOTA_IN_TEXT.exec(body ?? '')?.[1];
  const errorCode = safeErrorCode(quotaCode, code, type);
  const reading: ErrorReading = errorCode ? { errorCode } : {};
  // 402 Payment Required: what compatible hosts (DeepSeek "Insufficient Balance", ...) send for no credit.
  if ((status === 429 && quotaCode) || status === 402) reading.kind = 'quota_exhausted';
  const errorMessage = stringField(json, 'error', 'message')?.trim() ?? '';
  if (status === 429 && !quotaCode && REQUEST_TOO_LARGE.test(errorMessage)) {
    reading.kind = 'client_error';
    reading.errorCode = 'request_too_large';
  }
  if (status === 401 || status === 403) {
    // `{"error":{"message":...}}`, or a bare `{"error":"..."}` / `{"message":...}` from compatible hosts.
    const message = stringField(json, 'error', 'message') ?? stringField(json, 'error') ?? stringField(json, 'message') ?? '';
    reading.kind = credentialKind(status, code, message.trim());
  }
  return reading;
}

/** `openai-organization` (and `openai-project` for a project key), which OpenAI sends on every answer. */
export function readOpenAiAccount(headers: HeaderMap): Outcome['account'] {
  return accountFromHeaders({
    organization: headerValue(headers, 'openai-organization'),
    project: headerValue(headers, 'openai-project'),
  });
}

/** OpenAI and compatible hosts: budgets, error and the account the answer names. */
export function classifyOpenAi(input: ClassifyInput): Outcome {
  return classifyAttempt(input, parseOpenAiRateLimit, readOpenAiError, readOpenAiAccount);
}

const OPENAI_ERROR_DEFAULTS: Record<number, { type: string; code: string | null }> = {
  400: { type: 'invalid_request_error', code: null },
  401: { type: 'invalid_request_error', code: 'invalid_api_key' },
  403: { type: 'invalid_request_error', code: 'forbidden' },
  404: { type: 'invalid_request_error', code: 'not_found' },
  413: { type: 'invalid_request_error', code: 'request_too_large' },
  429: { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' },
  502: { type: 'server_error', code: 'bad_gateway' },
  503: { type: 'server_error', code: 'service_unavailable' },
  504: { type: 'server_error', code: 'timeout' },
};

export function openAiErrorBody(status: number, message: string, type?: string) {
  const defaults = OPENAI_ERROR_DEFAULTS[status] ?? {
    type: status >= 500 ? 'server_error' : 'invalid_request_error',
    code: null,
  };
  return { error: { message, type: type ?? defaults.type, param: null, code: defaults.code } };
}
