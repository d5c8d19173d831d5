import OpenAI from 'openai';
import { startSimProvider, type SimProvider } from '../src';
import { anthropicHeaders, call, chatBody, messagesBody, openaiHeaders } from './helpers';

const KEY = 'sk-sim-tokens-key-0001';
const MEMBER_A = 'sk-sim-tokens-org-aaaa';
const MEMBER_B = 'sk-sim-tokens-org-bbbb';

/** "Say hello" = 9 characters = 3 tokens of prompt. */
const PROMPT = 3;

describe('tokens: prompt chars / 4 + the output limit, counted when the request arrives', () => {
  let sim: SimProvider;
  const chat = (key: string, extra: Record<string, unknown>) =>
    call(`${sim.url}/v1/chat/completions`, { headers: openaiHeaders(key), body: chatBody(extra) });

  beforeAll(async () => {
    sim = await startSimProvider({
      windowMs: 2000,
      orgs: { 'org-sim-tokens': { rpm: 100, tpm: 500 } },
      keys: {
        [KEY]: { rpm: 100, models: { 'gpt-4o-mini': { rpm: 100, tpm: 1000 } } },
        [MEMBER_A]: { org: 'org-sim-tokens' },
        [MEMBER_B]: { org: 'org-sim-tokens' },
      },
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('x-ratelimit-remaining-tokens shows the bucket after each request (max_completion_tokens wins over max_tokens)', async () => {
    const first = await chat(KEY, { max_tokens: 100 });
    expect(first.headers.get('x-ratelimit-remaining-tokens')).toBe(String(1000 - PROMPT - 100));
    const second = await chat(KEY, { max_tokens: 50, max_completion_tokens: 200 });
    expect(second.headers.get('x-ratelimit-remaining-tokens')).toBe(String(1000 - 2 * PROMPT - 300));
    const third = await chat(KEY, {}); // no output limit: 16
    expect(third.headers.get('x-ratelimit-remaining-tokens')).toBe(String(1000 - 3 * PROMPT - 316));
    expect(third.headers.get('x-ratelimit-remaining-requests')).toBe('97');
    expect(sim.bucket(KEY, 'gpt-4o-mini')).toMatchObject({ usedTokens: 3 * PROMPT + 316, usedRequests: 3 });
  });

  it('a request asking for more tokens than are left gets a 429 on tokens, with token headers saying so', async () => {
    await chat(KEY, { max_tokens: 300 }); // 303 used, 697 left
    const client = new OpenAI({ apiKey: KEY, baseURL: `${sim.url}/v1`, maxRetries: 0 });
    const err = await client.chat.completions
      .create({ model: 'gpt-4o-mini', max_tokens: 700, messages: [{ role: 'user', content: 'Say hello' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const rate = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rate.type).toBe('tokens');
    expect(rate.message).toContain('on tokens per min (TPM): Limit 1000, Used 303, Requested 703. Please try again in');
    expect(rate.headers.get('x-ratelimit-remaining-tokens')).toBe('697'); // a refused request costs nothing
    expect(rate.headers.get('x-ratelimit-limit-tokens')).toBe('1000');
    expect(rate.headers.get('x-ratelimit-remaining-requests')).toBe('99'); // requests were not the problem
    expect(Number(rate.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    // A request that fits what is left still passes.
    expect((await chat(KEY, { max_tokens: 690 })).status).toBe(200);
    expect(sim.bucket(KEY, 'gpt-4o-mini')).toMatchObject({ admitted: 2, refused: 1, refusedOnTokens: 1 });
  });

  it('a request larger than the whole limit is "Request too large", as OpenAI words it', async () => {
    const res = await chat(KEY, { max_tokens: 5000 });
    expect(res.status).toBe(429);
    const message = (res.json as { error: { message: string; type: string } }).error;
    expect(message.type).toBe('tokens');
    expect(message.message).toMatch(
      /^Request too large for gpt-4o-mini in organization org-[A-Za-z0-9]{24} on tokens per min \(TPM\): Limit 1000, Requested 5003\. The input or output tokens must be reduced/,
    );
  });

  it("the organization's token budget is shared by its keys", async () => {
    await chat(MEMBER_A, { max_tokens: 297 }); // 300 of 500
    const b = await chat(MEMBER_B, { max_tokens: 97 }); // 400 of 500
    expect(b.status).toBe(200);
    expect(b.headers.get('x-ratelimit-remaining-tokens')).toBe('100');
    const refused = await chat(MEMBER_B, { max_tokens: 98 });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-ratelimit-remaining-tokens')).toBe('100');
  });

  it('Anthropic: messages + system count, anthropic-ratelimit-tokens-remaining after the request, 429 on input tokens', async () => {
    const system = 'Be very brief.'; // counted with the messages: ceil((9 + 14) / 4) = 6 tokens
    const ok = await call(`${sim.url}/v1/messages`, {
      headers: anthropicHeaders(MEMBER_A),
      body: messagesBody({ system, max_tokens: 194 }),
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('anthropic-ratelimit-tokens-remaining')).toBe(String(500 - 6 - 194));
    const refused = await call(`${sim.url}/v1/messages`, {
      headers: anthropicHeaders(MEMBER_B),
      body: messagesBody({ max_tokens: 400 }),
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('anthropic-ratelimit-tokens-remaining')).toBe('300');
    expect(refused.headers.get('anthropic-ratelimit-requests-remaining')).toBe('99');
    expect(JSON.stringify(refused.json)).toContain("exceed your organization's rate limit of 500 input tokens per minute");
  });
});
