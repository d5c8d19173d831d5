import { startProxy, type ProxyHandle } from '@rotor/proxy';
import { startWorker, type WorkerHandle } from '../src/app';
import {
  CLIENT_TOKEN,
  idOf,
  keyState,
  metricValue,
  scrape,
  setup,
  silent,
  waitFor,
  type Setup,
} from './helpers';

/** A proxy replica and a worker in this process, wired as `rotor start` wires them. */
async function startBoth(
  s: Setup,
): Promise<{ proxy: ProxyHandle; worker: WorkerHandle; close(): Promise<void> }> {
  const worker = await startWorker(s.config, { logger: silent, metricsPort: 0 });
  const proxy = await startProxy(s.config, {
    port: 0,
    logger: silent,
    onKeyParked: (pool, keyId, state, reason) => void worker.scheduler.schedule(pool, keyId, state, reason),
  });
  return {
    proxy,
    worker,
    close: async () => {
      await proxy.close();
      await worker.close();
    },
  };
}

const chat = (proxy: ProxyHandle) =>
  fetch(`${proxy.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });

const probesOf = (s: Setup, secret: string) =>
  s.sim.requestLog.filter((e) => e.secret === secret && e.headers['user-agent'] === 'rotor-worker');

describe('the worker brings keys back, or keeps them out', () => {
  let s: Setup;
  let both: Awaited<ReturnType<typeof startBoth>>;
  afterEach(async () => {
    await both?.close();
    await s?.close();
  });

  it('insufficient_quota → suspended; once the provider accepts the key the probe reinstates it and the proxy uses it', async () => {
    // quota 300 ms, then 600 ms (cap): "within the configured interval" = within maxBackoffMs of the change.
    s = await setup({ keys: 2 });
    both = await startBoth(s);
    const [broke, fine] = s.secrets as [string, string];
    const id = idOf(s.config, broke);
    s.sim.setMode(broke, 'quota');

    for (let i = 0; i < 4; i++) expect((await chat(both.proxy)).status).toBe(200);
    await waitFor('key suspended for quota', async () => {
      const k = await keyState(s.store, id);
      return k.state === 'suspended' && k.reason === 'quota';
    });

    // The first probe (a billed 1-token request, not the free listing) still sees no credit: stays out.
    await waitFor('a probe that keeps the key out', () => probesOf(s, broke).length >= 1, 3000);
    expect(probesOf(s, broke)[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions' });
    expect(s.sim.stats(broke).probes).toBe(0);
    expect(await keyState(s.store, id)).toMatchObject({ state: 'suspended', reason: 'quota' });

    s.sim.setMode(broke, 'ok');
    const changed = Date.now();
    await waitFor('key back in rotation', async () => (await keyState(s.store, id)).state === 'active', 3000);
    expect(Date.now() - changed).toBeLessThan(600 + 700);

    const before = s.sim.stats(broke).ok;
    for (let i = 0; i < 4; i++) expect((await chat(both.proxy)).status).toBe(200);
    expect(s.sim.stats(broke).ok - before).toBe(2); // round robin over both keys again
    expect(s.sim.stats(fine).quota).toBe(0);

    const text = await scrape(both.worker.metricsPort);
    expect(
      metricValue(text, 'rotor_probes_total', {
        pool: 'openai',
        probe: 'request',
        result: 'quota_exhausted',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      metricValue(text, 'rotor_probes_total', { pool: 'openai', probe: 'request', result: 'success' }),
    ).toBe(1);
    expect(metricValue(text, 'rotor_probe_last_success_timestamp_seconds', { key_id: id })).toBeGreaterThan(
      changed / 1000 - 1,
    );
    expect(await both.worker.scheduler.queue.count()).toBe(1); // only the reconciliation job: the probe is gone
  });

  it('401 → disabled; probes that keep getting 401 (free listing, growing delay) leave it disabled', async () => {
    s = await setup({ keys: 2 });
    both = await startBoth(s);
    const [revoked] = s.secrets as [string, string];
    const id = idOf(s.config, revoked);
    s.sim.setMode(revoked, 'invalid');

    for (let i = 0; i < 2; i++) expect((await chat(both.proxy)).status).toBe(200);
    await waitFor('key disabled as invalid', async () => {
      const k = await keyState(s.store, id);
      return k.state === 'disabled' && k.reason === 'invalid_key';
    });
    // 300 ms, then 600 ms: three probes within ~1.5 s, every one a GET of the free listing.
    await waitFor('three probes', () => probesOf(s, revoked).length >= 3, 4000);
    const probes = probesOf(s, revoked);
    expect(probes.every((p) => p.method === 'GET' && p.path === '/v1/models')).toBe(true);
    expect(probes[2]!.at - probes[1]!.at).toBeGreaterThanOrEqual(550);
    expect(await keyState(s.store, id)).toMatchObject({ state: 'disabled', reason: 'invalid_key' });
    const text = await scrape(both.worker.metricsPort);
    expect(
      metricValue(text, 'rotor_probes_total', { probe: 'models', result: 'invalid_key' }),
    ).toBeGreaterThanOrEqual(3);
    expect(metricValue(text, 'rotor_pool_keys', { pool: 'openai', state: 'disabled' })).toBe(1);

    // An operator takes it over: never probed again.
    await s.store.setState('openai', id, 'disable');
    const seen = probesOf(s, revoked).length;
    await new Promise((r) => setTimeout(r, 900));
    expect(probesOf(s, revoked).length).toBeLessThanOrEqual(seen + 1); // at most one already in flight
    expect(await keyState(s.store, id)).toMatchObject({ state: 'disabled', reason: 'operator' });
  });
});
