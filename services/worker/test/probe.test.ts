import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '@rotor/core';
import { startSimProvider, type SimProvider } from '@rotor/sim-provider';
import { freePort } from '@rotor/testkit';
import { sendProbe } from '../src/probe-http';
import { buildProbeRequest, probeKindFor } from '../src/probe-request';

/** A bare HTTP server that records what it was sent and answers with `reply`. */
async function recorder(reply: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const seen: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      reply(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const poolFor = (provider: string, baseUrl: string, extra: Record<string, unknown> = {}) =>
  parseConfig(
    { pools: { p: { provider, baseUrl, keys: 'sk-probe-secret', ...extra } }, routes: { '/': 'p' } },
    {},
  ).pools.p!;

describe('what a probe sends', () => {
  it('matches the reason: only an invalid key gets the free listing', () => {
    expect(probeKindFor('invalid_key')).toBe('models');
    for (const reason of ['quota', 'circuit_open', 'backoff_ceiling'])
      expect(probeKindFor(reason)).toBe('request');
  });

  it("quota / suspended: the 1-token request on the pool's probeModel, key in the provider's header", async () => {
    const server = await recorder((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
    );
    try {
      const pool = poolFor('openai', `${server.url}/v1`, { probeModel: 'cheap-model' });
      const response = await sendProbe(buildProbeRequest(pool, pool.keys[0]!.secret, 'request'), 2000);
      expect(response).toMatchObject({ status: 200 });
      expect(server.seen).toHaveLength(1);
      const [seen] = server.seen;
      expect(seen).toMatchObject({ method: 'POST', url: '/v1/chat/completions' });
      expect(seen!.headers.authorization).toBe('Bearer sk-probe-secret');
      expect(JSON.parse(seen!.body)).toEqual({
        model: 'cheap-model',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 1,
      });
    } finally {
      await server.close();
    }
  });

  it('invalid: GET models; Anthropic with x-api-key and anthropic-version (the simulated provider checks both)', async () => {
    const sim: SimProvider = await startSimProvider({ keys: { 'sk-probe-secret': {} } });
    try {
      const anthropic = poolFor('anthropic', sim.url);
      const a = await sendProbe(buildProbeRequest(anthropic, 'sk-probe-secret', 'models'), 2000);
      expect(a).toMatchObject({ status: 200 });
      const openai = poolFor('openai', `${sim.url}/v1`);
      expect(await sendProbe(buildProbeRequest(openai, 'sk-probe-secret', 'models'), 2000)).toMatchObject({
        status: 200,
      });
      expect(await sendProbe(buildProbeRequest(openai, 'sk-revoked', 'models'), 2000)).toMatchObject({
        status: 401,
      });
      expect(sim.stats('sk-probe-secret')).toMatchObject({ probes: 2, ok: 0 });
      expect(sim.requestLog[0]!.headers).toMatchObject({
        'x-api-key': 'sk-probe-secret',
        'anthropic-version': '2023-06-01',
      });
      expect(sim.requestLog[0]!.path).toBe('/v1/models');
    } finally {
      await sim.close();
    }
  });

  it('never follows a redirect: the key goes to the configured host only', async () => {
    const elsewhere = await recorder((_req, res) => res.writeHead(200).end('{}'));
    const upstream = await recorder((_req, res) =>
      res.writeHead(302, { location: `${elsewhere.url}/v1/models` }).end(),
    );
    try {
      const pool = poolFor('openai', `${upstream.url}/v1`);
      expect(await sendProbe(buildProbeRequest(pool, 'sk-probe-secret', 'models'), 2000)).toMatchObject({
        status: 302,
      });
      expect(elsewhere.seen).toHaveLength(0);
    } finally {
      await Promise.all([elsewhere.close(), upstream.close()]);
    }
  });

  it('a provider that never answers is a timeout; nothing listening is a connection error', async () => {
    const hung = await recorder(() => undefined);
    try {
      const started = Date.now();
      const pool = poolFor('openai', `${hung.url}/v1`);
      expect(await sendProbe(buildProbeRequest(pool, 'sk-probe-secret', 'request'), 300)).toEqual({
        failure: 'timeout',
        code: 'ETIMEDOUT',
      });
      expect(Date.now() - started).toBeLessThan(1500);
    } finally {
      await hung.close();
    }
    const closed = poolFor('openai', `http://127.0.0.1:${await freePort()}/v1`);
    expect(await sendProbe(buildProbeRequest(closed, 'sk-probe-secret', 'request'), 2000)).toMatchObject({
      failure: 'connection_error',
      code: 'ECONNREFUSED',
    });
  });
});
