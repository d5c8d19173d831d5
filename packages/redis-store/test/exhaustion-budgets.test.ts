import { sleep } from '@rotor/testkit';
import { closeAll, connect, ids, newStore, outcome, redisNow } from './helpers';
import { RedisKeyStore } from '../src/redis-key-store';

afterAll(closeAll);

describe('exhaustion', () => {
  it('all keys cooling: acquire says none, with the ms until the earliest returns (±50 ms)', async () => {
    const redis = connect();
    const store = newStore({}, redis);
    await store.sync('p', ids(3));
    const waits = [3000, 1200, 2000];
    for (const w of waits) {
      const r = await store.acquire('p');
      if (!r.ok) throw new Error('expected a key');
      await store.report(r.lease, outcome('rate_limited', { retryAfterMs: w }));
    }
    const none = await store.acquire('p');
    expect(none.ok).toBe(false);
    if (!none.ok) expect(Math.abs(none.waitMs! - 1200)).toBeLessThanOrEqual(50);
  });

  it('all keys suspended or disabled: none, and no time at which one returns by itself', async () => {
    const store = newStore();
    await store.sync('p', ids(2));
    await store.setState('p', 'k00', 'disable');
    await store.setState('p', 'k01', 'disable');
    expect(await store.acquire('p')).toEqual({ ok: false });
  });
});

describe('budgets', () => {
  it('after a 200 saying remaining-requests 3, 8 parallel acquires from 4 connections get that key 3 times', async () => {
    const base = newStore();
    await base.sync('p', ids(1));
    const first = await base.acquire('p');
    if (!first.ok) throw new Error('expected a key');
    await base.report(first.lease, outcome('success', { limitRequests: 20, remainingRequests: 3, resetRequestsMs: 5000 }));

    const stores = Array.from({ length: 4 }, () => new RedisKeyStore(connect(), base.policy));
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => stores[i % 4]!.acquire('p')));
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    expect(results.filter((r) => r.ok).map((r) => r.ok && r.remainingRequests).sort()).toEqual([0, 1, 2]);
    // The spent key cooled until the provider's reset, so exhaustion answers carry a useful wait.
    const none = results.find((r) => !r.ok);
    expect(none && !none.ok && none.waitMs).toBeGreaterThan(4000);
  });

  it('every other request still in flight is subtracted from what a header says is left', async () => {
    const store = newStore();
    await store.sync('p', ids(1));
    const leases = [];
    for (let i = 0; i < 3; i++) {
      const r = await store.acquire('p');
      if (r.ok) leases.push(r.lease);
    }
    // The first answer says 3 left, but two more requests of ours may not have reached the provider.
    await store.report(leases[0]!, outcome('success', { remainingRequests: 3, resetRequestsMs: 5000 }));
    expect((await store.snapshot('p')).buckets[0]!.remainingRequests).toBe(1);
  });

  it('an estimate that was too low is raised by a fresher answer, and a key cooled by it returns', async () => {
    const store = newStore();
    await store.sync('p', ids(1));
    const leases = [];
    for (let i = 0; i < 4; i++) {
      const r = await store.acquire('p');
      if (r.ok) leases.push(r.lease);
    }
    // The provider counted all four (2 left), but three answers are still on their way: estimate 0.
    await store.report(leases[3]!, outcome('success', { remainingRequests: 2, resetRequestsMs: 5000 }));
    expect((await store.snapshot('p')).buckets[0]!.remainingRequests).toBe(0);
    expect(await store.acquire('p')).toMatchObject({ ok: false }); // cooled: budget spent as far as we know
    // The other answers arrive late (the provider answered them first: 5, 4 and 3 left). They were
    // counted already, so 2 are really left.
    for (const [i, lease] of leases.slice(0, 3).entries()) {
      await store.report(lease, outcome('success', { remainingRequests: 5 - i, resetRequestsMs: 5000 }));
    }
    const bucket = (await store.snapshot('p')).buckets[0]!;
    expect(bucket).toMatchObject({ state: 'ready', remainingRequests: 2 });
    expect(await store.acquire('p')).toMatchObject({ ok: true, remainingRequests: 1 });
  });

  it('a declared rpm: 20 is never exceeded in any window, however many connections ask', async () => {
    const redis = connect();
    const base = newStore({}, redis);
    await base.sync('p', [{ id: 'only', rpm: 20, windowMs: 1000 }]);
    const stores = Array.from({ length: 4 }, () => new RedisKeyStore(connect(), base.policy));
    // Each grant happened on the Redis clock somewhere between the times read just before and just after
    // the call: checks below use only what those bounds prove, so a slow read never fails the test.
    const granted: { after: number; before: number }[] = [];
    const deadline = Date.now() + 2500;
    await Promise.all(
      stores.map(async (store) => {
        while (Date.now() < deadline) {
          const before = await redisNow(redis);
          const r = await store.acquire('p');
          if (r.ok) granted.push({ before, after: await redisNow(redis) });
          else await sleep(Math.min(r.waitMs ?? 50, 50));
        }
      }),
    );
    // Sliding window: no window of 1,000 ms holds more than 20 grants that surely fell inside it.
    for (const start of granted) {
      const inside = granted.filter((g) => g.before >= start.before && g.after < start.before + 1000);
      expect(inside.length).toBeLessThanOrEqual(20);
    }
    expect(granted.length).toBeGreaterThanOrEqual(40); // the window does move on
    expect(granted.length).toBeLessThanOrEqual(60);
    // The budget is usable at once: the first 20 go out together, not spread over the window.
    const firsts = granted.map((g) => g.after).sort((a, b) => a - b);
    expect(firsts[19]! - granted.map((g) => g.before).sort((a, b) => a - b)[0]!).toBeLessThan(500);
  });
});

