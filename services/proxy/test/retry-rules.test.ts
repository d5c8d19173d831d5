import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { CLIENT_TOKEN, TAG_HEADER, startRig, startUpstream, upstreamKeys, type Rig, type RigOptions } from './harness';

/**
 * Each retry rule of the relay, through the whole request path: a retry goes to another key, only
 * before anything reached the client, only where it is safe, and never past `retry.maxAttempts`. Every
 * test counts the attempts the provider saw, so that a rule broken either way fails it.
 */

async function withRig(options: RigOptions, run: (rig: Rig) => Promise<void>): Promise<void> {
  const rig = await startRig({ keys: 3, rpm: 100, windowMs: 60_000, ...options });
  try {
    await run(rig);
  } finally {
    await rig.close();
  }
}

interface Send {
  /** Tags the request so that upstreamKeys finds its attempts. */
  tag: string;
  /** Under the proxy: `/v1/...` (openai pool) or `/anthropic/v1/...`. */
  path?: string;
  body?: Record<string, unknown> | string;
}

/** One request through the rig's proxy, its body read. */
async function send(rig: Rig, { tag, path = '/v1/chat/completions', body = {} }: Send) {
  const anthropic = path.startsWith('/anthropic');
  const model = anthropic ? 'claude-3-5-haiku-latest' : 'gpt-4o-mini';
  const res = await fetch(`${rig.proxy.url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${CLIENT_TOKEN}`,
      'content-type': 'application/json',
      ...(anthropic ? { 'anthropic-version': '2023-06-01' } : {}),
      [TAG_HEADER]: tag,
    },
    body:
      typeof body === 'string'
        ? body
        : JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }], ...body }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const distinct = (keys: unknown[]) => new Set(keys).size;
const setModes = (rig: Rig, mode: Parameters<Rig['sim']['setMode']>[1], secrets = rig.secrets) => {
  for (const secret of secrets) rig.sim.setMode(secret, mode);
};

describe('5xx: retried only with retry.on5xx', () => {
  it('on5xx false: exactly one upstream attempt, the client gets the 5xx', () =>
    withRig({}, async (rig) => {
      setModes(rig, 'server_error');
      const answer = await send(rig, { tag: 'a' });
      expect(answer.status).toBe(500);
      expect(JSON.parse(answer.text)).toMatchObject({ error: { type: 'server_error' } });
      expect(upstreamKeys(rig, 'a')).toHaveLength(1);
    }));

  it('on5xx true: retried on each other key up to maxAttempts; the last 5xx reaches the client', () =>
    withRig({ config: { retry: { on5xx: true, maxAttempts: 3 } } }, async (rig) => {
      setModes(rig, 'server_error');
      const answer = await send(rig, { tag: 'a' });
      expect(answer.status).toBe(500);
      const keys = upstreamKeys(rig, 'a');
      expect(keys).toHaveLength(3);
      expect(distinct(keys)).toBe(3);
    }));

  it('on5xx true: a request whose first key answers 5xx is served by a healthy one', () =>
    withRig({ config: { retry: { on5xx: true } } }, async (rig) => {
      setModes(rig, 'server_error', rig.secrets.slice(0, 2));
      // Round robin: of two requests, at least one meets a broken key first.
      for (const tag of ['a', 'b']) expect((await send(rig, { tag })).status).toBe(200);
      expect(rig.sim.totals().serverErrors).toBeGreaterThan(0);
    }));

  it('never the same key twice in one request: 2 keys, maxAttempts 3, every answer a 5xx: 2 attempts', () =>
    withRig({ keys: 2, config: { retry: { on5xx: true, maxAttempts: 3 } } }, async (rig) => {
      setModes(rig, 'server_error');
      const answer = await send(rig, { tag: 'a' });
      expect(answer.status).toBeGreaterThanOrEqual(500);
      const keys = upstreamKeys(rig, 'a');
      expect(keys).toHaveLength(2);
      expect(distinct(keys)).toBe(2);
    }));
});

