import { sleep } from '@rotor/testkit';
import { startSimProvider, type SimProvider } from '../src';
import { anthropicHeaders, call, chatBody, messagesBody, openaiHeaders, parseDuration, RFC3339_MS } from './helpers';

const A = 'sk-window-key-aaaa';
const B = 'sk-window-key-bbbb';

describe('per-key fixed windows', () => {
  let sim: SimProvider;
  const chat = (key: string) => call(`${sim.url}/v1/chat/completions`, { headers: openaiHeaders(key), body: chatBody() });

  beforeAll(async () => {
    sim = await startSimProvider({ windowMs: 500, keys: { [A]: { rpm: 3 }, [B]: { rpm: 3, tpm: 1000 } } });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('opens a window at the first request and refills it completely after windowMs', async () => {
    expect(sim.windowEndsAt(A)).toBeLessThanOrEqual(Date.now()); // no window yet
    const before = Date.now();
    for (let i = 0; i < 3; i += 1) expect((await chat(A)).status).toBe(200);
    const endsAt = sim.windowEndsAt(A);
    expect(endsAt).toBeGreaterThanOrEqual(before + 500);
    expect(endsAt).toBeLessThanOrEqual(Date.now() + 500);
    const refused = await chat(A);
    expect(refused.status).toBe(429);
    // The other key has its own window.
    expect((await chat(B)).status).toBe(200);

    await sleep(endsAt - Date.now() + 20);
    const fresh = await chat(A);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('x-ratelimit-remaining-requests')).toBe('2');
    expect(sim.windowEndsAt(A)).toBeGreaterThan(endsAt);
    expect(sim.stats(A)).toMatchObject({ calls: 5, ok: 4, rateLimited: 1 });
  });

  it('reports remaining 0 on the request that spends the last slot, before any 429', async () => {
    await chat(A);
    await chat(A);
    const last = await chat(A);
    expect(last.status).toBe(200);
    expect(last.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(parseDuration(last.headers.get('x-ratelimit-reset-requests') ?? '')).toBeLessThanOrEqual(500);
  });

  it('consume() pre-spends the window as if another client used the key', async () => {
    sim.consume(A, 2);
    expect(sim.windowEndsAt(A)).toBeGreaterThan(Date.now());
    const res = await chat(A);
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const refused = await chat(A);
    expect(refused.status).toBe(429);
    expect(JSON.stringify(refused.json)).toContain('Limit 3, Used 3, Requested 1');
    // Over-consuming never shows a negative remainder.
    sim.consume(B, 10);
    const overB = await chat(B);
    expect(overB.status).toBe(429);
    expect(overB.headers.get('x-ratelimit-remaining-requests')).toBe('0');
  });

  it('GET /v1/models is free: it neither opens a window nor spends one, but shows the state', async () => {
    const probe = await call(`${sim.url}/v1/models`, { headers: openaiHeaders(A) });
    expect(probe.status).toBe(200);
    expect(probe.headers.get('x-ratelimit-remaining-requests')).toBe('3');
    expect(sim.windowEndsAt(A)).toBeLessThanOrEqual(Date.now());
    sim.consume(A, 3);
    const exhausted = await call(`${sim.url}/v1/models`, { headers: openaiHeaders(A) });
    expect(exhausted.status).toBe(200); // a rate-limited key still lists models
    expect(exhausted.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(sim.stats(A)).toMatchObject({ calls: 2, probes: 2, ok: 0, rateLimited: 0 });
  });

  it('setLimits() applies to the open window at once', async () => {
    await chat(A);
    sim.setLimits(A, { rpm: 1 });
    expect((await chat(A)).status).toBe(429);
    sim.setLimits(A, { rpm: 10, tpm: 5000 });
    const res = await chat(A);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('10');
    expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('5000');
    sim.setLimits(A, { rpm: 3 });
  });

  it('Anthropic 429s carry retry-after and resets that agree with windowEndsAt', async () => {
    sim.consume(B, 3);
    const res = await call(`${sim.url}/v1/messages`, { headers: anthropicHeaders(B), body: messagesBody() });
    expect(res.status).toBe(429);
    const reset = res.headers.get('anthropic-ratelimit-requests-reset') ?? '';
    expect(reset).toMatch(RFC3339_MS);
    expect(Date.parse(reset)).toBe(sim.windowEndsAt(B));
    expect(res.headers.get('anthropic-ratelimit-tokens-reset')).toBe(reset);
    expect(res.headers.get('anthropic-ratelimit-tokens-limit')).toBe('1000');
    expect(res.headers.get('retry-after')).toBe('1'); // 500 ms window, rounded up to whole seconds
  });

  it('reset() zeroes counters and windows and empties the logs', async () => {
    await chat(A);
    await call(`${sim.url}/v1/chat/completions`, { body: chatBody() });
    expect(sim.totals()).toMatchObject({ calls: 1, ok: 1, unauthenticated: 1 });
    sim.reset();
    expect(sim.totals()).toEqual({
      calls: 0,
      ok: 0,
      rateLimited: 0,
      quota: 0,
      invalid: 0,
      serverErrors: 0,
      probes: 0,
      unauthenticated: 0,
    });
    expect(sim.windowEndsAt(A)).toBeLessThanOrEqual(Date.now());
    expect(sim.requestLog).toHaveLength(0);
  });
});

describe('key acceptance and defaults', () => {
  it('acceptAnyKey takes any non-empty key with defaultLimits; otherwise unlisted keys get 401', async () => {
    const demo = await startSimProvider({ acceptAnyKey: true, defaultLimits: { rpm: 7, tpm: 700 } });
    const strict = await startSimProvider({ keys: { 'sk-listed-key-0001': {} } });
    try {
      const res = await call(`${demo.url}/v1/chat/completions`, { headers: openaiHeaders('anything-goes'), body: chatBody() });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-limit-requests')).toBe('7');
      expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('700');
      expect(demo.stats('anything-goes')).toMatchObject({ calls: 1, ok: 1 });

      const listed = await call(`${strict.url}/v1/chat/completions`, { headers: openaiHeaders('sk-listed-key-0001'), body: chatBody() });
      expect(listed.status).toBe(200);
      expect(listed.headers.get('x-ratelimit-limit-requests')).toBe('60'); // built-in default
      const unlisted = await call(`${strict.url}/v1/chat/completions`, { headers: openaiHeaders('sk-unlisted-0002'), body: chatBody() });
      expect(unlisted.status).toBe(401);
      expect(strict.totals().unauthenticated).toBe(1);
      // setMode registers a key at runtime.
      strict.setMode('sk-unlisted-0002', 'ok');
      const added = await call(`${strict.url}/v1/chat/completions`, { headers: openaiHeaders('sk-unlisted-0002'), body: chatBody() });
      expect(added.status).toBe(200);
    } finally {
      await demo.close();
      await strict.close();
    }
  });
});
