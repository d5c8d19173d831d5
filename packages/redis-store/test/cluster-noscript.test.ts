import { Cluster, Redis } from 'ioredis';
import { spawnRedisCluster, uniquePrefix, type RedisClusterProcess } from '@rotor/testkit';
import { RedisKeyStore } from '../src/redis-key-store';
import { closeAll, connect, ids, newStore, outcome } from './helpers';

afterAll(closeAll);

async function exercise(store: RedisKeyStore): Promise<void> {
  await store.sync('alpha', ids(3));
  await store.sync('beta', ids(2, 'b'));
  const a = await store.acquire('alpha');
  const b = await store.acquire('beta');
  if (!a.ok || !b.ok) throw new Error('expected keys');
  expect(await store.report(a.lease, outcome('rate_limited', { retryAfterMs: 5000 }))).toMatchObject({ state: 'cooling' });
  expect(await store.report(b.lease, outcome('success', { remainingRequests: 10, resetRequestsMs: 1000 }))).toMatchObject({
    state: 'active',
  });
  await store.setState('alpha', 'k01', 'disable');
  const next = await store.acquire('alpha');
  expect(next.ok && next.lease.keyId).toBe('k02');
  const snap = await store.snapshot('alpha');
  expect(snap.keys.map((k) => k.state)).toEqual(['active', 'disabled', 'active']);
  expect(snap.buckets.filter((x) => x.state === 'cooling').map((x) => x.account)).toEqual(['~k00']);
  await store.sync('alpha', ids(2));
}

describe('Redis Cluster (3 primaries)', () => {
  let cluster: RedisClusterProcess;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await spawnRedisCluster(3);
    client = new Cluster(cluster.startupNodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  }, 30_000);

  afterAll(async () => {
    await client?.quit().catch(() => undefined);
    await cluster?.stop();
  });

  it('runs every script with no CROSSSLOT error, on pools that land on different nodes', async () => {
    const store = new RedisKeyStore(client, { prefix: uniquePrefix('cl') });
    await exercise(store);
    // The two pools' keys hash to slots owned by different primaries (slots 0-5460 / 5461-10922 / ...).
    const owners = await Promise.all(
      ['alpha', 'beta'].map(async (pool) => {
        const slot = Number(await client.cluster('KEYSLOT', store.keys(pool).states));
        return client.slots[slot]?.[0];
      }),
    );
    expect(owners[0]).toBeDefined();
    expect(owners[0]).not.toBe(owners[1]);
  });

  it('after SCRIPT FLUSH on every node the next call still succeeds', async () => {
    const store = new RedisKeyStore(client, { prefix: uniquePrefix('cl') });
    await store.sync('alpha', ids(2));
    expect((await store.acquire('alpha')).ok).toBe(true);
    await Promise.all(client.nodes('master').map((node) => node.script('FLUSH')));
    expect((await store.acquire('alpha')).ok).toBe(true);
  });
});

describe('standalone Redis', () => {
  it('after SCRIPT FLUSH the next call of every script still succeeds', async () => {
    const redis: Redis = connect();
    const store = newStore({}, redis);
    await store.sync('p', ids(2));
    const lease = await store.acquire('p');
    if (!lease.ok) throw new Error('expected a key');
    await redis.script('FLUSH');
    expect(await store.report(lease.lease, outcome('success'))).toMatchObject({ state: 'active' });
    await redis.script('FLUSH');
    expect((await store.acquire('p')).ok).toBe(true);
    await redis.script('FLUSH');
    expect(await store.setState('p', 'k00', 'disable')).toMatchObject({ state: 'disabled' });
  });
});