describe('in-flight leases', () => {
  it('a lease that is never reported (replica crashed) expires and the in-flight count drains', async () => {
    const store = newStore({ leaseTtlMs: 200 });
    await store.sync('p', ids(1));
    for (let i = 0; i < 3; i++) await store.acquire('p');
    expect((await store.snapshot('p')).keys[0]!.inflight).toBe(3);
    await sleep(300);
    await store.acquire('p'); // acquire reaps expired leases in small batches
    expect((await store.snapshot('p')).keys[0]!.inflight).toBe(1);
  });

  it('reporting releases the lease once, even if reported twice', async () => {
    const store = newStore();
    await store.sync('p', ids(1));
    const a = await store.acquire('p');
    const b = await store.acquire('p');
    if (!a.ok || !b.ok) throw new Error('expected keys');
    await store.report(a.lease, outcome('success'));
    await store.report(a.lease, outcome('success'));
    expect((await store.snapshot('p')).keys[0]!.inflight).toBe(1);
  });
});

describe('out-of-order reports', () => {
  it('an older answer that arrives late does not raise what is left in a running window', async () => {
    const store = newStore();
    await store.sync('p', ids(1));
    const first = await store.acquire('p');
    if (!first.ok) throw new Error('expected a key');
    await store.report(first.lease, outcome('success', { remainingRequests: 4, resetRequestsMs: 5000 }));
    const leases = [];
    for (let i = 0; i < 4; i++) {
      const r = await store.acquire('p');
      if (r.ok) leases.push(r.lease);
    }
    expect(leases).toHaveLength(4);
    // The provider answered them 3, 2, 1, 0 left; the last answer comes back first.
    await store.report(leases[3]!, outcome('success', { remainingRequests: 0, resetRequestsMs: 4900 }));
    await store.report(leases[0]!, outcome('success', { remainingRequests: 3, resetRequestsMs: 4900 }));
    expect((await store.snapshot('p')).buckets[0]!.remainingRequests).toBe(0);
    expect(await store.acquire('p')).toMatchObject({ ok: false });
  });
});
