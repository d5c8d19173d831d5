import { startProxy, type ProxyHandle } from '@rotor/proxy';
import { probeJobId } from '../src/queue';
import { ProbeScheduler } from '../src/scheduler';
import { CLIENT_TOKEN, idOf, keyState, setup, silent, waitFor, type Setup } from './helpers';

describe('no worker running', () => {
  let s: Setup;
  let proxy: ProxyHandle;
  let scheduler: ProbeScheduler;
  afterAll(async () => {
    await proxy?.close();
    await scheduler?.close();
    await s?.close();
  });

  it('the proxy keeps serving: bucket cooldowns expire by themselves, parked keys just wait for their probe', async () => {
    s = await setup({ keys: 2, windowMs: 1500 });
    const [broke, limited] = s.secrets as [string, string];
    s.sim.setMode(broke, 'quota');
    s.sim.setLimits(limited, { rpm: 1 });
    // Wired as `rotor proxy` wires it: parked keys are enqueued, but no worker runs them.
    scheduler = await ProbeScheduler.open(s.config);
    proxy = await startProxy(s.config, {
      port: 0,
      logger: silent,
      onKeyParked: (pool, keyId, state, reason) => void scheduler.schedule(pool, keyId, state, reason),
    });
    const chat = () =>
      fetch(`${proxy.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      });

    expect((await chat()).status).toBe(200);
    const exhausted = await chat();
    expect(exhausted.status).toBe(429);
    expect(Number(exhausted.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const brokeId = idOf(s.config, broke);
    const limitedId = idOf(s.config, limited);
    await waitFor(
      'quota key suspended with a probe waiting for a worker',
      async () =>
        (await keyState(s.store, brokeId)).state === 'suspended' &&
        (await scheduler.queue.getJobState(probeJobId('openai', brokeId))) === 'delayed',
    );
    // The limited key stays in rotation: its bucket (its account, the request's model group) cools.
    const limitedKey = await keyState(s.store, limitedId);
    expect(limitedKey.state).toBe('active');
    const account = limitedKey.account ?? `~${limitedId}`;
    const cooling = (await s.store.snapshot('openai')).buckets.find(
      (b) => b.account === account && b.group === 'gpt-4o-mini',
    );
    expect(cooling).toMatchObject({ state: 'cooling', until: expect.any(Number) });

    // The cooldown ends on its own: the next acquire puts the bucket back, no worker involved.
    await waitFor(
      'the cooldown to pass',
      () => Date.now() >= cooling!.until! + 20 && s.sim.windowEndsAt(limited) <= Date.now(),
      5000,
    );
    expect((await chat()).status).toBe(200);
    // (rpm 1: the answer's remaining-requests 0 cools it again at once, before it earns a 429)
    expect((await keyState(s.store, brokeId)).state).toBe('suspended');
    expect(s.sim.stats(limited).ok).toBe(2);
  });
});
