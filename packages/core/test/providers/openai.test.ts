import { providers } from '../../src/providers';
import type { Outcome } from '../../src/outcome';

const NOW = Date.UTC(2026, 10, 26, 9, 0, 0);
const openai = providers.openai;

// Real response header samples (values as sent by api.openai.com).
const SUCCESS_HEADERS = {
  'x-ratelimit-limit-requests': '10000',
  'x-ratelimit-remaining-requests': '9999',
  'x-ratelimit-reset-requests': '6ms',
  'x-ratelimit-limit-tokens': '30000',
  'x-ratelimit-remaining-tokens': '29980',
  'x-ratelimit-reset-tokens': '40ms',
};
const RATE_LIMITED_HEADERS = {
  'x-ratelimit-limit-requests': '3',
  'x-ratelimit-remaining-requests': '0',
  'x-ratelimit-reset-requests': '20s',
  'x-ratelimit-limit-tokens': '40000',
  'x-ratelimit-remaining-tokens': '39970',
  'x-ratelimit-reset-tokens': '1m30s',
  'retry-after': '20',
};

const body = (error: Record<string, unknown>) => JSON.stringify({ error });
const QUOTA_BODY = body({
  message:
    'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
  type: 'insufficient_quota',
  param: null,
  code: 'insufficient_quota',
});
const RPM_BODY = body({
  message:
    'Rate limit reached for gpt-4o-mini in organization org-abc on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.',
  type: 'requests',
  param: null,
  code: 'rate_limit_exceeded',
});
const INVALID_KEY_BODY = body({
  message:
    'Incorrect API key provided: sk-proj-********************abcd. You can find your API key at https://platform.openai.com/account/api-keys.',
  type: 'invalid_request_error',
  param: null,
  code: 'invalid_api_key',
});

