import { closeAll, connect, ids, newStore, redisNow } from './helpers';

afterAll(closeAll);

// What the worker reads (its probe's own key, the sweep's parked keys), through the store's API only.
describe('keyStatus / parkedKeys', () => {
  it('read one key, and the keys waiting for a probe with when they left and the Redis clock', async () => {
    const redis = connect();
    const store = newStore({}, redis);
    await store.sync('p', ids(3));
    expect(await store.keyStatus('p', 'k01')).toEqual({ state: 'active', reason: '' });
    expect(await store.keyStatus('p', 'k99')).toBeUndefined();
    expect((await store.parkedKeys('p')).keys).toEqual([]);

    const before = await redisNow(redis);
    await store.setState('p', 'k01', 'disable', 'operator');
    await store.setState('p', 'k02', 'invalidate', 'invalid');
    expect(await store.keyStatus('p', 'k01')).toEqual({ state: 'disabled', reason: 'operator' });
    const parked = await store.parkedKeys('p');
    expect(parked.now).toBeGreaterThanOrEqual(before);
    expect(parked.keys.map(({ id, state, reason }) => [id, state, reason]).sort()).toEqual([
      ['k01', 'disabled', 'operator'],
      ['k02', 'disabled', 'invalid'],
    ]);
    for (const key of parked.keys) expect(key.parkedAt).toBeGreaterThanOrEqual(before);
  });
});
