import net from 'node:net';
import OpenAI from 'openai';
import {
  CLIENT_TOKEN,
  MB,
  OK_HEADERS,
  figures,
  hgetall,
  openaiClient,
  rssBytes,
  sampleRss,
  sseChunk,
  startTopology,
  startUpstream,
  waitUntil,
  type TestUpstream,
  type Topology,
} from '../src';

/**
 * Cases 8-10, the provider misbehaving, through one `rotor proxy` process:
 *  8. it accepts and never answers, or stalls between SSE chunks: header / idle timeouts fire, the key
 *     is marked for a timeout (not a 429), the client gets a clear 504 (or, once streaming, an error event);
 *  9. it fails after the first streamed byte: no retry, the error is passed on and the stream closed;
 * 10. a slow client reads 1 KB/s from a 10 MB stream: the proxy's memory grows by at most 20 MB.
 */
const HEADERS_MS = 1000;
const IDLE_MS = 1000;
const STREAM_BYTES = 10 * MB;
let broken: TestUpstream;
let big: TestUpstream;
let topo: Topology;
let bigSent = 0;

beforeAll(async () => {
  // Two chunks, then either a provider error event (clean end) or a dead connection.
  broken = await startUpstream((req, res, seen) => {
    res.writeHead(200, { ...OK_HEADERS, 'content-type': 'text/event-stream' });
    res.write(sseChunk('one '));
    res.write(sseChunk('two '));
    setTimeout(() => {
      if (seen.url.includes('/errorevent/')) {
        res.end(`event: error\ndata: ${JSON.stringify({ error: { message: 'overloaded mid-stream', type: 'server_error' } })}\n\n`);
      } else {
        req.socket.destroy();
      }
    }, 100);
  });
  // 10 MB of SSE as fast as the reader allows (writes respect backpressure).
  big = await startUpstream(async (_req, res) => {
    res.writeHead(200, { ...OK_HEADERS, 'content-type': 'text/event-stream' });
    const chunk = sseChunk('x'.repeat(16 * 1024));
    while (bigSent < STREAM_BYTES && !res.destroyed) {
      bigSent += chunk.length;
      if (!res.write(chunk)) await drainedOrClosed(res);
    }
    res.end('data: [DONE]\n\n');
  });
  topo = await startTopology({
    replicas: 1,
    windowMs: 60_000,
    providerRpm: 1000,
    config: { timeouts: { headersMs: HEADERS_MS, idleMs: IDLE_MS }, log: { level: 'warn' } },
    pools: {
      hang: { keys: 1 },
      stall: { keys: 1 },
      broken: { keys: 2, baseUrl: `${broken.url}/broken/v1` },
      errorevent: { keys: 2, baseUrl: `${broken.url}/errorevent/v1` },
      big: { keys: 1, baseUrl: `${big.url}/v1` },
    },
  });
  topo.sim.setMode(topo.secrets.hang![0]!, 'hang');
  topo.sim.setMode(topo.secrets.stall![0]!, 'hang_mid_stream');
}, 60_000);

afterAll(async () => {
  await topo?.stop();
  await broken?.close();
  await big?.close();
});

const keyDetail = async (pool: string) => {
  const [id] = Object.keys(await hgetall(topo.redis.port, `rotor:{${pool}}:states`));
  return hgetall(topo.redis.port, `rotor:{${pool}}:key:${id}`);
};

