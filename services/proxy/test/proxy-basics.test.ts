import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { CLIENT_TOKEN, startRig, type Rig } from './harness';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig({ keys: 3, rpm: 5 });
});
afterAll(() => rig.close());

const openai = () => new OpenAI({ baseURL: `${rig.proxy.url}/v1`, apiKey: CLIENT_TOKEN, maxRetries: 0 });

describe('proxy basics', () => {
  it('serves an OpenAI chat completion with only baseURL changed, rotating keys', async () => {
    const client = openai();
    for (let i = 0; i < 3; i++) {
      const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
      expect(completion.choices[0]?.message.content).toBeTruthy();
    }
    expect(rig.secrets.map((s) => rig.sim.stats(s).ok)).toEqual([1, 1, 1]);
  });

  it('streams an OpenAI completion', async () => {
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
  });

  it('serves Anthropic messages with baseURL /anthropic', async () => {
    const client = new Anthropic({ baseURL: `${rig.proxy.url}/anthropic`, apiKey: CLIENT_TOKEN, maxRetries: 0 });
    const message = await client.messages.create({ model: 'claude-3-5-haiku-latest', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
    expect(message.content[0]?.type).toBe('text');
  });

  it('answers a missing or wrong client token with 401 and no upstream call', async () => {
    const before = rig.sim.totals().calls + rig.sim.totals().unauthenticated;
    const missing = await fetch(`${rig.proxy.url}/v1/models`);
    const wrong = await fetch(`${rig.proxy.url}/v1/models`, { headers: { authorization: 'Bearer nope' } });
    expect([missing.status, wrong.status]).toEqual([401, 401]);
    // What OpenAI itself answers for a bad key (not Anthropic's `authentication_error` in an OpenAI body).
    expect(await wrong.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'invalid_api_key' } });
    expect(rig.sim.totals().calls + rig.sim.totals().unauthenticated).toBe(before);
  });

  it('answers an unknown path with 404 and a body over the limit with 413, before any upstream call', async () => {
    const before = rig.sim.totals().calls;
    const unknown = await fetch(`${rig.proxy.url}/nowhere`, { headers: { authorization: `Bearer ${CLIENT_TOKEN}` } });
    expect(unknown.status).toBe(404);
    const big = await fetch(`${rig.proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
      body: 'x'.repeat(rig.config.maxBodyBytes + 1),
    });
    expect(big.status).toBe(413);
    expect(rig.sim.totals().calls).toBe(before);
  });

  it('never passes the client token upstream; exactly one credential arrives', async () => {
    await openai().models.list();
    const last = rig.sim.requestLog[rig.sim.requestLog.length - 1]!;
    expect(JSON.stringify(last.headers)).not.toContain(CLIENT_TOKEN);
    expect(rig.secrets).toContain(last.secret);
    expect(last.headers.authorization).toBe(`Bearer ${last.secret}`);
  });
});
