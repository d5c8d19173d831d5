import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import express from 'express';
import { createLogger } from '../src/logger';
import { startProxy } from '../src/server';
import { Upstream } from '../src/upstream';
import { CLIENT_TOKEN, startRig, type Rig } from './harness';

const ADMIN_TOKEN = 'admin-token-for-tests';

// Every request Express serves goes through app.handle (it sets req.app, res.locals and Express's
// prototypes). Spied on before any app is built: an app copies the method when it is created.
// (Not in @types/express: it is Express's own entry, not an API.)
const application = express.application as unknown as { handle(req: IncomingMessage, res: ServerResponse): void };
const expressHandle = jest.spyOn(application, 'handle');

/** What the relay handed to the upstream for each attempt: the request and response it was given. */
const attempts: { req: IncomingMessage; res: ServerResponse }[] = [];
const attempt = Upstream.prototype.attempt;
jest.spyOn(Upstream.prototype, 'attempt').mockImplementation(function (this: Upstream, req, res, ...rest) {
  attempts.push({ req, res });
  return attempt.call(this, req, res, ...rest);
});

const auth = (token = CLIENT_TOKEN) => ({ authorization: `Bearer ${token}` });
const chatBody = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

async function chat(rig: Rig, path = '/v1/chat/completions', headers = auth()): Promise<Response> {
  return fetch(`${rig.proxy.url}${path}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: chatBody,
  });
}

/** How many requests Express served while `run` ran, and what `run` returned. */
async function throughExpress<T>(run: () => Promise<T>): Promise<{ calls: number; result: T }> {
  const before = expressHandle.mock.calls.length;
  const result = await run();
  return { calls: expressHandle.mock.calls.length - before, result };
}

/** A GET whose path is sent as written (fetch would resolve its dot segments first): status and JSON body. */
function rawGet(rig: Rig, path: string): Promise<[number, unknown]> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: rig.proxy.port, path, headers: auth() }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve([res.statusCode ?? 0, JSON.parse(body)]));
      })
      .on('error', reject);
  });
}

async function metric(rig: Rig, name: string, labels: Record<string, string> = {}): Promise<number> {
  const values = (await rig.proxy.metrics.registry.getSingleMetric(name)!.get()).values;
  const entries = Object.entries(labels);
  const match = values.filter((v) => entries.every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want));
  return match.reduce((sum, v) => sum + v.value, 0);
}

describe('two planes in one process', () => {
  let rig: Rig;
  let catchAll: Rig;
  beforeAll(async () => {
    rig = await startRig({ keys: 2, rpm: 100, config: { adminToken: ADMIN_TOKEN } });
    // A catch-all route: every path is a pool's, except the control plane's own.
    catchAll = await startRig({
      keys: 2,
      rpm: 100,
      config: { adminToken: ADMIN_TOKEN, routes: { '/': 'openai', '/anthropic': 'anthropic' } },
    });
  });
  afterAll(async () => {
    await rig?.close();
    await catchAll?.close();
  });

  it('a proxied request never enters Express: the relay gets the bare node:http request and response', async () => {
    attempts.length = 0;
    const { calls, result } = await throughExpress(() => chat(rig));
    expect(result.status).toBe(200);
    await result.arrayBuffer();
    expect(calls).toBe(0);
    expect(attempts).toHaveLength(1);
    const { req, res } = attempts[0]!;
    // What Express's app.handle would have set on them.
    expect(Object.getPrototypeOf(req)).toBe(http.IncomingMessage.prototype);
    expect(Object.getPrototypeOf(res)).toBe(http.ServerResponse.prototype);
    expect(['app' in req, 'res' in req, 'locals' in res]).toEqual([false, false, false]);
  });

  it('the data plane answers its own refusals (401, 413, 400 bad_path) in the provider\'s shape, still without Express', async () => {
    const failures = await metric(rig, 'rotor_client_auth_failures_total');
    const { calls, result } = await throughExpress(async () => {
      const unauthorized = await chat(rig, '/anthropic/v1/messages', auth('nope'));
      const tooLarge = await fetch(`${rig.proxy.url}/v1/chat/completions`, {
        method: 'POST',
        headers: auth(),
        body: 'x'.repeat(rig.config.maxBodyBytes + 1),
      });
      const leaves = await rawGet(rig, '/v1/%2e%2e/%2e%2e/etc');
      return [
        [unauthorized.status, await unauthorized.json()],
        [tooLarge.status, await tooLarge.json()],
        leaves,
      ];
    });
    expect(result).toEqual([
      [401, expect.objectContaining({ type: 'error', error: expect.objectContaining({ type: 'authentication_error' }) })],
      [413, { error: expect.objectContaining({ message: `request body over the limit of ${rig.config.maxBodyBytes} bytes` }) }],
      [400, { error: expect.objectContaining({ message: 'the path leaves the route /v1 through dot segments' }) }],
    ]);
    expect(calls).toBe(0);
    expect(await metric(rig, 'rotor_client_auth_failures_total')).toBe(failures + 1);
  });

  it('a body cut short by the client: no answer is written, the response is destroyed, nothing goes upstream', async () => {
    const responses: ServerResponse[] = [];
    const capture = (_req: IncomingMessage, res: ServerResponse) => responses.push(res);
    rig.proxy.server.on('request', capture);
    try {
      const calls = rig.sim.totals().calls;
      const socket = net.connect(rig.proxy.port, '127.0.0.1');
      socket.write(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${CLIENT_TOKEN}\r\n` +
          'Content-Length: 1000\r\n\r\n' + chatBody.slice(0, 10),
      );
      while (responses.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      socket.destroy();
      const res = responses[0]!;
      if (!res.destroyed) await once(res, 'close');
      expect([res.headersSent, res.destroyed]).toEqual([false, true]);
      expect(rig.sim.totals().calls).toBe(calls);
    } finally {
      rig.proxy.server.off('request', capture);
    }
  });

  it('records the request metrics of proxied requests', async () => {
    const labels = { pool: 'openai', route: '/v1', status: '2xx' };
    const before = await metric(rig, 'rotor_requests_total', labels);
    await (await chat(rig)).arrayBuffer();
    expect(await metric(rig, 'rotor_requests_total', labels)).toBe(before + 1);
  });

  it('/admin, /healthz, /readyz, /metrics and an unknown route\'s 404 go through Express, one call each', async () => {
    for (const target of [rig, catchAll]) {
      const answers: [string, number][] = [];
      for (const path of ['/admin/pools', '/healthz', '/readyz', '/metrics', '/HEALTHZ/', '/Admin/pools/openai']) {
        const { calls, result } = await throughExpress(() => fetch(`${target.proxy.url}${path}`, { headers: auth(ADMIN_TOKEN) }));
        await result.arrayBuffer();
        answers.push([path, calls * 1000 + result.status]);
      }
      // Express's calls × 1000 + the status: 1200 is "one call into Express, answered 200".
      expect(answers).toEqual([
        ['/admin/pools', 1200],
        ['/healthz', 1200],
        ['/readyz', 1200],
        ['/metrics', 1200],
        ['/HEALTHZ/', 1200],
        ['/Admin/pools/openai', 1200],
      ]);
    }
    const { calls, result } = await throughExpress(() => fetch(`${rig.proxy.url}/nowhere`, { headers: auth() }));
    expect([calls, result.status]).toEqual([1, 404]);
    expect(await result.json()).toEqual({ error: expect.objectContaining({ message: 'no route for GET /nowhere' }) });
  });

  it('under a catch-all route, every other path is proxied without Express', async () => {
    attempts.length = 0;
    const { calls, result } = await throughExpress(() => chat(catchAll, '/chat/completions'));
    expect(result.status).toBe(200);
    await result.arrayBuffer();
    expect(calls).toBe(0);
    expect(attempts).toHaveLength(1);
  });

  it('an unexpected error: a 500 in the pool provider\'s shape and a log line', async () => {
    const logger = createLogger('silent');
    const logged = jest.spyOn(logger, 'error');
    const replica = await startProxy(rig.config, { port: 0, logger });
    try {
      jest.spyOn(replica.store, 'acquire').mockRejectedValueOnce(new Error('not a RotorError'));
      const res = await fetch(`${replica.url}/anthropic/v1/messages`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: chatBody,
      });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({
        type: 'error',
        error: expect.objectContaining({ message: 'internal error in Rotor' }),
      });
      expect(logged).toHaveBeenCalledWith({ err: 'not a RotorError' }, 'request failed');
    } finally {
      await replica.close();
    }
  });
});