describe('timeouts: retried only with retry.onTimeout', () => {
  const timeouts = { headersMs: 300 };

  it('onTimeout false: one attempt, the client gets 504', () =>
    withRig({ config: { timeouts } }, async (rig) => {
      setModes(rig, 'hang');
      const answer = await send(rig, { tag: 'a' });
      expect(answer.status).toBe(504);
      expect(answer.headers.get('x-rotor-error')).toBe('upstream_timeout');
      expect(upstreamKeys(rig, 'a')).toHaveLength(1);
    }));

  it('onTimeout true: retried on each other key up to maxAttempts', () =>
    withRig({ config: { timeouts, retry: { onTimeout: true, maxAttempts: 3 } } }, async (rig) => {
      setModes(rig, 'hang');
      const answer = await send(rig, { tag: 'a' });
      expect(answer.status).toBe(504);
      const keys = upstreamKeys(rig, 'a');
      expect(keys).toHaveLength(3);
      expect(distinct(keys)).toBe(3);
    }));
});

describe('connection errors', () => {
  it('connection refused (nothing reached the provider) is retried on another key, whatever on5xx / onTimeout say', async () => {
    // A port that was just free and is closed again: every attempt is refused.
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    await withRig({ pool: { baseUrl: `http://127.0.0.1:${port}/v1` }, config: { retry: { maxAttempts: 3 } } }, async (rig) => {
      const answer = await send(rig, { tag: 'a' });
      expect(answer.status).toBe(502);
      expect(answer.headers.get('x-rotor-error')).toBe('upstream_unreachable');
      // Failures are reported before the retry: each key once.
      const { keys } = await rig.proxy.store.snapshot('openai');
      expect(keys.map((k) => [k.lastClass, k.failures])).toEqual(keys.map(() => ['connection_error', 1]));
    });
  });

  it('a connection reset (the request may have reached the provider) is not retried, even with on5xx and onTimeout', async () => {
    const upstream = await startUpstream((req) => req.socket.destroy());
    try {
      await withRig({ pool: { baseUrl: `${upstream.url}/v1` }, config: { retry: { on5xx: true, onTimeout: true } } }, async (rig) => {
        const answer = await send(rig, { tag: 'a' });
        expect(answer.status).toBe(502);
        expect(upstream.requests).toBe(1);
      });
    } finally {
      await upstream.close();
    }
  });
});

