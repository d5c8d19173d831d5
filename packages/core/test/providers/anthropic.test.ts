import { providers } from '../../src/providers';
import type { Outcome } from '../../src/outcome';

const NOW = Date.UTC(2026, 10, 26, 9, 0, 0); // 2026-11-26T09:00:00Z
const anthropic = providers.anthropic;

// Real header sample shape from api.anthropic.com (reset is an RFC 3339 instant).
const HEADERS = {
  'anthropic-ratelimit-requests-limit': '50',
  'anthropic-ratelimit-requests-remaining': '49',
  'anthropic-ratelimit-requests-reset': '2026-11-26T09:00:01Z',
  'anthropic-ratelimit-tokens-limit': '90000',
  'anthropic-ratelimit-tokens-remaining': '90000',
  'anthropic-ratelimit-tokens-reset': '2026-11-26T09:00:00Z',
  'anthropic-ratelimit-input-tokens-limit': '50000',
  'anthropic-ratelimit-input-tokens-remaining': '50000',
  'anthropic-ratelimit-input-tokens-reset': '2026-11-26T09:00:00Z',
  'anthropic-ratelimit-output-tokens-limit': '10000',
  'anthropic-ratelimit-output-tokens-remaining': '9000',
  'anthropic-ratelimit-output-tokens-reset': '2026-11-26T09:00:06.500Z',
  'request-id': 'req_011CQ',
};
const error = (type: string, message: string) => JSON.stringify({ type: 'error', error: { type, message } });

describe('anthropic.classify', () => {
  const cases: [string, Parameters<typeof anthropic.classify>[0], Outcome][] = [
    [
      '200 learns budgets; tokens = the most constraining of tokens/input/output',
      { status: 200, headers: HEADERS, nowMs: NOW },
      {
        kind: 'success',
        status: 200,
        rateLimit: {
          limitRequests: 50,
          remainingRequests: 49,
          resetRequestsMs: 1000,
          limitTokens: 10000,
          remainingTokens: 9000,
          resetTokensMs: 6500,
        },
      },
    ],
    [
      '429 rate_limit_error with retry-after',
      {
        status: 429,
        headers: {
          'retry-after': '14',
          'anthropic-ratelimit-requests-remaining': '0',
          'anthropic-ratelimit-requests-reset': '2026-11-26T09:00:14+00:00',
        },
        body: error(
          'rate_limit_error',
          'This request would exceed the rate limit for your organization of 50 requests per minute.',
        ),
        nowMs: NOW,
      },
      {
        kind: 'rate_limited',
        status: 429,
        errorCode: 'rate_limit_error',
        rateLimit: { retryAfterMs: 14_000, remainingRequests: 0, resetRequestsMs: 14_000 },
      },
    ],
    [
      '429 spend limit reached',
      {
        status: 429,
        body: error(
          'rate_limit_error',
          'You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC.',
        ),
        nowMs: NOW,
      },
      { kind: 'quota_exhausted', status: 429, errorCode: 'rate_limit_error', rateLimit: {} },
    ],
    [
      '400 credit balance too low',
      {
        status: 400,
        body: error(
          'invalid_request_error',
          'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
        ),
        nowMs: NOW,
      },
      { kind: 'quota_exhausted', status: 400, errorCode: 'credit_balance_too_low', rateLimit: {} },
    ],
    [
      '400 other invalid request',
      { status: 400, body: error('invalid_request_error', 'max_tokens: Field required'), nowMs: NOW },
      { kind: 'client_error', status: 400, errorCode: 'invalid_request_error', rateLimit: {} },
    ],
    [
      '401 invalid x-api-key',
      { status: 401, body: error('authentication_error', 'invalid x-api-key'), nowMs: NOW },
      { kind: 'invalid_key', status: 401, errorCode: 'authentication_error', rateLimit: {} },
    ],
    [
      '400 that quotes the client\'s words about credit is the client\'s error, not a quota',
      {
        status: 400,
        body: error('invalid_request_error', 'messages.0.content: "your credit balance is too low" is not a valid block'),
        nowMs: NOW,
      },
      { kind: 'client_error', status: 400, errorCode: 'invalid_request_error', rateLimit: {} },
    ],
    [
      '403 permission',
      {
        status: 403,
        body: error(
          'permission_error',
          'Your API key does not have permission to use the specified resource.',
        ),
        nowMs: NOW,
      },
      { kind: 'permission_denied', status: 403, errorCode: 'permission_error', rateLimit: {} },
    ],
    [
      '413 request too large',
      {
        status: 413,
        body: error('request_too_large', 'Request exceeds the maximum allowed number of bytes.'),
        nowMs: NOW,
      },
      { kind: 'client_error', status: 413, errorCode: 'request_too_large', rateLimit: {} },
    ],
    [
      '529 overloaded',
      { status: 529, body: error('overloaded_error', 'Overloaded'), nowMs: NOW },
      { kind: 'server_error', status: 529, errorCode: 'overloaded_error', rateLimit: {} },
    ],
    [
      '500 api_error',
      { status: 500, body: error('api_error', 'Internal server error'), nowMs: NOW },
      { kind: 'server_error', status: 500, errorCode: 'api_error', rateLimit: {} },
    ],
    ['timeout', { failure: 'timeout', nowMs: NOW }, { kind: 'timeout', rateLimit: {} }],
  ];

  it.each(cases)('%s', (_name, input, expected) => {
    expect(anthropic.classify(input)).toEqual(expected);
  });
});

