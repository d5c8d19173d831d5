import http from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { CLIENT_TOKEN, openaiClient, startTopology, type Topology } from '../src';

/**
 * The request path end to end through nginx and 3 replicas: streaming, retries before the first
 * byte, client disconnects, refusals before any upstream call, header hygiene and secrecy.
 */
const CHUNKS = 6;
const CHUNK_DELAY_MS = 150;
let topo: Topology;
const seenBodies: string[] = [];

beforeAll(async () => {
  topo = await startTopology({
    replicas: 3,
    loadBalancer: true,
    windowMs: 60_000,
    sim: { stream: { chunks: CHUNKS, chunkDelayMs: CHUNK_DELAY_MS } },
    pools: { chat: { keys: 3 }, spent: { keys: 2 }, claude: { keys: 2, provider: 'anthropic' }, revoked: { keys: 1 } },
  });
}, 60_000);

afterAll(async () => {
  await topo?.stop();
});

const auth = { authorization: `Bearer ${CLIENT_TOKEN}` };

async function fetchText(url: string, init: RequestInit = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  seenBodies.push(text, JSON.stringify([...res.headers]));
  return { status: res.status, text, headers: res.headers };
}

describe('streaming', () => {
  it('an SSE completion arrives chunk by chunk: the first chunk before the provider sends the last', async () => {
    const started = Date.now();
    const stream = await openaiClient(`${topo.url}/chat`).chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      messages: [{ role: 'user', content: 'stream please' }],
    });
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of stream) {
      arrivals.push(Date.now() - started);
      text += chunk.choices[0]?.delta.content ?? '';
    }
    const streamLength = (CHUNKS - 1) * CHUNK_DELAY_MS;
    console.log(`stream: first chunk at ${arrivals[0]} ms, last at ${arrivals[arrivals.length - 1]} ms (provider streams for >= ${streamLength} ms)`);
    seenBodies.push(text);
    expect(text.length).toBeGreaterThan(0);
    expect(arrivals[0]!).toBeLessThan(streamLength - CHUNK_DELAY_MS);
    expect(arrivals[arrivals.length - 1]! - arrivals[0]!).toBeGreaterThanOrEqual(streamLength - CHUNK_DELAY_MS);
  });

  it('a 429 before the stream starts is retried on another key, invisibly', async () => {
    const [spent, fresh] = topo.secrets.spent!;
    topo.sim.consume(spent!, 20); // used up by someone else; Rotor does not know yet
    const client = openaiClient(`${topo.url}/spent`);
    // Round robin: one of the two requests is handed the spent key first.
    for (let i = 0; i < 2; i++) {
      const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] });
      let chunks = 0;
      for await (const _ of stream) chunks++;
      expect(chunks).toBeGreaterThan(0);
    }
    expect(topo.sim.stats(spent!).rateLimited).toBe(1);
    expect(topo.sim.stats(fresh!).ok).toBe(2);
  });

  it('Anthropic messages stream through the proxy with the official SDK', async () => {
    const client = new Anthropic({ baseURL: `${topo.url}/claude`, apiKey: CLIENT_TOKEN, maxRetries: 0 });
    const stream = client.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 32, messages: [{ role: 'user', content: 'hi' }] });
    const message = await stream.finalMessage();
    expect(message.content[0]?.type).toBe('text');
  });
});

describe('client disconnect', () => {
  it('aborts the upstream request at once: the provider sees its socket close within 1 s', async () => {
    const before = topo.sim.aborted.length;
    const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'long' }] });
    const closedAt = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${topo.url}/chat/chat/completions`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.on('response', (res) => {
        res.once('data', () => {
          req.destroy();
          resolve(Date.now());
        });
      });
      req.on('error', (error) => {
        if (!req.destroyed) reject(error);
      });
      req.end(body);
    });
    const deadline = closedAt + 1000;
    while (topo.sim.aborted.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const seen = topo.sim.aborted.slice(before);
    console.log(`disconnect: provider saw the close ${seen[0] ? seen[0].at - closedAt : 'never'} ms after the client left`);
    expect(seen.length).toBe(1);
    expect(seen[0]!.at - closedAt).toBeLessThan(1000);
  });
});

describe('refused before any upstream call', () => {
  it('wrong or missing client token -> 401, body over the limit -> 413, unknown path -> 404; 0 upstream calls', async () => {
    const before = topo.sim.totals();
    const missing = await fetchText(`${topo.url}/chat/models`);
    const wrong = await fetchText(`${topo.url}/chat/models`, { headers: { authorization: 'Bearer not-the-token' } });
    const wrongApiKey = await fetchText(`${topo.url}/claude/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'nope' }, body: '{}' });
    const big = await fetchText(`${topo.url}/chat/chat/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: 'x'.repeat(10 * 1024 * 1024 + 1),
    });
    const unknown = await fetchText(`${topo.url}/nope/v1/models`, { headers: auth });
    expect([missing.status, wrong.status, wrongApiKey.status, big.status, unknown.status]).toEqual([401, 401, 401, 413, 404]);
    expect(JSON.parse(wrongApiKey.text)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const after = topo.sim.totals();
    expect(after.calls + after.unauthenticated).toBe(before.calls + before.unauthenticated);
  });
});

describe('secrets', () => {
  it('the provider never receives the client token, and gets exactly one credential', async () => {
    await openaiClient(`${topo.url}/chat`).models.list();
    await fetchText(`${topo.url}/chat/models`, { headers: { ...auth, 'x-api-key': CLIENT_TOKEN, cookie: `s=${CLIENT_TOKEN}` } });
    for (const entry of topo.sim.requestLog) {
      const headers = JSON.stringify(entry.headers);
      expect(headers).not.toContain(CLIENT_TOKEN);
      const credentials = ['authorization', 'x-api-key', 'x-goog-api-key', 'api-key'].filter((h) => entry.headers[h] !== undefined);
      expect(credentials).toHaveLength(1);
    }
  });

  it('no configured key secret appears in any proxy log or any response', async () => {
    // An invalid key makes the provider echo part of it; Rotor must not pass that on.
    topo.sim.setMode(topo.secrets.revoked![0]!, 'invalid');
    const refused = await fetchText(`${topo.url}/revoked/chat/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.text).error.message).toContain('no key of pool "revoked" is usable');
    const everything = topo.logs() + seenBodies.join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    for (const secret of Object.values(topo.secrets).flat()) {
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(secret.slice(-12));
    }
  });
});
