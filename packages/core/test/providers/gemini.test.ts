import { providers } from '../../src/providers';
import type { Outcome } from '../../src/outcome';

const NOW = Date.UTC(2026, 10, 26, 9, 0, 0);
const gemini = providers.gemini;

const quotaError = (quotaId: string, retryDelay?: string) =>
  JSON.stringify({
    error: {
      code: 429,
      message:
        'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.',
      status: 'RESOURCE_EXHAUSTED',
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
          violations: [
            {
              quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
              quotaId,
              quotaDimensions: { location: 'global', model: 'gemini-2.0-flash' },
              quotaValue: '15',
            },
          ],
        },
        {
          '@type': 'type.googleapis.com/google.rpc.Help',
          links: [
            {
              description: 'Learn more about Gemini API quotas',
              url: 'https://ai.google.dev/gemini-api/docs/rate-limits',
            },
          ],
        },
        ...(retryDelay ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay }] : []),
      ],
    },
  });
const INVALID_KEY = JSON.stringify({
  error: {
    code: 400,
    message: 'API key not valid. Please pass a valid API key.',
    status: 'INVALID_ARGUMENT',
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'API_KEY_INVALID',
        domain: 'googleapis.com',
        metadata: { service: 'generativelanguage.googleapis.com' },
      },
    ],
  },
});
const simple = (code: number, status: string, message: string) =>
  JSON.stringify({ error: { code, message, status } });