describe('openai.classify', () => {
  const cases: [string, Parameters<typeof openai.classify>[0], Outcome][] = [
    [
      '200 learns budgets from headers',
      { status: 200, headers: SUCCESS_HEADERS, nowMs: NOW },
      {
        kind: 'success',
        status: 200,
        rateLimit: {
          limitRequests: 10000,
          remainingRequests: 9999,
          resetRequestsMs: 6,
          limitTokens: 30000,
          remainingTokens: 29980,
          resetTokensMs: 40,
        },
      },
    ],
    ['302 is passed through', { status: 302, nowMs: NOW }, { kind: 'success', status: 302, rateLimit: {} }],
    [
      '429 rate limit',
      { status: 429, headers: RATE_LIMITED_HEADERS, body: RPM_BODY, nowMs: NOW },
      {
        kind: 'rate_limited',
        status: 429,
        errorCode: 'rate_limit_exceeded',
        rateLimit: {
          retryAfterMs: 20_000,
          limitRequests: 3,
          remainingRequests: 0,
          resetRequestsMs: 20_000,
          limitTokens: 40000,
          remainingTokens: 39970,
          resetTokensMs: 90_000,
        },
      },
    ],
    [
      '429 insufficient_quota',
      { status: 429, body: QUOTA_BODY, nowMs: NOW },
      { kind: 'quota_exhausted', status: 429, errorCode: 'insufficient_quota', rateLimit: {} },
    ],
    [
      '429 quota only in error.type',
      { status: 429, body: body({ message: 'x', type: 'insufficient_quota', code: null }), nowMs: NOW },
      { kind: 'quota_exhausted', status: 429, errorCode: 'insufficient_quota', rateLimit: {} },
    ],
    [
      '429 quota in a body cut at the read limit',
      { status: 429, body: QUOTA_BODY.slice(0, QUOTA_BODY.length - 3), nowMs: NOW },
      { kind: 'quota_exhausted', status: 429, errorCode: 'insufficient_quota', rateLimit: {} },
    ],
    [
      '429 without a body read',
      { status: 429, headers: { 'retry-after-ms': '1234', 'retry-after': '2' }, nowMs: NOW },
      { kind: 'rate_limited', status: 429, rateLimit: { retryAfterMs: 1234 } },
    ],
    [
      '401 invalid key: code kept, message (with part of the key) not',
      { status: 401, body: INVALID_KEY_BODY, nowMs: NOW },
      { kind: 'invalid_key', status: 401, errorCode: 'invalid_api_key', rateLimit: {} },
    ],
    [
      '403 unsupported region',
      {
        status: 403,
        body: body({
          message: 'Country, region, or territory not supported',
          type: 'request_forbidden',
          code: 'unsupported_country_region_territory',
        }),
        nowMs: NOW,
      },
      { kind: 'permission_denied', status: 403, errorCode: 'unsupported_country_region_territory', rateLimit: {} },
    ],
    [
      '401 missing scopes (a restricted key, an admin endpoint): the key is fine',
      {
        status: 401,
        body: body({
          message:
            'You have insufficient permissions for this operation. Missing scopes: api.management.read. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you\'re using a restricted API key, that it has the necessary scopes.',
          type: 'invalid_request_error',
          param: null,
          code: null,
        }),
        nowMs: NOW,
      },
      { kind: 'permission_denied', status: 401, errorCode: 'invalid_request_error', rateLimit: {} },
    ],
    [
      '401 with a bare error string that speaks of permissions (compatible hosts)',
      { status: 401, body: JSON.stringify({ error: 'You have insufficient permissions for this operation.' }), nowMs: NOW },
      { kind: 'permission_denied', status: 401, rateLimit: {} },
    ],
    [
      '429 "Request too large": the request can never fit, the key is not rate limited',
      {
        status: 429,
        headers: { 'retry-after': '56' },
        body: body({
          message:
            'Request too large for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Requested 50001. The input or output tokens must be reduced in order to run successfully.',
          type: 'tokens',
          param: null,
          code: 'rate_limit_exceeded',
        }),
        nowMs: NOW,
      },
      { kind: 'client_error', status: 429, errorCode: 'request_too_large', rateLimit: { retryAfterMs: 56_000 } },
    ],
    [
      '401 with a body nobody documented: the credential was not accepted',
      { status: 401, body: '<html>Unauthorized</html>', nowMs: NOW },
      { kind: 'invalid_key', status: 401, rateLimit: {} },
    ],
    [
      '403 that names a deactivated account: the key',
      {
        status: 403,
        body: body({ message: 'Your API key has been deactivated.', type: 'invalid_request_error', code: 'account_deactivated' }),
        nowMs: NOW,
      },
      { kind: 'invalid_key', status: 403, errorCode: 'account_deactivated', rateLimit: {} },
    ],
    [
      '403 project without access to the model',
      {
        status: 403,
        body: body({ message: 'Project `proj_x` does not have access to model `o3`', type: 'invalid_request_error', code: 'model_not_found' }),
        nowMs: NOW,
      },
      { kind: 'permission_denied', status: 403, errorCode: 'model_not_found', rateLimit: {} },
    ],
    [
      '402 from a compatible host (DeepSeek)',
      {
        status: 402,
        body: body({
          message: 'Insufficient Balance',
          type: 'unknown_error',
          param: null,
          code: 'invalid_request_error',
        }),
        nowMs: NOW,
      },
      { kind: 'quota_exhausted', status: 402, errorCode: 'invalid_request_error', rateLimit: {} },
    ],
    [
      "400 bad request is the client's",
      {
        status: 400,
        body: body({
          message: "'messages' is a required property",
          type: 'invalid_request_error',
          param: null,
          code: null,
        }),
        nowMs: NOW,
      },
      { kind: 'client_error', status: 400, errorCode: 'invalid_request_error', rateLimit: {} },
    ],
    [
      '404 model not found',
      {
        status: 404,
        body: body({
          message: 'The model `gpt-9` does not exist',
          type: 'invalid_request_error',
          code: 'model_not_found',
        }),
        nowMs: NOW,
      },
      { kind: 'client_error', status: 404, errorCode: 'model_not_found', rateLimit: {} },
    ],
    [
      '500 server error',
      {
        status: 500,
        body: body({
          message: 'The server had an error while processing your request.',
          type: 'server_error',
          code: null,
        }),
        nowMs: NOW,
      },
      { kind: 'server_error', status: 500, errorCode: 'server_error', rateLimit: {} },
    ],
    [
      '503 HTML from a gateway',
      { status: 503, body: '<html><body>Service Unavailable</body></html>', nowMs: NOW },
      { kind: 'server_error', status: 503, rateLimit: {} },
    ],
    ['timeout', { failure: 'timeout', nowMs: NOW }, { kind: 'timeout', rateLimit: {} }],
    [
      'connection error',
      { failure: 'connection_error', nowMs: NOW },
      { kind: 'connection_error', rateLimit: {} },
    ],
  ];

  it.each(cases)('%s', (_name, input, expected) => {
    expect(openai.classify(input)).toEqual(expected);
  });

  it('never lets free text become the error code', () => {
    const outcome = openai.classify({
      status: 401,
      body: body({ message: 'x', type: 'Incorrect API key provided: sk-abc', code: 'sk live secret' }),
      nowMs: NOW,
    });
    expect(outcome.errorCode).toBeUndefined();
  });
});

