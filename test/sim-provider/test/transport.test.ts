import http from 'node:http';
import { sleep } from '@rotor/testkit';
import OpenAI from 'openai';
import { startSimProvider, type SimProvider } from '../src';
import { call, chatBody, messagesBody, anthropicHeaders, openaiHeaders, openStream, waitFor } from './helpers';

const KEY = 'sk-transport-key-0001';
const HANG = 'sk-transport-hang-0002';
const STALL = 'sk-transport-stall-003';

describe('streaming, aborts, hangs and the request log', () => {
  let sim: SimProvider;

  beforeAll(async () => {
    sim = await startSimProvider({
      stream: { chunks: 10, chunkDelayMs: 30 },
      keys: { [KEY]: { rpm: 1000 }, [HANG]: { mode: 'hang' }, [STALL]: { mode: 'hang_mid_stream' } },
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('records an abort when the client destroys the socket mid-stream', async () => {
    const { req, first } = await openStream(sim.url, '/v1/chat/completions', openaiHeaders(KEY), chatBody({ stream: true }));
    expect(first).toContain('data: {');
    req.destroy();
    await waitFor(() => sim.aborted.length === 1);
    expect(sim.aborted[0]).toMatchObject({ secret: KEY, path: '/v1/chat/completions' });
    expect(sim.stats(KEY)).toMatchObject({ calls: 1, ok: 1 });
  });

  it('records an abort when the OpenAI SDK cancels a stream it is reading', async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: `${sim.url}/v1`, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'long answer please' }],
      stream: true,
    });
    let seen = 0;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      seen += 1;
      if (seen === 2) break; // leaving the loop aborts the underlying request
    }
    await waitFor(() => sim.aborted.length === 1);
    expect(sim.aborted[0]?.secret).toBe(KEY);
  });

  it('does not record an abort for a stream read to the end', async () => {
    const res = await fetch(`${sim.url}/v1/messages`, {
      method: 'POST',
      headers: { ...anthropicHeaders(KEY), 'content-type': 'application/json' },
      body: JSON.stringify(messagesBody({ stream: true })),
    });
    expect(await res.text()).toContain('event: message_stop');
    await sleep(20);
    expect(sim.aborted).toHaveLength(0);
  });

  it('honours backpressure: a reader that stops reading stops the writer', async () => {
    const big = await startSimProvider({ stream: { chunks: 50_000 }, keys: { [KEY]: {} } });
    try {
      const { res, req } = await openStream(big.url, '/v1/chat/completions', openaiHeaders(KEY), chatBody({ stream: true }));
      // ~12 MB of events cannot fit in the socket buffers: if the simulator ignored backpressure it
      // would have written (and ended) everything by now; instead it is still waiting for 'drain'.
      await sleep(300);
      expect(res.complete).toBe(false);
      req.destroy();
      await waitFor(() => big.aborted.length === 1);
    } finally {
      await big.close();
    }
  });

  it('hang: accepts and never answers, until the client gives up (recorded as aborted)', async () => {
    const started = Date.now();
    const outcome = await new Promise<string>((resolve) => {
      const req = http.request(`${sim.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...openaiHeaders(HANG), 'content-type': 'application/json' },
      });
      req.setTimeout(200, () => {
        req.destroy();
        resolve('timeout');
      });
      req.on('response', () => resolve('response'));
      req.on('error', () => undefined);
      req.end(JSON.stringify(chatBody()));
    });
    expect(outcome).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    await waitFor(() => sim.aborted.length === 1);
    expect(sim.aborted[0]?.secret).toBe(HANG);
    expect(sim.stats(HANG)).toMatchObject({ calls: 1, ok: 0 });
  });

  it('hang_mid_stream: 200, headers and the first event, then silence', async () => {
    const { res, req, first } = await openStream(sim.url, '/v1/messages', anthropicHeaders(STALL), messagesBody({ stream: true }));
    expect(res.statusCode).toBe(200);
    expect(res.headers['anthropic-ratelimit-requests-remaining']).toBe('59');
    expect(first).toBe(first.split('\n\n')[0] + '\n\n'); // exactly one event
    expect(first).toContain('event: message_start');
    let more = '';
    res.on('data', (chunk: string) => (more += chunk));
    res.resume();
    await sleep(200);
    expect(more).toBe('');
    req.destroy();
    await waitFor(() => sim.aborted.length === 1);
    expect(sim.stats(STALL)).toMatchObject({ calls: 1, ok: 1 });
  });

  it('hang_mid_stream without stream: half of a JSON body whose content-length promises more', async () => {
    const outcome = await new Promise<{ length: number; got: number }>((resolve, reject) => {
      const req = http.request(`${sim.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...openaiHeaders(STALL), 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        let got = 0;
        res.on('data', (chunk: Buffer) => (got += chunk.length));
        res.on('error', () => undefined);
        setTimeout(() => {
          resolve({ length: Number(res.headers['content-length']), got });
          req.destroy();
        }, 200);
      });
      req.on('error', (err) => (err.message.includes('aborted') || err.message.includes('socket hang up') ? undefined : reject(err)));
      req.end(JSON.stringify(chatBody()));
    });
    expect(outcome.got).toBeGreaterThan(0);
    expect(outcome.got).toBeLessThan(outcome.length);
  });

  it('latencyMs delays the headers, and an abort during the wait is recorded', async () => {
    const slow = await startSimProvider({ latencyMs: 250, keys: { [KEY]: {} } });
    try {
      const started = Date.now();
      const res = await call(`${slow.url}/v1/chat/completions`, { headers: openaiHeaders(KEY), body: chatBody() });
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(240);

      const controller = new AbortController();
      const pending = fetch(`${slow.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...openaiHeaders(KEY), 'content-type': 'application/json' },
        body: JSON.stringify(chatBody()),
        signal: controller.signal,
      }).catch((err: unknown) => err);
      await sleep(50);
      controller.abort();
      await pending;
      await waitFor(() => slow.aborted.length === 1);
      expect(slow.aborted[0]?.secret).toBe(KEY);
    } finally {
      await slow.close();
    }
  });

  it('latencyJitterMs spreads the delay over [latencyMs, latencyMs + jitter] per answer', async () => {
    const jittery = await startSimProvider({ latencyMs: 20, latencyJitterMs: 200, keys: { [KEY]: {} } });
    try {
      const took = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const started = Date.now();
          const res = await call(`${jittery.url}/v1/chat/completions`, { headers: openaiHeaders(KEY), body: chatBody() });
          expect(res.status).toBe(200);
          return Date.now() - started;
        }),
      );
      expect(Math.min(...took)).toBeGreaterThanOrEqual(19);
      expect(Math.max(...took)).toBeLessThan(20 + 200 + 150);
      // Twelve draws from 200 ms of jitter: not all within 40 ms of each other (p < 1e-7 by chance).
      expect(Math.max(...took) - Math.min(...took)).toBeGreaterThan(40);
    } finally {
      await jittery.close();
    }
  });

  it('requestLog shows exactly what reached the provider: secret, method, path, headers', async () => {
    await call(`${sim.url}/v1/chat/completions?trace=1`, {
      headers: { ...openaiHeaders(KEY), 'x-client-header': 'kept', 'x-rotor-token': 'leaked?' },
      body: chatBody(),
    });
    await call(`${sim.url}/v1/models`, { headers: anthropicHeaders(KEY) });
    await call(`${sim.url}/v1/models`);
    expect(sim.requestLog).toHaveLength(3);
    const [chat, models, anonymous] = sim.requestLog;
    expect(chat).toMatchObject({ secret: KEY, method: 'POST', path: '/v1/chat/completions' });
    expect(chat?.headers['authorization']).toBe(`Bearer ${KEY}`);
    expect(chat?.headers['x-rotor-token']).toBe('leaked?');
    expect(chat?.at).toBeLessThanOrEqual(Date.now());
    expect(models).toMatchObject({ secret: KEY, method: 'GET', path: '/v1/models' });
    expect(models?.headers['x-api-key']).toBe(KEY);
    expect(anonymous?.secret).toBeUndefined();
    expect(sim.totals()).toMatchObject({ unauthenticated: 1, probes: 1 });
  });

  it('close() returns promptly even with hung requests open', async () => {
    const other = await startSimProvider({ keys: { [HANG]: { mode: 'hang' } } });
    const hung = fetch(`${other.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...openaiHeaders(HANG), 'content-type': 'application/json' },
      body: JSON.stringify(chatBody()),
    }).catch((err: unknown) => err);
    await waitFor(() => other.stats(HANG).calls === 1);
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(String(await hung)).toContain('fetch failed'); // the socket was dropped, no response
  });
});