describe('answers that are the key\'s problem: retried on another key', () => {
  it('429: each key once, never the same twice, then the client gets a 429', () =>
    withRig({ config: { retry: { maxAttempts: 5 } } }, async (rig) => {
      for (const secret of rig.secrets) rig.sim.consume(secret, 100);
      const answer = await send(rig, { tag: 'a' });
      expect(answer.status).toBe(429);
      const keys = upstreamKeys(rig, 'a');
      expect(keys).toHaveLength(3);
      expect(distinct(keys)).toBe(3);
    }));

  it('429: a request whose first key is spent is served by one that is not', () =>
    withRig({}, async (rig) => {
      for (const secret of rig.secrets.slice(0, 2)) rig.sim.consume(secret, 100);
      for (const tag of ['a', 'b']) expect((await send(rig, { tag })).status).toBe(200);
      expect(rig.sim.totals().rateLimited).toBeGreaterThan(0);
    }));

  it('quota (OpenAI 429 insufficient_quota): each key once', () =>
    withRig({ config: { retry: { maxAttempts: 3 } } }, async (rig) => {
      setModes(rig, 'quota');
      const answer = await send(rig, { tag: 'a' });
      expect(answer.status).toBe(429);
      expect(distinct(upstreamKeys(rig, 'a'))).toBe(3);
      expect(upstreamKeys(rig, 'a')).toHaveLength(3);
    }));

  it('quota (Anthropic 400 "credit balance is too low"): each key once, though other 400s are not retried', () =>
    withRig({ config: { retry: { maxAttempts: 3 } } }, async (rig) => {
      setModes(rig, 'quota');
      const answer = await send(rig, { tag: 'a', path: '/anthropic/v1/messages' });
      expect(answer.status).toBe(400);
      expect(upstreamKeys(rig, 'a')).toHaveLength(3);
      expect(distinct(upstreamKeys(rig, 'a'))).toBe(3);
    }));

  it('quota: a request whose first key has no credit is served by one that has', () =>
    withRig({}, async (rig) => {
      setModes(rig, 'quota', rig.secrets.slice(0, 2));
      for (const tag of ['a', 'b']) expect((await send(rig, { tag })).status).toBe(200);
      expect(rig.sim.totals().quota).toBeGreaterThan(0);
    }));

  it('invalid_key: each key once; the client gets Rotor\'s error, not the provider\'s body (it quotes the key)', () =>
    withRig({ config: { retry: { maxAttempts: 3 } } }, async (rig) => {
      setModes(rig, 'invalid');
      const answer = await send(rig, { tag: 'a' });
      expect(answer.status).toBe(502);
      expect(answer.headers.get('x-rotor-error')).toBe('upstream_unreachable');
      expect(answer.text).not.toContain('Incorrect API key');
      for (const secret of rig.secrets) expect(answer.text).not.toContain(secret.slice(-4));
      expect(upstreamKeys(rig, 'a')).toHaveLength(3);
      expect(distinct(upstreamKeys(rig, 'a'))).toBe(3);
    }));

  it('invalid_key: a request whose first key is revoked is served by a valid one', () =>
    withRig({}, async (rig) => {
      setModes(rig, 'invalid', rig.secrets.slice(0, 2));
      for (const tag of ['a', 'b']) expect((await send(rig, { tag })).status).toBe(200);
      expect(rig.sim.totals().invalid).toBeGreaterThan(0);
    }));
});

describe('answers about the request, not the key: never retried', () => {
  const everything = { retry: { on5xx: true, onTimeout: true, maxAttempts: 3 } };

  it('permission_denied (403, a valid key may not use this model): one attempt, the client gets the 403', () =>
    withRig({ sim: { forbiddenModels: ['gpt-4-forbidden'] }, config: everything }, async (rig) => {
      const answer = await send(rig, { tag: 'a', body: { model: 'gpt-4-forbidden' } });
      expect(answer.status).toBe(403);
      expect(answer.text).toContain('not allowed to sample from this model');
      expect(upstreamKeys(rig, 'a')).toHaveLength(1);
    }));

  it('400 (a body the provider cannot parse) and 404: one attempt each, passed through', () =>
    withRig({ config: everything }, async (rig) => {
      const bad = await send(rig, { tag: 'a', body: '{not json' });
      expect(bad.status).toBe(400);
      expect(upstreamKeys(rig, 'a')).toHaveLength(1);
      const missing = await send(rig, { tag: 'b', path: '/v1/no-such-endpoint' });
      expect(missing.status).toBe(404);
      expect(upstreamKeys(rig, 'b')).toHaveLength(1);
    }));
});

