import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startSimProvider, type SimProvider } from '../src';
import { anthropicHeaders, call, chatBody, messagesBody, openaiHeaders } from './helpers';

const KEY = 'sk-sim-models-key-0001';
const MEMBER_A = 'sk-sim-models-org-aaaa';
const MEMBER_B = 'sk-sim-models-org-bbbb';
const DEFAULTS_ONLY = 'sk-sim-models-dflt-cccc';

describe('per-model buckets: each (organization, model group) has its own window and headers', () => {
  let sim: SimProvider;
  const chat = (key: string, model: string) =>
    call(`${sim.url}/v1/chat/completions`, { headers: openaiHeaders(key), body: chatBody({ model }) });

  beforeAll(async () => {
    sim = await startSimProvider({
      windowMs: 2000,
      defaultLimits: { rpm: 60, models: { 'o4-mini': { rpm: 1 } } },
      modelGroups: { 'gpt-4o': ['gpt-4o', 'gpt-4o-2024-08-06'] },
      orgs: { 'org-sim-models': { rpm: 4, models: { 'claude-opus-5-5': { rpm: 1 } } } },
      keys: {
        [KEY]: { rpm: 5, models: { 'gpt-4o': { rpm: 2, tpm: 1000 }, 'gpt-4o-mini': { rpm: 10, tpm: 50_000 } } },
        [MEMBER_A]: { org: 'org-sim-models' },
        [MEMBER_B]: { org: 'org-sim-models' },
        [DEFAULTS_ONLY]: {},
      },
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('an exhausted model leaves the other models of the same key untouched', async () => {
    expect((await chat(KEY, 'gpt-4o')).status).toBe(200);
    expect((await chat(KEY, 'gpt-4o')).status).toBe(200);
    const refused = await chat(KEY, 'gpt-4o');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-ratelimit-limit-requests')).toBe('2');

    const mini = await chat(KEY, 'gpt-4o-mini');
    expect(mini.status).toBe(200);
    // The headers describe the bucket of the model this request named, not the exhausted one.
    expect(mini.headers.get('x-ratelimit-limit-requests')).toBe('10');
    expect(mini.headers.get('x-ratelimit-remaining-requests')).toBe('9');
    expect(mini.headers.get('x-ratelimit-limit-tokens')).toBe('50000');
    expect(sim.windowEndsAt(KEY, 'gpt-4o')).toBeGreaterThan(Date.now());
    // The key's default bucket (models not listed) has not been touched.
    expect(sim.windowEndsAt(KEY)).toBeLessThanOrEqual(Date.now());
  });

  it('models not listed share the default bucket under the key-level limits', async () => {
    sim.consume(KEY, 4); // the default bucket: rpm 5
    const unlisted = await chat(KEY, 'gpt-4.1-mini');
    expect(unlisted.status).toBe(200);
    expect(unlisted.headers.get('x-ratelimit-limit-requests')).toBe('5');
    expect(unlisted.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect((await chat(KEY, 'some-other-model')).status).toBe(429);
    expect((await chat(KEY, 'gpt-4o-mini')).status).toBe(200);
  });

  it('modelGroups: a dated snapshot draws on its family bucket', async () => {
    expect((await chat(KEY, 'gpt-4o-2024-08-06')).status).toBe(200);
    const second = await chat(KEY, 'gpt-4o');
    expect(second.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const refused = await chat(KEY, 'gpt-4o-2024-08-06');
    expect(refused.status).toBe(429);
    // The 429 names the model the request asked for.
    expect(JSON.stringify(refused.json)).toContain('Rate limit reached for gpt-4o-2024-08-06 in organization org-');
    expect(sim.bucket(KEY, 'gpt-4o-2024-08-06')).toMatchObject({ model: 'gpt-4o', admitted: 2, refused: 1 });
  });

  it('defaultLimits.models apply to every owner; org-level models to all its keys', async () => {
    expect((await chat(DEFAULTS_ONLY, 'o4-mini')).status).toBe(200);
    expect((await chat(DEFAULTS_ONLY, 'o4-mini')).status).toBe(429);
    expect((await chat(DEFAULTS_ONLY, 'gpt-4o-mini')).headers.get('x-ratelimit-limit-requests')).toBe('60');
    // The organization inherits o4-mini's limit too, in a bucket of its own.
    expect((await chat(MEMBER_A, 'o4-mini')).status).toBe(200);
    expect((await chat(MEMBER_B, 'o4-mini')).status).toBe(429);
    expect((await chat(MEMBER_B, 'gpt-4o-mini')).headers.get('x-ratelimit-limit-requests')).toBe('4');
  });

  it('Anthropic: per-model buckets per organization, the official SDK sees 429 on one model and 200 on another', async () => {
    const client = (key: string) => new Anthropic({ apiKey: key, baseURL: sim.url, maxRetries: 0 });
    const sonnet = { model: 'claude-opus-5-5', max_tokens: 8, messages: [{ role: 'user' as const, content: 'hi' }] };
    const first = await client(MEMBER_A).messages.create(sonnet).withResponse();
    expect(first.response.headers.get('anthropic-ratelimit-requests-limit')).toBe('1');
    const refused = await client(MEMBER_B)
      .messages.create(sonnet)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    expect((refused as Error).message).toContain('model: claude-opus-5-5)');
    const haiku = await call(`${sim.url}/v1/messages`, { headers: anthropicHeaders(MEMBER_B), body: messagesBody() });
    expect(haiku.status).toBe(200);
    expect(haiku.headers.get('anthropic-ratelimit-requests-limit')).toBe('4');
    expect(haiku.headers.get('anthropic-ratelimit-requests-remaining')).toBe('3');
  });

  it('error answers before admission (quota, 500) describe the bucket of the model named', async () => {
    const quota = 'sk-sim-models-quota-0009';
    sim.setMode(quota, 'quota');
    sim.setLimits(quota, { rpm: 7 }, 'gpt-4o');
    try {
      const res = await chat(quota, 'gpt-4o');
      expect(res.status).toBe(429);
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe('7');
      const other = await chat(quota, 'gpt-4o-mini');
      expect(other.headers.get('x-ratelimit-limit-requests')).toBe('60');
    } finally {
      sim.setMode(quota, 'invalid');
    }
  });

  it('through the official OpenAI SDK: RateLimitError for the tight model while the roomy one answers', async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: `${sim.url}/v1`, maxRetries: 0 });
    const ask = (model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
    sim.consume(KEY, 2, 'gpt-4o');
    await expect(ask('gpt-4o')).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    for (let i = 0; i < 5; i += 1) await expect(ask('gpt-4o-mini')).resolves.toMatchObject({ model: 'gpt-4o-mini' });
  });
});
