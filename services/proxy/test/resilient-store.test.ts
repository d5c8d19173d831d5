import { parseConfig } from '@rotor/core';
import { spawnRedis, type RedisProcess } from '@rotor/testkit';
import { CLIENT_TOKEN, startRig, type Rig } from './harness';

/** The switch between Redis and the fallback, seen from one replica in this process. */
describe('ResilientKeyStore', () => {
  let redis: RedisProcess;
  let rig: Rig;
  beforeEach(async () => {
    redis = await spawnRedis();
    rig = await startRig({ keys: 2, rpm: 1, windowMs: 30_000, redisUrl: redis.url, config: { redis: { url: redis.url, fallback: { recoverEveryMs: 100 } } } });
  });
  afterEach(async () => {
    await rig.close();
    await redis.kill();
  });

  const chat = () =>
    fetch(`${rig.proxy.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
  const backOnRedis = async () => {
    const deadline = Date.now() + 5000;
    while (rig.proxy.storeMode() !== 'shared') {
      if (Date.now() > deadline) throw new Error('still in fallback');
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  it('a 429 learned in fallback reaches Redis on the return: the key stays cooling there, not handed out again', async () => {
    await redis.kill();
    // Someone else spent the key handed out first (lowest id): the provider answers 429 with
    // Retry-After and the replica, in fallback, learns it in memory only.
    const first = [...rig.config.pools.openai!.keys].sort((a, b) => (a.id < b.id ? -1 : 1))[0]!;
    rig.sim.consume(first.secret, 1);
    expect((await chat()).status).toBe(200); // retried on the second key
    expect(rig.proxy.storeMode()).toBe('fallback');
    redis = await redis.restart(); // empty: no pool, no cooldown
    await backOnRedis();
    const snap = await rig.proxy.store.snapshot('openai');
    // Each key's bucket is its organization's (the simulated provider names one per key), learned in
    // fallback and merged with the key's account.
    const bucketOfKey = (id: string) => {
      const account = snap.keys.find((k) => k.id === id)!.account;
      return snap.buckets.find((b) => b.account === account)!;
    };
    const spent = bucketOfKey(first.id);
    const other = bucketOfKey(snap.keys.find((k) => k.id !== first.id)!.id);
    console.log(`merged on return: ${JSON.stringify(snap.buckets.map((b) => ({ group: b.group, state: b.state, reason: b.reason, untilInMs: b.until ? b.until - snap.now : undefined, remaining: b.remainingRequests })))}`);
    expect(spent).toMatchObject({ state: 'cooling', reason: 'rate_limited' });
    expect(spent.until! - snap.now).toBeGreaterThan(20_000);
    // The other key's budget (0 left of 1) came back too: nothing to hand out until the window resets.
    expect(other).toMatchObject({ state: 'cooling', reason: 'budget', remainingRequests: 0 });
    expect((await chat()).status).toBe(429);
    expect(rig.sim.totals().rateLimited).toBe(1);
  });

  it('a config reloaded while Redis is down is what Redis gets on the return', async () => {
    await redis.kill();
    await chat();
    const next = parseConfig(
      {
        port: 0,
        redis: { url: redis.url, prefix: rig.config.redis.prefix },
        clientTokens: [CLIENT_TOKEN],
        log: { level: 'silent' },
        pools: { openai: { provider: 'openai', baseUrl: `${rig.sim.url}/v1`, keys: rig.secrets[1]! } },
        routes: { '/v1': 'openai' },
      },
      {},
    );
    await rig.proxy.reload(next);
    redis = await redis.restart();
    await backOnRedis();
    expect((await rig.proxy.store.snapshot('openai')).keys.map((k) => k.id)).toEqual([next.pools.openai!.keys[0]!.id]);
  });
});