describe('retry.maxAttempts bounds the attempts', () => {
  it('maxAttempts 2 of 3 keys: two 5xx attempts (on5xx), two 429 attempts', () =>
    withRig({ config: { retry: { on5xx: true, maxAttempts: 2 } } }, async (rig) => {
      setModes(rig, 'server_error');
      expect((await send(rig, { tag: 'a' })).status).toBe(500);
      expect(upstreamKeys(rig, 'a')).toHaveLength(2);
      setModes(rig, 'ok');
      for (const secret of rig.secrets) rig.sim.consume(secret, 100);
      expect((await send(rig, { tag: 'b' })).status).toBe(429);
      expect(upstreamKeys(rig, 'b')).toHaveLength(2);
    }));

  it('maxAttempts 1: a 429 is not retried', () =>
    withRig({ config: { retry: { maxAttempts: 1 } } }, async (rig) => {
      for (const secret of rig.secrets) rig.sim.consume(secret, 100);
      expect((await send(rig, { tag: 'a' })).status).toBe(429);
      expect(upstreamKeys(rig, 'a')).toHaveLength(1);
    }));

  it('a pool that may wait meets at most maxAttempts x 4 upstream 429s that it waits out, then maxAttempts more', async () => {
    // A provider whose 429s name a very short wait, forever: the key cools 20 ms, the request waits for
    // it and tries again; the waits are bounded, then the ordinary attempts, then the client gets the 429.
    const upstream = await startUpstream((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '20' });
      res.end(JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }));
    });
    try {
      const options = { keys: 2, pool: { baseUrl: `${upstream.url}/v1`, maxWaitMs: 10_000 }, config: { retry: { maxAttempts: 2 } } };
      await withRig(options, async (rig) => {
        expect((await send(rig, { tag: 'a' })).status).toBe(429);
        expect(upstream.requests).toBe(2 * 4 + 2);
      });
    } finally {
      await upstream.close();
    }
  }, 15_000);
});

describe('nothing is retried once bytes reached the client', () => {
  it('a stream that stalls after its first event: one attempt, the client gets 200 and an error event', () =>
    withRig({ config: { timeouts: { idleMs: 300 }, retry: { on5xx: true, onTimeout: true } } }, async (rig) => {
      setModes(rig, 'hang_mid_stream');
      const answer = await send(rig, { tag: 'a', body: { stream: true } });
      expect(answer.status).toBe(200);
      expect(answer.text).toContain('event: error');
      await new Promise((resolve) => setTimeout(resolve, 300)); // a retry would come after the cut
      expect(upstreamKeys(rig, 'a')).toHaveLength(1);
    }));

  it('a 5xx whose body is larger than Rotor reads ahead (64 KB) is streamed, not retried, even with on5xx', async () => {
    const big = JSON.stringify({ error: { message: 'x'.repeat(100 * 1024), type: 'server_error' } });
    const upstream = await startUpstream((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(big);
    });
    try {
      await withRig({ pool: { baseUrl: `${upstream.url}/v1` }, config: { retry: { on5xx: true } } }, async (rig) => {
        const answer = await send(rig, { tag: 'a' });
        expect(answer.status).toBe(500);
        expect(answer.text).toBe(big);
        expect(upstream.requests).toBe(1);
      });
    } finally {
      await upstream.close();
    }
  });
});

describe('a retry sees what the attempt before it reported', () => {
  /** Reports reach the store 300 ms late: an acquire that does not wait for them runs ahead of them. */
  const slowReports = (rig: Rig) => {
    const { store } = rig.proxy;
    const report = store.report.bind(store);
    store.report = async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return report(...args);
    };
  };

  it('both keys answer 429: the third acquire finds them cooling, so the client gets 429 with Retry-After', () =>
    withRig({ keys: 2 }, async (rig) => {
      slowReports(rig);
      for (const secret of rig.secrets) rig.sim.consume(secret, 100);
      const answer = await send(rig, { tag: 'a' });
      expect(upstreamKeys(rig, 'a')).toHaveLength(2);
      // Not 503 "no usable key": the keys are known to return, and when.
      expect(answer.status).toBe(429);
      expect(answer.headers.get('x-rotor-error')).toBe('keys_exhausted');
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
    }));

  it('a pool that may wait: the only key answers 429 (spent behind Rotor\'s back), the request waits for it and is served', () =>
    withRig({ keys: 1, rpm: 2, windowMs: 1500, pool: { maxWaitMs: 4000 } }, async (rig) => {
      expect((await send(rig, { tag: 'warm' })).status).toBe(200); // Rotor learns 1 left
      rig.sim.consume(rig.secrets[0]!, 1); // another user of the key spends it
      slowReports(rig);
      const answer = await send(rig, { tag: 'a' });
      expect(answer.status).toBe(200);
      expect(upstreamKeys(rig, 'a')).toHaveLength(2);
    }));
});
