import { MemoryKeyStore } from '../src/memory-key-store';
import { closeAll, connect, countBy, ids, newStore, outcome } from './helpers';

afterAll(closeAll);

/** What only the in-memory store does: take a share of each key's budget, and start from Redis's state. */
describe('MemoryKeyStore as a per-replica fallback', () => {
  it('share 1/3: a declared rpm of 30 gives each replica 10 per window, so 3 replicas stay within 30', async () => {
    let clock = 1_000_000;
    const replicas = Array.from({ length: 3 }, () => new MemoryKeyStore({ share: 1 / 3, now: () => clock }));
    for (const r of replicas) await r.sync('p', [{ id: 'k', rpm: 30, windowMs: 60_000 }]);
    const granted = async () => {
      let n = 0;
      for (const r of replicas) for (let i = 0; i < 50; i++) if ((await r.acquire('p')).ok) n++;
      return n;
    };
    const first = await granted();
    clock += 60_000;
    const second = await granted();
    console.log(`fallback share: declared rpm 30, 3 replicas x 50 attempts -> ${first} granted, next window ${second}`);
    expect([first, second]).toEqual([30, 30]);
  });

  it('share 1/3: "40 left" from the provider lets each replica use 13 of it until the reset', async () => {
    let clock = 1_000_000;
    const store = new MemoryKeyStore({ share: 1 / 3, now: () => clock });
    await store.sync('p', ids(1));
    const first = await store.acquire('p');
    if (!first.ok) throw new Error('expected a key');
    await store.report(first.lease, outcome('success', { limitRequests: 60, remainingRequests: 40, resetRequestsMs: 10_000 }));
    let n = 0;
    for (let i = 0; i < 40; i++) if ((await store.acquire('p')).ok) n++;
    expect(n).toBe(13);
    const none = await store.acquire('p');
    expect(none).toEqual({ ok: false, waitMs: 10_000 });
    clock += 10_001;
    expect((await store.acquire('p')).ok).toBe(true); // the provider's window reset: what was learned no longer holds
  });

  it('adopts what Redis knew: cooling keys keep their end (shifted to this clock), parked keys stay out, budgets carry over', async () => {
    const redis = connect();
    const shared = newStore({}, redis);
    await shared.sync('p', ids(5));
    const lease = async () => {
      const r = await shared.acquire('p');
      if (!r.ok) throw new Error('expected a key');
      return r.lease;
    };
    await shared.report(await lease(), outcome('rate_limited', { retryAfterMs: 30_000 })); // k00 cooling
    await shared.report(await lease(), outcome('quota_exhausted')); // k01 suspended
    await shared.setState('p', 'k02', 'disable'); // k02 operator-disabled
    await shared.report(await lease(), outcome('success', { remainingRequests: 9, resetRequestsMs: 20_000 })); // k03: 9 left
    const snapshot = await shared.snapshot('p');

    const clockOffset = 5_000_000; // this replica's clock is far from Redis's
    const memory = new MemoryKeyStore({ share: 1 / 3, now: () => Date.now() + clockOffset });
    await memory.sync('p', ids(5));
    memory.adopt(snapshot, Date.now() + clockOffset);
    const mine = await memory.snapshot('p');
    expect(mine.keys.map((k) => [k.id, k.state, k.reason ?? ''])).toEqual([
      ['k00', 'active', ''],
      ['k01', 'suspended', 'quota'],
      ['k02', 'disabled', 'operator'],
      ['k03', 'active', ''],
      ['k04', 'active', ''],
    ]);
    const bucket = (snap: typeof mine, account: string) => snap.buckets.find((b) => b.account === account)!;
    expect(bucket(mine, '~k00')).toMatchObject({ state: 'cooling', reason: 'rate_limited' });
    expect(Math.abs(bucket(mine, '~k00').until! - mine.now - (bucket(snapshot, '~k00').until! - snapshot.now))).toBeLessThan(50);
    expect(bucket(mine, '~k03').remainingRequests).toBe(3); // a third of the 9 the provider said were left
    const picked: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await memory.acquire('p');
      if (r.ok) picked.push(r.lease.keyId);
    }
    expect(Object.fromEntries(countBy(picked))).toEqual({ k03: 3, k04: 7 });
  });
});