describe('openai.classify: the account the answer names', () => {
  const ACCOUNT_HEADERS = {
    'openai-organization': 'org-uOtiSEwvUnroadaOnJJquBEC',
    'openai-project': 'proj_abc123',
  };

  it.each([200, 401, 429, 500])('reads openai-organization and openai-project on a %s', (status) => {
    const outcome = openai.classify({
      status,
      headers: { ...SUCCESS_HEADERS, ...ACCOUNT_HEADERS },
      nowMs: NOW,
    });
    expect(outcome.account).toEqual({ organization: 'org-uOtiSEwvUnroadaOnJJquBEC', project: 'proj_abc123' });
  });

  it('an organization without a project (a user key, a compatible host)', () => {
    const outcome = openai.classify({
      status: 200,
      headers: { 'openai-organization': ' user-abc ' },
      nowMs: NOW,
    });
    expect(outcome.account).toEqual({ organization: 'user-abc' });
  });

  it('no account headers, or blank ones: no account field at all', () => {
    expect(openai.classify({ status: 200, headers: SUCCESS_HEADERS, nowMs: NOW })).not.toHaveProperty(
      'account',
    );
    expect(
      openai.classify({ status: 200, headers: { 'openai-organization': ' ' }, nowMs: NOW }),
    ).not.toHaveProperty('account');
    expect(openai.classify({ failure: 'timeout', nowMs: NOW })).not.toHaveProperty('account');
  });
});

describe('openai.parseRateLimit', () => {
  it('prefers retry-after-ms over Retry-After, and reads an HTTP date', () => {
    expect(openai.parseRateLimit({ 'retry-after-ms': '250', 'retry-after': '5' }, NOW).retryAfterMs).toBe(
      250,
    );
    expect(openai.parseRateLimit({ 'retry-after': 'Thu, 26 Nov 2026 09:00:07 GMT' }, NOW).retryAfterMs).toBe(
      7000,
    );
  });

  it('leaves retryAfterMs undefined without either header (the store falls back to resets)', () => {
    const info = openai.parseRateLimit(RATE_LIMITED_HEADERS, NOW);
    expect(
      openai.parseRateLimit({ ...RATE_LIMITED_HEADERS, 'retry-after': undefined }, NOW),
    ).not.toHaveProperty('retryAfterMs');
    expect(info.resetRequestsMs).toBe(20_000);
  });

  it('takes the first of repeated headers and ignores garbage', () => {
    const info = openai.parseRateLimit(
      {
        'x-ratelimit-remaining-requests': ['7', '8'],
        'x-ratelimit-limit-tokens': 'lots',
        'x-ratelimit-reset-tokens': '-',
      },
      NOW,
    );
    expect(info).toEqual({ remainingRequests: 7 });
  });
});

describe('openai wire details', () => {
  it('puts exactly one credential on the request', () => {
    expect(openai.credentialHeaders('sk-test')).toEqual({ authorization: 'Bearer sk-test' });
  });

  it('answers in OpenAI error shape', () => {
    expect(openai.errorBody(429, 'All keys are cooling down')).toEqual({
      error: {
        message: 'All keys are cooling down',
        type: 'rate_limit_exceeded',
        param: null,
        code: 'rate_limit_exceeded',
      },
    });
    expect(openai.errorBody(401, 'Missing bearer token')).toEqual({
      error: {
        message: 'Missing bearer token',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
    expect(openai.errorBody(504, 'Upstream timed out', 'timeout_error')).toMatchObject({
      error: { type: 'timeout_error' },
    });
  });

  it('probes with a listing and a 1-token chat completion', () => {
    expect(openai.probe.listPath).toBe('/models');
    expect(openai.probe.minimalRequest('gpt-4o-mini')).toEqual({
      method: 'POST',
      path: '/chat/completions',
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 },
    });
  });
});