describe('anthropic.classify: the account the answer names', () => {
  const ORG = '6a1d5b0e-3f4c-4e2a-9b7d-2c8e1f0a9b3c';

  it.each([200, 400, 429, 529])('reads anthropic-organization-id on a %s', (status) => {
    const outcome = anthropic.classify({
      status,
      headers: { ...HEADERS, 'anthropic-organization-id': ORG },
      body: status >= 400 ? error('rate_limit_error', 'x') : undefined,
      nowMs: NOW,
    });
    expect(outcome.account).toEqual({ organization: ORG });
  });

  it("no anthropic-organization-id: no account field; OpenAI's headers mean nothing here", () => {
    const outcome = anthropic.classify({
      status: 200,
      headers: { ...HEADERS, 'openai-organization': 'org-abc', 'openai-project': 'proj_abc' },
      nowMs: NOW,
    });
    expect(outcome).not.toHaveProperty('account');
  });
});

describe('anthropic.parseRateLimit', () => {
  it('on equal remaining, keeps the budget that refills later', () => {
    const info = anthropic.parseRateLimit(
      {
        'anthropic-ratelimit-input-tokens-remaining': '0',
        'anthropic-ratelimit-input-tokens-reset': '2026-11-26T09:00:02Z',
        'anthropic-ratelimit-output-tokens-remaining': '0',
        'anthropic-ratelimit-output-tokens-reset': '2026-11-26T09:00:09Z',
      },
      NOW,
    );
    expect(info).toEqual({ remainingTokens: 0, resetTokensMs: 9000 });
  });

  it('ignores unreadable values', () => {
    expect(
      anthropic.parseRateLimit(
        { 'anthropic-ratelimit-requests-remaining': 'n/a', 'anthropic-ratelimit-requests-reset': 'soon' },
        NOW,
      ),
    ).toEqual({});
  });
});

describe('anthropic wire details', () => {
  it('sends x-api-key only; the probe adds anthropic-version', () => {
    expect(anthropic.credentialHeaders('sk-ant-test')).toEqual({ 'x-api-key': 'sk-ant-test' });
    expect(anthropic.probe.extraHeaders).toEqual({ 'anthropic-version': '2023-06-01' });
    expect(anthropic.probe.listPath).toBe('/v1/models');
    expect(anthropic.probe.minimalRequest('claude-haiku-4-5')).toEqual({
      method: 'POST',
      path: '/v1/messages',
      body: { model: 'claude-haiku-4-5', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] },
    });
  });

  it('answers in Anthropic error shape', () => {
    expect(anthropic.errorBody(429, 'All keys are cooling down')).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'All keys are cooling down' },
    });
    expect(anthropic.errorBody(502, 'Upstream unreachable')).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'Upstream unreachable' },
    });
  });
});
