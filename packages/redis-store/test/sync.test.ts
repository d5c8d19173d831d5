import { bucketHash, coolingKey, keyHash, ringKey } from '../src/keys';
import { closeAll, connect, ids, newStore, outcome } from './helpers';

afterAll(closeAll);

describe('sync', () => {
  it('keeps the cooldown of a key that stays, drops removed keys entirely, adds new ones', async () => {
    const redis = connect();
    const store = newStore({}, redis);
    await store.sync('p', ids(3));
    const lease = await store.acquire('p');
    if (!lease.ok) throw new Error('expected a key');
    const cooled = await store.report(lease.lease, outcome('rate_limited', { retryAfterMs: 30_000 }));

    const result = await store.sync('p', [{ id: 'k00', weight: 2, label: 'primary' }, { id: 'k02' }, { id: 'k03' }]);
    expect(result).toEqual({ added: 1, removed: 1, total: 3 });

    const snap = await store.snapshot('p');
    expect(snap.keys.map((k) => [k.id, k.state])).toEqual([
      ['k00', 'active'],
      ['k02', 'active'],
      ['k03', 'active'],
    ]);
    expect(snap.keys[0]).toMatchObject({ weight: 2, label: 'primary' });
    const k = store.keys('p');
    expect(Number(await redis.zscore(coolingKey(k, 'default'), '~k00'))).toBe(cooled!.untilMs);
    expect(await redis.zrange(ringKey(k, 'default'), 0, -1)).toEqual(['k02', 'k03']);
    expect(await redis.exists(keyHash(k, 'k01'), bucketHash(k, '~k01', 'default'))).toBe(0);
  });

  it('a key a store before buckets left cooling returns to rotation at the next sync', async () => {
    const redis = connect();
    const store = newStore({}, redis);
    await store.sync('p', ids(2));
    const k = store.keys('p');
    // What scripts v3 left behind: the key's state 'cooling', out of the ring.
    await redis.hset(k.states, 'k00', 'cooling');
    await redis.zrem(ringKey(k, 'default'), 'k00');
    await store.sync('p', ids(2));
    expect(await redis.hget(k.states, 'k00')).toBe('active');
    const picked = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const r = await store.acquire('p');
      if (r.ok) picked.add(r.lease.keyId);
    }
    expect([...picked].sort()).toEqual(['k00', 'k01']);
  });

  it('a report for a key removed while its request was in flight is ignored, not resurrected', async () => {
    const redis = connect();
    const store = newStore({}, redis);
    await store.sync('p', ids(1));
    const r = await store.acquire('p');
    if (!r.ok) throw new Error('expected a key');
    await store.sync('p', []);
    expect(await store.report(r.lease, outcome('rate_limited', { retryAfterMs: 1000 }))).toBeUndefined();
    const k = store.keys('p');
    expect(await redis.exists(keyHash(k, 'k00'), k.states, coolingKey(k, 'default'), ringKey(k, 'default'))).toBe(0);
  });
});
