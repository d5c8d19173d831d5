import http from 'node:http';
import { spawnRedis, type RedisProcess } from '@rotor/testkit';
import { CLIENT_TOKEN, startRig, type Rig } from './harness';

describe('readiness', () => {
  let redis: RedisProcess;
  let rig: Rig;
  beforeAll(async () => {
    redis = await spawnRedis();
    rig = await startRig({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await rig.close();
    await redis.kill();
  });

  it('/healthz is up; /readyz is ready while Redis answers and 503 once it is gone', async () => {
    expect((await fetch(`${rig.proxy.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${rig.proxy.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
    await redis.kill();
    const down = await fetch(`${rig.proxy.url}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'unavailable' });
    expect((await fetch(`${rig.proxy.url}/healthz`)).status).toBe(200);
  });
});

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
    expect(rig.proxy.redis.status).toBe('end');
    await rig.sim.close();
  });
});
