import Anthropic from '@anthropic-ai/sdk';
import { startSimProvider, type SimProvider } from '../src';
import { ANTHROPIC_KEY, anthropicHeaders, call, messagesBody, RFC3339_MS } from './helpers';

describe('Anthropic API through the official SDK', () => {
  let sim: SimProvider;
  const client = (apiKey = ANTHROPIC_KEY) => new Anthropic({ apiKey, baseURL: sim.url, maxRetries: 0 });
  const params = (): Anthropic.MessageCreateParamsNonStreaming => ({
    model: 'claude-haiku-4-5-20251001',
    max_tokens: 32,
    messages: [{ role: 'user', content: 'Say hello' }],
  });

  beforeAll(async () => {
    sim = await startSimProvider({
      windowMs: 2000,
      keys: {
        [ANTHROPIC_KEY]: { rpm: 50, tpm: 10_000 },
        'sk-ant-limited-0002': { rpm: 1 },
        'sk-ant-nocredit-03': { mode: 'quota' },
        'sk-ant-revoked-abcd': { mode: 'invalid' },
        'sk-ant-overload-05': { mode: 'server_error' },
      },
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('answers a non-streaming message the SDK parses, with anthropic-ratelimit headers', async () => {
    const { data, response } = await client()
      .messages.create({ ...params(), system: 'Be brief.' })
      .withResponse();
    expect(data.type).toBe('message');
    expect(data.role).toBe('assistant');
    expect(data.stop_reason).toBe('end_turn');
    expect(data.content).toEqual([{ type: 'text', text: 'This is a simulated reply' }]);
    // "Say hello" (9) + "Be brief." (9) = 18 chars = 5 tokens.
    expect(data.usage).toMatchObject({ input_tokens: 5, output_tokens: 5 });
    expect(response.headers.get('request-id')).toMatch(/^req_011[0-9A-Za-z]+$/);
    expect(response.headers.get('anthropic-ratelimit-requests-limit')).toBe('50');
    expect(response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('49');
    expect(response.headers.get('anthropic-ratelimit-tokens-remaining')).toBe(String(10_000 - 5 - 32));
    expect(response.headers.get('anthropic-ratelimit-requests-reset')).toMatch(RFC3339_MS);
  });

  it('streams the real event sequence and the SDK assembles the final message', async () => {
    const stream = client().messages.stream(params());
    const seen: string[] = [];
    stream.on('streamEvent', (event) => seen.push(event.type));
    const message = await stream.finalMessage();
    expect(message.content).toEqual([{ type: 'text', text: 'This is a simulated reply' }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.output_tokens).toBe(5);
    expect(seen).toEqual([
      'message_start',
      'content_block_start',
      ...Array<string>(5).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  it('puts `event:` lines on the wire, with a ping after the first content block starts', async () => {
    const res = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: { ...anthropicHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify(messagesBody({ stream: true })),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    const events = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(events.slice(0, 4)).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_delta']);
    expect(events[events.length - 1]).toBe('message_stop');
    expect(text).toContain('data: {"type":"message_stop"}\n\n');
  });

  it('enforces rpm with a 429 rate_limit_error, retry-after and RFC 3339 resets', async () => {
    const key = 'sk-ant-limited-0002';
    await client(key).messages.create(params());
    const err = await client(key)
      .messages.create(params())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const rate = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(rate.status).toBe(429);
    expect(rate.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(rate.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0');
    const reset = Date.parse(rate.headers.get('anthropic-ratelimit-requests-reset') ?? '');
    expect(reset).toBe(sim.windowEndsAt(key));
    expect(Number(rate.headers.get('retry-after'))).toBe(Math.ceil((reset - Date.now()) / 1000));
    expect(sim.stats(key)).toMatchObject({ calls: 2, ok: 1, rateLimited: 1 });
  });

  it('quota mode: 400 "credit balance is too low"; models still listed', async () => {
    const key = 'sk-ant-nocredit-03';
    const err = await client(key)
      .messages.create(params())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const bad = err as InstanceType<typeof Anthropic.BadRequestError>;
    expect(bad.error).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect(bad.message).toContain('Your credit balance is too low to access the Anthropic API');
    const models = await client(key).models.list();
    expect(models.data.map((m) => m.id)).toContain('claude-haiku-4-5-20251001');
    expect(sim.stats(key)).toMatchObject({ calls: 2, quota: 1, probes: 1 });
  });

  it('invalid key: 401 authentication_error; server_error mode: 529 overloaded_error', async () => {
    const err = await client('sk-ant-revoked-abcd')
      .messages.create(params())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((err as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({
      error: { type: 'authentication_error' },
    });
    const overloaded = await client('sk-ant-overload-05')
      .messages.create(params())
      .catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(Anthropic.InternalServerError);
    const server = overloaded as InstanceType<typeof Anthropic.InternalServerError>;
    expect(server.status).toBe(529);
    expect(server.error).toMatchObject({ error: { type: 'overloaded_error' } });
  });

  it('takes the key from x-api-key (classic) or Authorization: Bearer (what SDK >= 1.0 sends)', async () => {
    await client().messages.create(params());
    const sdkRequest = sim.requestLog[sim.requestLog.length - 1];
    expect(sdkRequest?.headers.authorization).toBe(`Bearer ${ANTHROPIC_KEY}`);
    expect(sdkRequest?.headers['anthropic-version']).toBeDefined();
    const classic = await call(`${sim.url}/v1/messages`, { headers: anthropicHeaders(), body: messagesBody() });
    expect(classic.status).toBe(200);
    // Both present: x-api-key wins, so a leaked client token in Authorization does not mask the injected key.
    const both = await call(`${sim.url}/v1/messages`, {
      headers: { ...anthropicHeaders(), authorization: 'Bearer rotor-client-token' },
      body: messagesBody(),
    });
    expect(both.status).toBe(200);
    expect(sim.stats(ANTHROPIC_KEY)).toMatchObject({ calls: 3, ok: 3 });
    expect(sim.totals().unauthenticated).toBe(0);
  });

  it('requires anthropic-version, a key and a complete body, like the real API', async () => {
    const noVersion = await call(`${sim.url}/v1/messages`, { headers: { 'x-api-key': ANTHROPIC_KEY }, body: messagesBody() });
    expect(noVersion.status).toBe(400);
    expect(noVersion.json).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' },
    });
    const noKey = await call(`${sim.url}/v1/messages`, { headers: { 'anthropic-version': '2023-06-01' }, body: messagesBody() });
    expect(noKey.status).toBe(401);
    expect(noKey.json).toMatchObject({ error: { type: 'authentication_error', message: 'x-api-key header is required' } });
    const noMaxTokens = await call(`${sim.url}/v1/messages`, {
      headers: anthropicHeaders(),
      body: { model: 'claude-haiku-4-5-20251001', messages: [] },
    });
    expect(noMaxTokens.status).toBe(400);
    expect(noMaxTokens.json).toMatchObject({ error: { message: 'max_tokens: Field required' } });
    const notFound = await call(`${sim.url}/v1/complete`, { headers: anthropicHeaders(), body: {} });
    expect(notFound.status).toBe(404);
    expect(notFound.json).toEqual({ type: 'error', error: { type: 'not_found_error', message: 'Not found' } });
    // None of these reached the generation logic.
    expect(sim.stats(ANTHROPIC_KEY)).toMatchObject({ ok: 0 });
  });
});