async function streamText(pool: string): Promise<{ chunks: number; text: string; error?: string }> {
  let text = '';
  let chunks = 0;
  try {
    const stream = await openaiClient(`${topo.url}/${pool}`).chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    for await (const chunk of stream) {
      chunks += 1;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    return { chunks, text };
  } catch (error) {
    return { chunks, text, error: `${error instanceof OpenAI.APIError ? 'APIError: ' : ''}${(error as Error).message}` };
  }
}

describe('8. upstream hangs', () => {
  it('no response headers: 504 after timeouts.headersMs, the key marked for a timeout, not a 429', async () => {
    const started = Date.now();
    const res = await fetch(`${topo.url}/hang/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const elapsed = Date.now() - started;
    const body = (await res.json()) as { error: { message: string; type: string } };
    const key = await keyDetail('hang');
    figures('upstream hangs (no headers)', { status: res.status, elapsedMs: elapsed, headersTimeoutMs: HEADERS_MS, message: body.error.message, key: { state: key.state, last_class: key.last_class, rate_limited: key.rate_limited ?? '0', errors: key.errors } });
    expect(res.status).toBe(504);
    expect(res.headers.get('x-rotor-error')).toBe('upstream_timeout');
    expect(body.error.message).toContain(`no response within ${HEADERS_MS} ms`);
    expect(elapsed).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(elapsed).toBeLessThan(HEADERS_MS + 1000);
    expect(key).toMatchObject({ state: 'active', last_class: 'timeout', errors: '1' });
    expect(key.rate_limited ?? '0').toBe('0');
    expect(topo.sim.aborted.length).toBeGreaterThanOrEqual(1); // the hung upstream request was dropped
  });

  it('a stream that stalls after its first chunk: cut after timeouts.idleMs with an error event the SDK raises', async () => {
    const started = Date.now();
    const result = await streamText('stall');
    const elapsed = Date.now() - started;
    const key = await keyDetail('stall');
    figures('upstream stalls mid-stream', { elapsedMs: elapsed, idleTimeoutMs: IDLE_MS, chunksBeforeStall: result.chunks, clientError: result.error, key: { last_class: key.last_class, rate_limited: key.rate_limited ?? '0' } });
    expect(result.chunks).toBeGreaterThan(0);
    expect(result.error).toMatch(/^APIError/);
    expect(result.error).toContain(`sent nothing for ${IDLE_MS} ms`);
    expect(elapsed).toBeLessThan(IDLE_MS + 1500);
    expect(key).toMatchObject({ state: 'active', last_class: 'timeout' });
    expect(key.rate_limited ?? '0').toBe('0');
  });
});

describe('9. upstream fails after the first streamed byte', () => {
  it('the connection dies: no retry, the client gets what was sent, then an error event, and the stream closes', async () => {
    const before = broken.requests.length;
    const result = await streamText('broken');
    const upstreamRequests = broken.requests.length - before;
    figures('upstream dies mid-stream', { upstreamRequests, textBeforeError: result.text, clientError: result.error });
    expect(upstreamRequests).toBe(1);
    expect(result.text).toBe('one two ');
    expect(result.error).toMatch(/^APIError: .*broke in the middle of the response/);
  });

  it('the provider sends an error event itself: passed on untouched, no retry', async () => {
    const before = broken.requests.length;
    const result = await streamText('errorevent');
    figures('provider error event mid-stream', { upstreamRequests: broken.requests.length - before, textBeforeError: result.text, clientError: result.error });
    expect(broken.requests.length - before).toBe(1);
    expect(result.text).toBe('one two ');
    expect(result.error).toMatch(/^APIError: .*overloaded mid-stream/);
  });
});

describe('10. slow client', () => {
  it('reading 1 KB/s from a 10 MB stream for 10 s: the proxy process grows by <= 20 MB', async () => {
    const pid = topo.proxies[0]!.child.pid!;
    const baseline = rssBytes(pid);
    const sampler = sampleRss(pid, 100);
    const socket = net.connect(topo.proxies[0]!.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'big' }] });
    socket.write(
      `POST /big/chat/completions HTTP/1.1\r\nHost: rotor\r\nAuthorization: Bearer ${CLIENT_TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    socket.pause();
    let read = 0;
    const reader = setInterval(() => {
      const chunk = socket.read(100) as Buffer | null;
      if (chunk) read += chunk.length;
    }, 100);
    await new Promise((r) => setTimeout(r, 10_000));
    clearInterval(reader);
    const { peak, samples } = sampler.stop();
    const closedBefore = big.connections;
    socket.destroy();
    const upstreamClosed = await waitUntil(() => bigSent >= STREAM_BYTES || big.connections === closedBefore, 3000).then(
      () => true,
      () => false,
    );
    figures('slow client (1 KB/s, 10 MB stream, 10 s)', {
      clientReadKB: Math.round(read / 1024),
      upstreamWroteMB: Number((bigSent / MB).toFixed(1)),
      proxyRssMB: { before: Number((baseline / MB).toFixed(1)), peak: Number((peak / MB).toFixed(1)), growth: Number(((peak - baseline) / MB).toFixed(1)) },
      samples: samples.length,
    });
    expect(read).toBeGreaterThan(5 * 1024);
    expect(read).toBeLessThan(20 * 1024);
    // The provider is held back by backpressure; what it wrote sits in kernel socket buffers
    // (several MB on loopback), not in the proxy's memory.
    expect(peak - baseline).toBeLessThanOrEqual(20 * MB);
    expect(upstreamClosed).toBe(true);
  }, 30_000);
});

/** Waits for 'drain' or 'close', then removes both listeners (else one 'close' listener per wait piles up). */
function drainedOrClosed(res: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}
