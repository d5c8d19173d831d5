import OpenAI from 'openai';
import { startSimProvider, type SimProvider } from '../src';
import { call, chatBody, openaiHeaders } from './helpers';

const KEY = 'sk-sim-responses-0001';
const TIGHT = 'sk-sim-responses-0002';

describe('OpenAI Responses API (POST /v1/responses) through the official SDK', () => {
  let sim: SimProvider;
  const client = (apiKey = KEY) => new OpenAI({ apiKey, baseURL: `${sim.url}/v1`, maxRetries: 0 });

  beforeAll(async () => {
    sim = await startSimProvider({
      windowMs: 2000,
      keys: {
        [KEY]: { rpm: 100, tpm: 10_000 },
        [TIGHT]: { org: 'org-sim-responses', project: 'proj_sim0002' },
      },
      orgs: { 'org-sim-responses': { rpm: 10, models: { 'gpt-4o': { rpm: 2, tpm: 1000 } } } },
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('answers a string input the SDK parses (output_text, usage), with rate-limit and organization headers', async () => {
    const { data, response } = await client()
      .responses.create({ model: 'gpt-4o-mini', input: 'Hello there!', max_output_tokens: 100 })
      .withResponse();
    expect(data.object).toBe('response');
    expect(data.status).toBe('completed');
    expect(data.id).toMatch(/^resp_/);
    expect(data.output_text).toBe('This is a simulated reply');
    // "Hello there!" = 12 chars = 3 tokens.
    expect(data.usage).toMatchObject({ input_tokens: 3, output_tokens: 5, total_tokens: 8 });
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('99');
    expect(response.headers.get('x-ratelimit-remaining-tokens')).toBe(String(10_000 - 3 - 100));
    expect(response.headers.get('openai-organization')).toMatch(/^org-[A-Za-z0-9]{24}$/);
    expect(sim.stats(KEY)).toMatchObject({ calls: 1, ok: 1 });
  });

  it('counts an item-list input plus instructions, and 16 output tokens when max_output_tokens is absent', async () => {
    const { response } = await client()
      .responses.create({
        model: 'gpt-4o-mini',
        instructions: 'Be brief', // 8 chars
        input: [
          { role: 'user', content: 'Say hello' }, // 9
          { role: 'user', content: [{ type: 'input_text', text: 'and goodbye' }] }, // 11
        ],
      })
      .withResponse();
    expect(response.headers.get('x-ratelimit-remaining-tokens')).toBe(String(10_000 - 7 - 16));
  });

  it('streams response.created ... response.output_text.delta ... response.completed, in sequence', async () => {
    const stream = await client().responses.create({ model: 'gpt-4o-mini', input: 'hi', stream: true });
    const types: string[] = [];
    const sequence: number[] = [];
    let text = '';
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    expect(types[0]).toBe('response.created');
    expect(types[types.length - 1]).toBe('response.completed');
    expect(types.filter((t) => t === 'response.output_text.delta')).toHaveLength(5);
    expect(types).toEqual(expect.arrayContaining(['response.output_item.added', 'response.output_text.done', 'response.output_item.done']));
    expect(sequence).toEqual(sequence.map((_, i) => i));
    expect(text).toBe('This is a simulated reply');
    expect(completed?.status).toBe('completed');
    expect(completed?.usage?.output_tokens).toBe(5);
  });

  it('the SDK stream helper reassembles the final response from the events', async () => {
    const final = await client().responses.stream({ model: 'gpt-4o-mini', input: 'hi' }).finalResponse();
    // The helper rebuilds output items from the deltas (it does not set `output_text` itself).
    expect(final.status).toBe('completed');
    expect(final.output).toMatchObject([{ type: 'message', content: [{ type: 'output_text', text: 'This is a simulated reply' }] }]);
  });

  it("draws on the same (organization, model) bucket as chat completions and 429s with the organization's name", async () => {
    const tight = client(TIGHT);
    await tight.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    const { response } = await tight.responses.create({ model: 'gpt-4o', input: 'hi' }).withResponse();
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(response.headers.get('openai-project')).toBe('proj_sim0002');
    const err = await tight.responses.create({ model: 'gpt-4o', input: 'hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as Error).message).toContain('Rate limit reached for gpt-4o in organization org-sim-responses on requests per min (RPM): Limit 2, Used 2');
    // Another model of the same organization is unaffected.
    await expect(tight.responses.create({ model: 'gpt-4o-mini', input: 'hi' })).resolves.toMatchObject({ status: 'completed' });
    expect(sim.bucket(TIGHT, 'gpt-4o')).toMatchObject({ org: 'org-sim-responses', model: 'gpt-4o', admitted: 2, refused: 1 });
  });

  it('refuses on tokens with max_output_tokens over what is left', async () => {
    const res = await call(`${sim.url}/v1/responses`, {
      headers: openaiHeaders(TIGHT),
      body: { model: 'gpt-4o', input: 'hi', max_output_tokens: 999 },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
    const refused = await call(`${sim.url}/v1/responses`, {
      headers: openaiHeaders(TIGHT),
      body: { model: 'gpt-4o', input: 'hi', max_output_tokens: 1 },
    });
    expect(refused.status).toBe(429);
    expect(refused.json).toMatchObject({ error: { type: 'tokens', code: 'rate_limit_exceeded' } });
  });

  it('a body without a model is a 400 and other paths under /v1/responses are 404', async () => {
    const noModel = await call(`${sim.url}/v1/responses`, { headers: openaiHeaders(KEY), body: { input: 'hi' } });
    expect(noModel.status).toBe(400);
    expect(noModel.json).toMatchObject({ error: { param: 'model', code: 'missing_required_parameter' } });
    const chatShaped = await call(`${sim.url}/v1/responses/resp_123`, { headers: openaiHeaders(KEY), body: chatBody() });
    expect(chatShaped.status).toBe(404);
    expect(sim.stats(KEY).ok).toBe(0);
  });
});