describe('RedisKeyStore when a pool vanishes from Redis', () => {
  it('a pool whose keys were deleted (restart without persistence, FLUSHALL) is synced again by the next acquire', async () => {
    const redis = connect();
    const store = newStore({}, redis);
    await store.sync('p', ids(3));
    expect((await store.acquire('p')).ok).toBe(true);
    const names = await redis.keys(`${store.policy.prefix}:*`);
    expect(names.length).toBeGreaterThan(3);
    await redis.del(...names);
    const again = await Promise.all(Array.from({ length: 5 }, () => store.acquire('p')));
    expect(again.every((r) => r.ok)).toBe(true);
    expect((await store.snapshot('p')).keys.map((k) => k.state)).toEqual(['active', 'active', 'active']);
    // A pool that was never synced by this store is simply empty.
    expect(await newStore().acquire('p')).toEqual({ ok: false });
  });
});

describe('replica heartbeats', () => {
  it('counts the replicas heard from recently; a silent one drops out', async () => {
    const store = newStore();
    expect(await store.heartbeat('a', 300)).toBe(1);
    expect(await store.heartbeat('b', 300)).toBe(2);
    expect(await store.heartbeat('c', 300)).toBe(3);
    expect(await store.heartbeat('a', 300)).toBe(3);
    await new Promise((r) => setTimeout(r, 350));
    expect(await store.heartbeat('b', 300)).toBe(1);
  });
});

describe('back from fallback: what a replica learned is merged into Redis', () => {
  it('a lower budget, a running cooldown and declared-rpm hand-outs reach the shared state; the stricter view wins', async () => {
    const shared = newStore();
    const specs = [{ id: 'a' }, { id: 'b' }, { id: 'c', rpm: 4, windowMs: 60_000 }, { id: 'd' }];
    await shared.sync('p', specs);
    // Redis knew a's budget before the outage: 50 left.
    const before = await shared.acquire('p', { exclude: ['b', 'c', 'd'] });
    if (!before.ok) throw new Error('expected a');
    await shared.report(before.lease, outcome('success', { remainingRequests: 50, resetRequestsMs: 30_000 }));

    const memory = new MemoryKeyStore({ share: 1 / 2 });
    await memory.sync('p', specs);
    const take = async (id: string) => {
      const r = await memory.acquire('p', { exclude: specs.map((s) => s.id).filter((x) => x !== id) });
      if (!r.ok) throw new Error(`expected ${id}`);
      return r.lease;
    };
    await memory.report(await take('a'), outcome('success', { remainingRequests: 6, resetRequestsMs: 20_000 }));
    await take('a'); // one more in flight on a
    await memory.report(await take('b'), outcome('rate_limited', { retryAfterMs: 15_000 }));
    await take('c');
    await take('c');
    const learned = memory.learned('p');
    expect(learned.map((l) => l.account).sort()).toEqual(['~a', '~b', '~c']);
    expect(learned.find((l) => l.account === '~a')).toMatchObject({ group: 'default', seen: 6, remaining: 5 });

    expect(await shared.mergeLearned('p', learned)).toBe(3);
    const snap = await shared.snapshot('p');
    const bucket = (account: string) => snap.buckets.find((x) => x.account === account)!;
    expect(bucket('~a')).toMatchObject({ state: 'ready', remainingRequests: 5 });
    expect(bucket('~b')).toMatchObject({ state: 'cooling', reason: 'rate_limited' });
    expect(bucket('~b').until! - snap.now).toBeGreaterThan(14_000);
    // c: 2 hand-outs in fallback (its half of 4) + 2 more now = its declared 4 per window: no 5th.
    const c = await Promise.all([1, 2, 3].map(() => shared.acquire('p', { exclude: ['a', 'b', 'd'] })));
    expect(c.map((r) => r.ok)).toEqual([true, true, false]);
    // Merging a looser view changes nothing: Redis's stricter budget stays.
    expect(await shared.mergeLearned('p', [{ account: '~a', group: 'default', seen: 40, remaining: 40, resetInMs: 20_000 }])).toBe(0);
    expect((await shared.snapshot('p')).buckets.find((x) => x.account === '~a')!.remainingRequests).toBe(5);
  });
});