describe('gemini.classify', () => {
  const perMinute = quotaError('GenerateRequestsPerMinutePerProjectPerModel-FreeTier', '43s');
  const cases: [string, Parameters<typeof gemini.classify>[0], Outcome][] = [
    ['200', { status: 200, headers: {}, nowMs: NOW }, { kind: 'success', status: 200, rateLimit: {} }],
    [
      '429 per-minute quota: rate limited, RetryInfo gives the delay',
      { status: 429, body: perMinute, nowMs: NOW },
      {
        kind: 'rate_limited',
        status: 429,
        errorCode: 'RESOURCE_EXHAUSTED',
        rateLimit: { retryAfterMs: 43_000 },
      },
    ],
    [
      '429 Retry-After header beats RetryInfo',
      { status: 429, headers: { 'retry-after': '5' }, body: perMinute, nowMs: NOW },
      {
        kind: 'rate_limited',
        status: 429,
        errorCode: 'RESOURCE_EXHAUSTED',
        rateLimit: { retryAfterMs: 5000 },
      },
    ],
    [
      '429 per-day quota: exhausted',
      { status: 429, body: quotaError('GenerateRequestsPerDayPerProjectPerModel-FreeTier'), nowMs: NOW },
      { kind: 'quota_exhausted', status: 429, errorCode: 'RESOURCE_EXHAUSTED', rateLimit: {} },
    ],
    [
      '429 per-day quota in a truncated body',
      {
        status: 429,
        body: quotaError('GenerateRequestsPerDayPerProjectPerModel-FreeTier').slice(0, 700),
        nowMs: NOW,
      },
      { kind: 'quota_exhausted', status: 429, rateLimit: {} },
    ],
    [
      '429 prepaid credits depleted',
      {
        status: 429,
        body: simple(
          429,
          'RESOURCE_EXHAUSTED',
          'Your prepayment credits are depleted. Please go to AI Studio to manage your project and billing.',
        ),
        nowMs: NOW,
      },
      { kind: 'quota_exhausted', status: 429, errorCode: 'RESOURCE_EXHAUSTED', rateLimit: {} },
    ],
    [
      '429 legacy message',
      {
        status: 429,
        body: simple(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'),
        nowMs: NOW,
      },
      { kind: 'rate_limited', status: 429, errorCode: 'RESOURCE_EXHAUSTED', rateLimit: {} },
    ],
    [
      '400 API_KEY_INVALID is an invalid key, not a client error',
      { status: 400, body: INVALID_KEY, nowMs: NOW },
      { kind: 'invalid_key', status: 400, errorCode: 'API_KEY_INVALID', rateLimit: {} },
    ],
    [
      '400 expired key (message only)',
      {
        status: 400,
        body: simple(400, 'INVALID_ARGUMENT', 'API key expired. Please renew the API key.'),
        nowMs: NOW,
      },
      { kind: 'invalid_key', status: 400, errorCode: 'INVALID_ARGUMENT', rateLimit: {} },
    ],
    [
      '400 other invalid argument',
      { status: 400, body: simple(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.'), nowMs: NOW },
      { kind: 'client_error', status: 400, errorCode: 'INVALID_ARGUMENT', rateLimit: {} },
    ],
    [
      '400 location not supported',
      {
        status: 400,
        body: simple(400, 'FAILED_PRECONDITION', 'User location is not supported for the API use.'),
        nowMs: NOW,
      },
      { kind: 'client_error', status: 400, errorCode: 'FAILED_PRECONDITION', rateLimit: {} },
    ],
    [
      '403 permission denied',
      {
        status: 403,
        body: simple(403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers."),
        nowMs: NOW,
      },
      { kind: 'permission_denied', status: 403, errorCode: 'PERMISSION_DENIED', rateLimit: {} },
    ],
    [
      '403 suspended consumer: the key',
      {
        status: 403,
        body: JSON.stringify({
          error: {
            code: 403,
            message: "Permission denied: Consumer 'api_key:x' has been suspended.",
            status: 'PERMISSION_DENIED',
            details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'CONSUMER_SUSPENDED' }],
          },
        }),
        nowMs: NOW,
      },
      { kind: 'invalid_key', status: 403, errorCode: 'CONSUMER_SUSPENDED', rateLimit: {} },
    ],
    [
      '400 quoting "API key not valid" from the client\'s input is the client\'s error',
      {
        status: 400,
        body: simple(400, 'INVALID_ARGUMENT', 'Invalid value at contents[0]: "API key not valid"'),
        nowMs: NOW,
      },
      { kind: 'client_error', status: 400, errorCode: 'INVALID_ARGUMENT', rateLimit: {} },
    ],
    [
      '503 unavailable',
      {
        status: 503,
        body: simple(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'),
        nowMs: NOW,
      },
      { kind: 'server_error', status: 503, errorCode: 'UNAVAILABLE', rateLimit: {} },
    ],
    [
      'connection error',
      { failure: 'connection_error', nowMs: NOW },
      { kind: 'connection_error', rateLimit: {} },
    ],
  ];

  it.each(cases)('%s', (_name, input, expected) => {
    expect(gemini.classify(input)).toEqual(expected);
  });

  it('reads no account (Gemini names none)', () => {
    const outcome = gemini.classify({
      status: 200,
      headers: { 'openai-organization': 'org-abc', 'anthropic-organization-id': 'x' },
      nowMs: NOW,
    });
    expect(outcome).not.toHaveProperty('account');
  });
});

describe('gemini wire details', () => {
  it('uses x-goog-api-key and answers in Google error shape', () => {
    expect(gemini.credentialHeaders('AIza-test')).toEqual({ 'x-goog-api-key': 'AIza-test' });
    expect(gemini.errorBody(429, 'All keys are cooling down')).toEqual({
      error: { code: 429, message: 'All keys are cooling down', status: 'RESOURCE_EXHAUSTED' },
    });
    expect(gemini.errorBody(404, 'No route')).toEqual({
      error: { code: 404, message: 'No route', status: 'NOT_FOUND' },
    });
  });

  it('probes with models.list and a 1-token generateContent', () => {
    expect(gemini.probe.listPath).toBe('/v1beta/models');
    expect(gemini.probe.minimalRequest('gemini-2.5-flash-lite')).toEqual({
      method: 'POST',
      path: '/v1beta/models/gemini-2.5-flash-lite:generateContent',
      body: {
        contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
        generationConfig: { maxOutputTokens: 1 },
      },
    });
  });
});
