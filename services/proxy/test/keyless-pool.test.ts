import { CLIENT_TOKEN, startRig, type Rig } from './harness';

// An `optional: true` pool whose keys variable is unset, next to pools that have keys (one per provider shape).
let rig: Rig;
beforeAll(async () => {
  rig = await startRig({
    keys: 2,
    config: {
      pools: {
        openai: { provider: 'openai', baseUrl: 'http://127.0.0.1:9/v1', keys: '${UNSET_OPENAI_KEYS}', optional: true },
        anthropic: { provider: 'anthropic', baseUrl: 'http://127.0.0.1:9', keys: '${UNSET_ANTHROPIC_KEYS}', optional: true },
        gemini: { provider: 'gemini', baseUrl: 'http://127.0.0.1:9', keys: '${UNSET_GEMINI_KEYS}', optional: true },
        spare: { provider: 'openai', baseUrl: 'http://127.0.0.1:9/v1', keys: 'sk-spare-1' },
      },
      routes: { '/v1': 'openai', '/anthropic': 'anthropic', '/gemini': 'gemini', '/spare': 'spare' },
    },
  });
});
afterAll(() => rig.close());

const post = (path: string) =>
  fetch(`${rig.proxy.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'x-api-key': CLIENT_TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('an optional pool without keys', () => {
  it('/readyz stays ready and names it in its detail', async () => {
    const res = await fetch(`${rig.proxy.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      status: 'ready',
      detail: 'redis reachable, scripts loaded; pool(s) without keys (optional): openai, anthropic, gemini',
    });
  });

  it('answers 503 in its provider\'s own shape and vocabulary (no Anthropic type in an OpenAI body)', async () => {
    const openai = await post('/v1/chat/completions');
    expect(openai.status).toBe(503);
    expect(await openai.json()).toEqual({
      error: {
        message: 'no key of pool "openai" is usable: the pool has no keys (optional: true)',
        type: 'server_error',
        param: null,
        code: 'service_unavailable',
      },
    });
    const anthropic = await post('/anthropic/v1/messages');
    expect(anthropic.status).toBe(503);
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    const gemini = await post('/gemini/v1beta/models/m:generateContent');
    expect(gemini.status).toBe(503);
    expect(await gemini.json()).toMatchObject({ error: { code: 503, status: 'UNAVAILABLE' } });
  });
});
