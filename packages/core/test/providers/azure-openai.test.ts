import { providers } from '../../src/providers';
import type { Outcome } from '../../src/outcome';

const NOW = Date.UTC(2026, 10, 26, 9, 0, 0);
const azure = providers['azure-openai'];

describe('azure-openai.classify', () => {
  const cases: [string, Parameters<typeof azure.classify>[0], Outcome][] = [
    [
      "200 with Azure's remaining-only headers",
      {
        status: 200,
        headers: { 'x-ratelimit-remaining-requests': '119', 'x-ratelimit-remaining-tokens': '119800' },
        nowMs: NOW,
      },
      { kind: 'success', status: 200, rateLimit: { remainingRequests: 119, remainingTokens: 119800 } },
    ],
    [
      '429 token rate limit with retry-after-ms',
      {
        status: 429,
        headers: { 'retry-after-ms': '1750', 'retry-after': '2', 'x-ratelimit-remaining-tokens': '0' },
        body: JSON.stringify({
          error: {
            code: '429',
            message:
              'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 2 seconds.',
          },
        }),
        nowMs: NOW,
      },
      {
        kind: 'rate_limited',
        status: 429,
        errorCode: '429',
        rateLimit: { retryAfterMs: 1750, remainingTokens: 0 },
      },
    ],
    [
      '401 access denied',
      {
        status: 401,
        body: JSON.stringify({
          error: {
            code: '401',
            message:
              'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
          },
        }),
        nowMs: NOW,
      },
      { kind: 'invalid_key', status: 401, errorCode: '401', rateLimit: {} },
    ],
    [
      '404 deployment not found',
      {
        status: 404,
        body: JSON.stringify({
          error: {
            code: 'DeploymentNotFound',
            message: 'The API deployment for this resource does not exist.',
          },
        }),
        nowMs: NOW,
      },
      { kind: 'client_error', status: 404, errorCode: 'DeploymentNotFound', rateLimit: {} },
    ],
    [
      '429 insufficient_quota',
      {
        status: 429,
        body: JSON.stringify({ error: { code: 'insufficient_quota', message: 'quota' } }),
        nowMs: NOW,
      },
      { kind: 'quota_exhausted', status: 429, errorCode: 'insufficient_quota', rateLimit: {} },
    ],
  ];

  it.each(cases)('%s', (_name, input, expected) => {
    expect(azure.classify(input)).toEqual(expected);
  });

  it('reads no account: Azure limits per deployment, whatever headers say', () => {
    const outcome = azure.classify({
      status: 200,
      headers: {
        'openai-organization': 'org-abc',
        'openai-project': 'proj_abc',
        'anthropic-organization-id': 'x',
      },
      nowMs: NOW,
    });
    expect(outcome).not.toHaveProperty('account');
  });

  it('uses api-key, has no default host, probes a deployment', () => {
    expect(azure.credentialHeaders('azure-secret')).toEqual({ 'api-key': 'azure-secret' });
    expect(azure.defaultBaseUrl).toBeUndefined();
    expect(azure.probe.minimalRequest('my-gpt4o')).toMatchObject({
      method: 'POST',
      path: '/deployments/my-gpt4o/chat/completions?api-version=2024-10-21',
    });
    expect(azure.errorBody(429, 'x')).toEqual(providers.openai.errorBody(429, 'x'));
  });
});
