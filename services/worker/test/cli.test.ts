import fs from 'node:fs';
import { Queue } from 'bullmq';
import { createRedisClient } from '@rotor/redis-store';
import { freePort } from '@rotor/testkit';
import { PROBE_QUEUE, probeJobId, queuePrefix } from '../src/queue';
import {
  CLIENT_TOKEN,
  idOf,
  keyState,
  killAllWorkers,
  metricValue,
  scrape,
  setup,
  spawnRotor,
  waitFor,
  waitForOutput,
  type Setup,
} from './helpers';

afterAll(killAllWorkers);

const chat = (port: number) =>
  fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
const LISTENING = /rotor proxy listening on http:\/\/[^:]+:(\d+)/;

describe('the rotor command', () => {
  let s: Setup;
  afterEach(() => s?.close());

  it('rotor proxy schedules the probe of a key it parks; rotor worker, in another process, runs it', async () => {
    s = await setup({ keys: 2, worker: { reconcileEveryMs: 600_000, probe: { quotaAfterMs: 1500 } } });
    const [broke] = s.secrets as [string];
    const id = idOf(s.config, broke);
    s.sim.setMode(broke, 'quota');
    const proxy = spawnRotor(s.raw, 'cli-proxy');
    const worker = spawnRotor(s.raw, 'cli-worker');
    const redis = createRedisClient({ url: s.config.redis.url, maxRetriesPerRequest: null });
    const queue = new Queue(PROBE_QUEUE, { connection: redis, prefix: queuePrefix(s.config.redis.prefix) });
    try {
      const port = Number(await waitForOutput(proxy, LISTENING));
      const metricsPort = Number(
        await waitForOutput(worker, /rotor worker: metrics on http:\/\/[^:]+:(\d+)/),
      );
      await waitFor(
        'the startup sweep',
        async () => metricValue(await scrape(metricsPort), 'rotor_reconcile_last_run_timestamp_seconds') > 0,
        5000,
        200,
      );

      for (let i = 0; i < 2; i++) expect((await chat(port)).status).toBe(200);
      // Enqueued by the proxy as it parked the key (not by the worker's sweep: next one in 10 minutes).
      await waitFor(
        'the probe the proxy scheduled',
        async () => (await queue.getJobState(probeJobId('openai', id))) === 'delayed',
        2000,
      );
      expect(await keyState(s.store, id)).toMatchObject({ state: 'suspended', reason: 'quota' });
      s.sim.setMode(broke, 'ok');
      await waitFor(
        'the worker to reinstate it',
        async () => (await keyState(s.store, id)).state === 'active',
        5000,
      );

      await Promise.all([proxy.kill('SIGTERM'), worker.kill('SIGTERM')]);
      expect(await proxy.exited).toBe(0);
      expect(await worker.exited).toBe(0);
      expect(worker.output()).toContain('SIGTERM: shutting down');
      for (const secret of s.secrets) expect(proxy.output() + worker.output()).not.toContain(secret);
    } finally {
      await queue.close();
      await redis.quit();
    }
  });

  it('rotor start runs the proxy and a worker in one process', async () => {
    s = await setup({ keys: 2 });
    const [broke] = s.secrets as [string];
    const id = idOf(s.config, broke);
    s.sim.setMode(broke, 'quota');
    const rotor = spawnRotor(s.raw, 'cli-start');
    const port = Number(await waitForOutput(rotor, LISTENING));
    await waitForOutput(rotor, /rotor worker \(same process\): metrics on/);
    for (let i = 0; i < 2; i++) expect((await chat(port)).status).toBe(200);
    await waitFor('key suspended', async () => (await keyState(s.store, id)).state === 'suspended');
    s.sim.setMode(broke, 'ok');
    await waitFor(
      'key reinstated by the in-process worker',
      async () => (await keyState(s.store, id)).state === 'active',
      3000,
    );
    await rotor.kill('SIGTERM');
    expect(await rotor.exited).toBe(0);
  });

  it('rotor worker: a reload that is invalid or fails is logged, keeps the old config, and the worker lives on', async () => {
    s = await setup({ keys: 1, worker: { reconcileEveryMs: 600_000 } });
    const worker = spawnRotor(s.raw, 'cli-worker');
    const metricsPort = Number(await waitForOutput(worker, /rotor worker: metrics on http:\/\/[^:]+:(\d+)/));
    const sighup = async (config: string, expected: RegExp) => {
      fs.writeFileSync(worker.configFile, config);
      worker.child.kill('SIGHUP');
      return waitForOutput(worker, expected, 10_000);
    };

    await sighup('pools: [unclosed\n', /rotor worker: reload refused, keeping the old config: the new one is invalid\n.*invalid YAML/);

    // A reload that needs Redis and gets an error from it: the sweep's schedule key holds a string.
    const redis = createRedisClient({ url: s.config.redis.url });
    const repeatKey = `${queuePrefix(s.config.redis.prefix)}:${PROBE_QUEUE}:repeat`;
    try {
      await redis.del(repeatKey);
      await redis.set(repeatKey, 'not a job scheduler');
      const next = { ...s.raw, worker: { ...(s.raw.worker as object), reconcileEveryMs: 300_000 } };
      await sighup(JSON.stringify(next), /rotor worker: reload failed, keeping the old config\nWRONGTYPE/);
    } finally {
      await redis.del(repeatKey);
      await redis.quit();
    }
    await new Promise((r) => setTimeout(r, 300)); // an unhandled rejection would end the process by now
    expect(worker.child.exitCode).toBeNull();
    expect((await scrape(metricsPort)).length).toBeGreaterThan(0);
    expect(worker.output()).not.toContain('config reloaded');
    await worker.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
  });

  it('rotor worker says clearly when no Redis answers', async () => {
    s = await setup({ keys: 1 });
    const worker = spawnRotor(s.raw, 'cli-worker', { REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(await worker.exited).toBe(1);
    expect(worker.output()).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ did not answer/);
    expect(worker.output()).toContain('REDIS_URL');
  });
});
