import http from 'node:http';
import { spawnRedis, type RedisProcess } from '@rotor/testkit';
import type { Readiness } from '../src/app';
import { CLIENT_TOKEN, startRig, type Rig } from './harness';

describe('readiness', () => {
  let redis: RedisProcess;
  afterEach(async () => {
    await redis?.kill();
  });

  const chat = (rig: Rig) =>
    fetch(`${rig.proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('fail-open (default): /readyz ready, then 200 degraded while Redis is gone (requests still served), then ready again', async () => {
    redis = await spawnRedis();
    const rig = await startRig({
      redisUrl: redis.url,
      config: { adminToken: 'admin-token', redis: { url: redis.url, fallback: { recoverEveryMs: 100 } } },
    });
    const admin = { authorization: 'Bearer admin-token' };
    try {
      expect((await fetch(`${rig.proxy.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${rig.proxy.url}/readyz`);
      expect([ready.status, ((await ready.json()) as Readiness).status]).toEqual([200, 'ready']);
      await redis.kill();
      const down = await fetch(`${rig.proxy.url}/readyz`);
      const body = (await down.json()) as Readiness;
      expect([down.status, body.status]).toEqual([200, 'degraded']);
      expect(body.detail).toContain("in-memory rotation (fail-open)");
      expect((await chat(rig)).status).toBe(200);
      expect(rig.proxy.storeMode()).toBe('fallback');
      // The admin API shows this replica's view, but refuses key actions that could not reach the others.
      const view = await fetch(`${rig.proxy.url}/admin/pools/openai`, { headers: admin });
      const keyId = ((await view.json()) as { keys: { id: string }[] }).keys[0]!.id;
      expect(view.status).toBe(200);
      const action = await fetch(`${rig.proxy.url}/admin/pools/openai/keys/${keyId}/disable`, { method: 'POST', headers: admin });
      expect(action.status).toBe(503);
      expect(await rig.proxy.metrics.registry.getSingleMetricAsString('rotor_fallback_mode')).toMatch(/rotor_fallback_mode 1/);
      redis = await redis.restart();
      await waitUntil(() => rig.proxy.storeMode() === 'shared', 5000);
      expect(((await (await fetch(`${rig.proxy.url}/readyz`)).json()) as Readiness).status).toBe('ready');
      expect((await chat(rig)).status).toBe(200);
    } finally {
      await rig.close();
    }
  });

  it('fail-closed: /readyz 503 unavailable and requests get 503 redis_unavailable while Redis is gone', async () => {
    redis = await spawnRedis();
    const rig = await startRig({ redisUrl: redis.url, config: { redis: { url: redis.url, failurePolicy: 'fail-closed' } } });
    try {
      await redis.kill();
      const down = await fetch(`${rig.proxy.url}/readyz`);
      expect([down.status, ((await down.json()) as Readiness).status]).toEqual([503, 'unavailable']);
      const refused = await chat(rig);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('x-rotor-error')).toBe('redis_unavailable');
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('fail-closed');
      expect(rig.sim.totals().calls).toBe(0);
    } finally {
      await rig.close();
    }
  });
});

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('graceful shutdown', () => {
  it('stops accepting, lets an in-flight stream finish, then closes', async () => {
    const rig = await startRig({ sim: { stream: { chunks: 5, chunkDelayMs: 100 } } });
    const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const streamed = new Promise<string>((resolve, reject) => {
      const req = http.request(`${rig.proxy.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve(text));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
    await new Promise((r) => setTimeout(r, 150)); // the stream is under way
    const closing = rig.proxy.close();
    await new Promise((r) => setTimeout(r, 20));
    await expect(fetch(`${rig.proxy.url}/healthz`)).rejects.toThrow();
    const text = await streamed;
    expect(text).toContain('data: [DONE]');
    const started = Date.now();
    await closing;
    expect(Date.now() - started).toBeLessThan(2000); // no wait for keep-alive timeouts
    await new Promise((r) => setTimeout(r, 50));
    expect(rig.proxy.redis!.status).toBe('end');
    await rig.sim.close();
  });
});
