import { closeAll, connect, countBy, ids, newStore, outcome } from './helpers';
import { RedisKeyStore } from '../src/redis-key-store';

afterAll(closeAll);

describe('atomic under concurrency', () => {
  it('10 keys, 2,000 acquires from 8 connections: even spread, exact total, no cooling/disabled key', async () => {
    const base = newStore();
    const keys = ids(12);
    await base.sync('p', keys);
    // Two extra keys out of rotation: one cooling (a 429 with Retry-After 60 s), one disabled.
    await base.setState('p', 'k10', 'disable');
    const hot = await base.acquire('p', { exclude: ['k00', 'k01', 'k02', 'k03', 'k04', 'k05', 'k06', 'k07', 'k08', 'k09'] });
    if (!hot.ok) throw new Error('expected k11');
    await base.report(hot.lease, outcome('rate_limited', { retryAfterMs: 60_000 }));

    const stores = Array.from({ length: 8 }, () => new RedisKeyStore(connect(), base.policy));
    const picked: string[] = [];
    await Promise.all(
      stores.map(async (store) => {
        for (let i = 0; i < 250; i++) {
          const r = await store.acquire('p');
          if (!r.ok) throw new Error('expected a key');
          picked.push(r.lease.keyId);
        }
      }),
    );
    const counts = countBy(picked);
    expect(picked).toHaveLength(2000);
    expect(counts.has('k10')).toBe(false);
    expect(counts.has('k11')).toBe(false);
    const values = [...counts.values()];
    expect(values).toHaveLength(10);
    expect(Math.max(...values) - Math.min(...values)).toBeLessThanOrEqual(1);

    const snap = await base.snapshot('p');
    const inRotation = snap.keys.filter((k) => k.id !== 'k10' && k.id !== 'k11');
    const acquired = inRotation.reduce((sum, k) => sum + k.acquired, 0);
    expect(acquired).toBe(2000);
    // Every acquisition holds a lease until reported.
    expect(inRotation.reduce((sum, k) => sum + k.inflight, 0)).toBe(2000);
    expect(snap.buckets.find((b) => b.account === '~k11')).toMatchObject({ state: 'cooling' });
  });
});
