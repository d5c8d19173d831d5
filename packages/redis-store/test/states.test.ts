import { sleep } from '@rotor/testkit';
import { coolingKey } from '../src/keys';
import { closeAll, connect, ids, newStore, outcome, redisNow } from './helpers';

afterAll(closeAll);

async function acquireKey(store: ReturnType<typeof newStore>, pool = 'p') {
  const r = await store.acquire(pool);
  if (!r.ok) throw new Error('expected a key');
  return r.lease;
}

describe('key states', () => {
  it('a 429 with Retry-After: 2 cools the key for 2 s (Redis clock) and it returns by itself', async () => {
    const redis = connect();
    const store = newStore({}, redis);
    await store.sync('p', ids(1));
    const lease = await acquireKey(store);
    const before = await redisNow(redis);
    const result = await store.report(lease, outcome('rate_limited', { retryAfterMs: 2000 }));
    expect(result?.state).toBe('cooling');
    expect(Math.abs(result!.untilMs - before - 2000)).toBeLessThanOrEqual(100);
    expect(Number(await redis.zscore(coolingKey(store.keys('p'), 'default'), '~k00'))).toBe(result!.untilMs);

    const none = await store.acquire('p');
    expect(none.ok).toBe(false);
    if (!none.ok) expect(Math.abs(none.waitMs! - 2000)).toBeLessThanOrEqual(100);

    await sleep(result!.untilMs - (await redisNow(redis)) + 20);
    const back = await store.acquire('p');
    expect(back.ok && back.lease.keyId).toBe('k00');
    expect(await redis.hget(store.keys('p').states, 'k00')).toBe('active');
  });

  it('x-ratelimit-remaining-requests: 0 on a 200 cools the key until the reset (1.5 s), before any 429', async () => {
    const redis = connect();
    const store = newStore({}, redis);
    await store.sync('p', ids(2));
    const lease = await acquireKey(store);
    const before = await redisNow(redis);
    const result = await store.report(
      lease,
      outcome('success', { limitRequests: 20, remainingRequests: 0, resetRequestsMs: 1500 }),
    );
    expect(result).toMatchObject({ state: 'cooling', changed: true, reason: 'budget' });
    expect(Math.abs(result!.untilMs - before - 1500)).toBeLessThanOrEqual(100);
    // The other key keeps serving; the spent one is never handed out while cooling.
    for (let i = 0; i < 5; i++) expect((await acquireKey(store)).keyId).toBe('k01');
  });

  it('insufficient_quota suspends; 401 makes a suspect; 5 consecutive 5xx open the breaker', async () => {
    const store = newStore();
    await store.sync('p', ids(3));
    const quota = await store.report(await acquireKey(store), outcome('quota_exhausted', {}, { errorCode: 'insufficient_quota' }));
    expect(quota).toMatchObject({ state: 'suspended', reason: 'quota', changed: true });
    const invalid = await store.report(await acquireKey(store), outcome('invalid_key'));
    expect(invalid).toMatchObject({ state: 'suspended', reason: 'suspect_invalid', changed: true });

    const states: string[] = [];
    for (let i = 0; i < 5; i++) {
      const lease = await acquireKey(store);
      expect(lease.keyId).toBe('k02');
      states.push((await store.report(lease, outcome('server_error')))!.state);
    }
    expect(states).toEqual(['active', 'active', 'active', 'active', 'suspended']);
    expect(await store.acquire('p')).toEqual({ ok: false });
    const snap = await store.snapshot('p');
    expect(snap.keys.map((k) => [k.id, k.state, k.reason])).toEqual([
      ['k00', 'suspended', 'quota'],
      ['k01', 'suspended', 'suspect_invalid'],
      ['k02', 'suspended', 'circuit_open'],
    ]);
  });

  it('a success resets the consecutive failure count', async () => {
    const store = newStore();
    await store.sync('p', ids(1));
    for (let i = 0; i < 4; i++) await store.report(await acquireKey(store), outcome('timeout'));
    await store.report(await acquireKey(store), outcome('success'));
    for (let i = 0; i < 4; i++) await store.report(await acquireKey(store), outcome('server_error'));
    expect((await store.snapshot('p')).keys[0]).toMatchObject({ state: 'active', consecutiveFailures: 4 });
  });

  it('a 429 without timing headers backs off exponentially, and past the ceiling cools for the ceiling', async () => {
    const redis = connect();
    const store = newStore({ backoff: { baseMs: 100, factor: 2, maxMs: 400, jitter: 0 } }, redis);
    await store.sync('p', ids(1));
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const lease = await acquireKey(store);
      const now = await redisNow(redis);
      const r = await store.report(lease, outcome('rate_limited'));
      expect(r?.state).toBe('cooling');
      waits.push(Math.round((r!.untilMs - now) / 100) * 100);
      await sleep(r!.untilMs - (await redisNow(redis)) + 10); // returns by itself; the streak is kept
    }
    expect(waits).toEqual([100, 200, 400]);
    const r = await store.report(await acquireKey(store), outcome('rate_limited'));
    expect(r).toMatchObject({ state: 'cooling', reason: 'backoff_ceiling', cooledFor: 400 });
  });

  it('a later Retry-After from another replica is never shortened by an earlier one', async () => {
    const store = newStore();
    await store.sync('p', ids(1));
    const a = await acquireKey(store);
    const b = await store.acquire('p', {});
    expect(b.ok).toBe(true); // one key, two leases: both requests went out before either 429 came back
    const long = await store.report(a, outcome('rate_limited', { retryAfterMs: 5000 }));
    const short = await store.report((b as { lease: typeof a }).lease, outcome('rate_limited', { retryAfterMs: 1000 }));
    expect(short!.untilMs).toBe(long!.untilMs);
  });

  it('operator actions: disable, enable, clear; the worker cannot undo an operator disable', async () => {
    const store = newStore();
    await store.sync('p', ids(2));
    await store.setState('p', 'k00', 'disable');
    expect((await acquireKey(store)).keyId).toBe('k01');
    expect((await acquireKey(store)).keyId).toBe('k01');
    await expect(store.setState('p', 'k00', 'reinstate')).rejects.toThrow('disabled by an operator');
    expect(await store.setState('p', 'k00', 'enable')).toEqual({ state: 'active', changed: true });
    const lease = await acquireKey(store);
    expect(lease.keyId).toBe('k00');
    await store.report(lease, outcome('rate_limited', { retryAfterMs: 60_000 }));
    expect(await store.setState('p', 'k00', 'clear')).toEqual({ state: 'active', changed: true });
    await expect(store.setState('p', 'nope', 'disable')).rejects.toThrow('no such key');
  });

  it('the worker reinstates a suspended key and an upstream-disabled one', async () => {
    const store = newStore();
    await store.sync('p', ids(2));
    await store.report(await acquireKey(store), outcome('quota_exhausted'));
    await store.report(await acquireKey(store), outcome('invalid_key'));
    expect(await store.acquire('p')).toEqual({ ok: false });
    expect(await store.setState('p', 'k00', 'reinstate')).toEqual({ state: 'active', changed: true });
    expect(await store.setState('p', 'k01', 'reinstate')).toEqual({ state: 'active', changed: true });
    const snap = await store.snapshot('p');
    expect(snap.keys.every((k) => k.state === 'active')).toBe(true);
  });
});
