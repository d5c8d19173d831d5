import { CLIENT_TOKEN, TAG_HEADER, captureLogs, startRig, type Rig } from './harness';

/**
 * The pool key is the only credential the provider sees (the client's own `authorization` /
 * `x-api-key` never reach it, whichever header the pool's provider reads), and no log line names a
 * key secret, whatever happens to the keys.
 */

const lastUpstream = (rig: Rig, tag: string) => {
  const entry = rig.sim.requestLog.filter((e) => e.headers[TAG_HEADER] === tag).at(-1);
  if (!entry) throw new Error(`no upstream request tagged ${tag}`);
  return entry;
};

describe('client credentials never reach the provider', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ keys: 2, rpm: 100, windowMs: 60_000 });
  });
  afterAll(() => rig.close());

  // Both headers a client may authenticate with, at once: the pool's provider reads one of them.
  const clientCredentials = { authorization: `Bearer ${CLIENT_TOKEN}`, 'x-api-key': CLIENT_TOKEN };

  it('anthropic pool: x-api-key is the pool key, no authorization arrives', async () => {
    const res = await fetch(`${rig.proxy.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { ...clientCredentials, 'anthropic-version': '2023-06-01', 'content-type': 'application/json', [TAG_HEADER]: 'a' },
      body: JSON.stringify({ model: 'claude-3-5-haiku-latest', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    const { headers, secret } = lastUpstream(rig, 'a');
    expect(rig.secrets).toContain(secret);
    expect(headers['x-api-key']).toBe(secret);
    expect(headers.authorization).toBeUndefined();
    expect(JSON.stringify(headers)).not.toContain(CLIENT_TOKEN);
  });

  it('openai pool: authorization is the pool key, no x-api-key arrives', async () => {
    const res = await fetch(`${rig.proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...clientCredentials, 'content-type': 'application/json', [TAG_HEADER]: 'b' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    const { headers, secret } = lastUpstream(rig, 'b');
    expect(rig.secrets).toContain(secret);
    expect(headers.authorization).toBe(`Bearer ${secret}`);
    expect(headers['x-api-key']).toBeUndefined();
    expect(JSON.stringify(headers)).not.toContain(CLIENT_TOKEN);
  });
});

describe('logs', () => {
  it('no line names a key secret, while keys are refused, out of credit, failing and taken out of rotation', async () => {
    const { logger, lines } = captureLogs('debug');
    const rig = await startRig({
      keys: 4,
      rpm: 100,
      windowMs: 60_000,
      logger,
      config: { retry: { on5xx: true, maxAttempts: 4 }, circuitBreaker: { failures: 1 }, clientLimits: { keysOutPerMinute: 0 } },
    });
    try {
      const [invalid, quota, failing] = rig.secrets;
      rig.sim.setMode(invalid!, 'invalid');
      rig.sim.setMode(quota!, 'quota');
      rig.sim.setMode(failing!, 'server_error');
      // A query string may carry anything (here a pool key itself): the request line logged has none.
      for (const path of ['/v1/chat/completions', '/anthropic/v1/messages']) {
        for (let i = 0; i < 2; i++) {
          await fetch(`${rig.proxy.url}${path}?key=${encodeURIComponent(rig.secrets[3]!)}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
          }).then((res) => res.arrayBuffer());
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 200)); // some reports are off the response path
    } finally {
      await rig.close();
    }
    const warnings = lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 40);
    // The invalid, quota and failing keys of both pools were taken out of rotation, with a warning each.
    expect(warnings.filter((line) => line.includes('key taken out of rotation'))).toHaveLength(6);
    for (const secret of rig.secrets) {
      // The whole secret, and its random part (a key quoted in part, as providers do, is a leak too).
      const random = secret.replace(/^sk-test-key-/, '').slice(0, 8);
      for (const line of lines) {
        expect(line).not.toContain(secret);
        expect(line).not.toContain(random);
      }
    }
  });
});
