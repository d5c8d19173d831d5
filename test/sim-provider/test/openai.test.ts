import OpenAI from 'openai';
import { startSimProvider, type SimProvider } from '../src';
import { call, chatBody, OPENAI_KEY, openaiHeaders, parseDuration } from './helpers';

describe('OpenAI API through the official SDK', () => {
  let sim: SimProvider;
  const client = (apiKey = OPENAI_KEY) => new OpenAI({ apiKey, baseURL: `${sim.url}/v1`, maxRetries: 0 });

  const chat = (): OpenAI.Chat.ChatCompletionCreateParamsNonStreaming => ({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'Say hello' }],
  });

  beforeAll(async () => {
    sim = await startSimProvider({
      windowMs: 2000,
      keys: {
        [OPENAI_KEY]: { rpm: 100, tpm: 100_000 },
        'sk-sim-limited-0002': { rpm: 2 },
        'sk-sim-quota-00003': { mode: 'quota' },
        'sk-sim-revoked-abcd': { mode: 'invalid' },
        'sk-sim-broken-00005': { mode: 'server_error' },
      },
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('answers a non-streaming chat completion the SDK parses, with rate-limit headers', async () => {
    const { data, response } = await client()
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there!' }] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.model).toBe('gpt-4o-mini');
    expect(data.choices[0]?.message.content).toBe('This is a simulated reply');
    expect(data.choices[0]?.finish_reason).toBe('stop');
    // "Hello there!" = 12 chars = 3 tokens; max_tokens absent = 16 charged to tpm.
    expect(data.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 });
    expect(response.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('100');
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('99');
    expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('100000');
    expect(response.headers.get('x-ratelimit-remaining-tokens')).toBe(String(100_000 - 3 - 16));
    expect(sim.stats(OPENAI_KEY)).toMatchObject({ calls: 1, ok: 1, probes: 0 });
  });

  it('streams chunks ending in [DONE], with a usage chunk when include_usage is set', async () => {
    const stream = await client().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Stream please' }],
      max_tokens: 50,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('This is a simulated reply');
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    const last = chunks[chunks.length - 1];
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 5 });
    expect(chunks.some((c) => c.choices[0]?.finish_reason === 'stop')).toBe(true);
  });

  it('streams without a usage chunk when include_usage is not set', async () => {
    const stream = await client().chat.completions.create({ ...chat(), stream: true });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks).toHaveLength(1 + 5 + 1); // role chunk, 5 content chunks, finish chunk
    expect(chunks.every((c) => c.usage === undefined)).toBe(true);
  });

  it('lists models for free: counted as probes and calls, not against rpm', async () => {
    const key = 'sk-sim-limited-0002';
    const models = await client(key).models.list();
    expect(models.data.map((m) => m.id)).toContain('gpt-4o-mini');
    await client(key).models.list();
    await client(key).chat.completions.create(chat());
    await client(key).chat.completions.create(chat());
    expect(sim.stats(key)).toEqual({ calls: 4, ok: 2, rateLimited: 0, quota: 0, invalid: 0, serverErrors: 0, probes: 2 });
  });

  it('enforces rpm per key with a real 429: RateLimitError, body and headers', async () => {
    const key = 'sk-sim-limited-0002';
    await client(key).chat.completions.create(chat());
    await client(key).chat.completions.create(chat());
    // Another key is unaffected by this key's window.
    await client().chat.completions.create(chat());

    const err = await client(key)
      .chat.completions.create(chat())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const rate = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rate.status).toBe(429);
    expect(rate.code).toBe('rate_limit_exceeded');
    expect(rate.type).toBe('requests');
    expect(rate.message).toMatch(
      /Rate limit reached for gpt-4o-mini in organization org-[A-Za-z0-9]{24} on requests per min \(RPM\): Limit 2, Used 2, Requested 1\. Please try again in \d+(\.\d+)?(ms|s)\./,
    );
    expect(rate.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(rate.headers.get('x-ratelimit-limit-requests')).toBe('2');
    const retryAfterMs = Number(rate.headers.get('retry-after-ms'));
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(2000);
    expect(rate.headers.get('retry-after')).toBe(String(Math.ceil(retryAfterMs / 1000)));
    expect(parseDuration(rate.headers.get('x-ratelimit-reset-requests') ?? '')).toBeLessThanOrEqual(2000);
    // No tpm configured for this key: no token headers rather than invented numbers.
    expect(rate.headers.get('x-ratelimit-limit-tokens')).toBeNull();
    expect(sim.stats(key)).toMatchObject({ calls: 3, ok: 2, rateLimited: 1 });
  });

  it('enforces tpm, charging prompt tokens plus max_tokens', async () => {
    sim.setLimits('sk-sim-tpm-000006', { rpm: 100, tpm: 100 });
    const key = 'sk-sim-tpm-000006';
    // 40 chars = 10 tokens + max_tokens 50 = 60 per request: the second one would need 120 > 100.
    const body = { ...chatBody(), messages: [{ role: 'user' as const, content: 'x'.repeat(40) }], max_tokens: 50 };
    const first = await call(`${sim.url}/v1/chat/completions`, { headers: openaiHeaders(key), body });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-remaining-tokens')).toBe('40');
    const second = await call(`${sim.url}/v1/chat/completions`, { headers: openaiHeaders(key), body });
    expect(second.status).toBe(429);
    expect(second.json).toMatchObject({ error: { type: 'tokens', code: 'rate_limit_exceeded' } });
    expect(JSON.stringify(second.json)).toContain('tokens per min (TPM): Limit 100, Used 60, Requested 60.');
    expect(second.headers.get('x-ratelimit-remaining-requests')).toBe('99');
  });

  it('quota mode: 429 insufficient_quota without retry-after; models still listed', async () => {
    const key = 'sk-sim-quota-00003';
    const err = await client(key)
      .chat.completions.create(chat())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const quota = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(quota.code).toBe('insufficient_quota');
    expect(quota.type).toBe('insufficient_quota');
    expect(quota.message).toContain('You exceeded your current quota');
    expect(quota.headers.get('retry-after')).toBeNull();
    await expect(client(key).models.list()).resolves.toBeDefined();
    expect(sim.stats(key)).toMatchObject({ calls: 2, quota: 1, probes: 1, ok: 0 });
  });

  it('invalid mode and unknown keys: 401 invalid_api_key echoing only the last 4 characters', async () => {
    const err = await client('sk-sim-revoked-abcd')
      .chat.completions.create(chat())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    const auth = err as InstanceType<typeof OpenAI.AuthenticationError>;
    expect(auth.code).toBe('invalid_api_key');
    expect(auth.message).toContain('Incorrect API key provided: ...abcd.');
    expect(auth.message).not.toContain('sk-sim-revoked');
    // Rate limiting comes after authentication, so a 401 has no rate-limit headers.
    expect(auth.headers.get('x-ratelimit-limit-requests')).toBeNull();
    expect(sim.stats('sk-sim-revoked-abcd')).toMatchObject({ calls: 1, invalid: 1 });

    const unknown = await client('sk-never-issued-wxyz')
      .chat.completions.create(chat())
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.AuthenticationError);
    const missing = await call(`${sim.url}/v1/chat/completions`, { body: chatBody() });
    expect(missing.status).toBe(401);
    expect(JSON.stringify(missing.json)).toContain("You didn't provide an API key");
    expect(sim.totals()).toMatchObject({ unauthenticated: 2, invalid: 1, calls: 1 });
  });

  it('server_error mode: 500 server_error', async () => {
    const err = await client('sk-sim-broken-00005')
      .chat.completions.create(chat())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.InternalServerError>).status).toBe(500);
    expect(sim.stats('sk-sim-broken-00005')).toMatchObject({ serverErrors: 1 });
  });

  it('unknown path and bad bodies get OpenAI-shaped errors', async () => {
    const notFound = await call(`${sim.url}/v1/embeddingz`, { headers: openaiHeaders(), body: {} });
    expect(notFound.status).toBe(404);
    expect(notFound.json).toEqual({
      error: { message: 'Invalid URL (POST /v1/embeddingz)', type: 'invalid_request_error', param: null, code: null },
    });
    const noModel = await call(`${sim.url}/v1/chat/completions`, { headers: openaiHeaders(), body: { messages: [] } });
    expect(noModel.status).toBe(400);
    expect(noModel.headers.get('x-ratelimit-limit-requests')).toBe('100');
    const res = await fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', headers: openaiHeaders(), body: '{nope' });
    expect(res.status).toBe(400);
    await res.text();
  });
});
