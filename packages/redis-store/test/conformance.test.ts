import { sleep } from '@rotor/testkit';
import { MemoryKeyStore } from '../src/memory-key-store';
import type { BucketSnapshot, KeyAction, KeySpec, KeyStore, Lease, PoolSnapshot, StorePolicy } from '../src/types';
import { closeAll, connect, countBy, ids, newStore, outcome, redisNow } from './helpers';

/**
 * One contract, two stores: every test here runs against RedisKeyStore (a private redis-server, the
 * Lua scripts) and against MemoryKeyStore (the proxy's fail-open fallback and the `memory://` mode).
 * Time is each store's own clock (Redis TIME / Date.now()).
 */
interface Subject {
  store: KeyStore;
  now(): Promise<number>;
  /** Another handle on the same state, as a second replica would have (Redis: a second connection). */
  peer(): KeyStore;
}

const subjects: [string, (policy?: Partial<StorePolicy>) => Subject][] = [
  [
    'RedisKeyStore',
    (policy = {}) => {
      const redis = connect();
      const store = newStore(policy, redis);
      return { store, now: () => redisNow(redis), peer: () => newStore(store.policy, connect()) };
    },
  ],
  [
    'MemoryKeyStore',
    (policy = {}) => {
      const store = new MemoryKeyStore(policy);
      return { store, now: async () => Date.now(), peer: () => store };
    },
  ],
];

afterAll(closeAll);

async function lease(store: KeyStore, pool = 'p'): Promise<Lease> {
  const r = await store.acquire(pool);
  if (!r.ok) throw new Error('expected a key');
  return r.lease;
}

/** The bucket of a key's account for a model group (its own account unless it has one). */
function bucketOf(snap: PoolSnapshot, keyId: string, group = 'default'): BucketSnapshot | undefined {
  const account = snap.keys.find((k) => k.id === keyId)?.account ?? `~${keyId}`;
  return snap.buckets.find((b) => b.account === account && b.group === group);
}

async function handOut(store: KeyStore, n: number, pool = 'p'): Promise<string[]> {
  const picked: string[] = [];
  for (let i = 0; i < n; i++) picked.push((await lease(store, pool)).keyId);
  return picked;
}

describe.each(subjects)('%s', (_name, make) => {
  describe('round robin', () => {
    it('3 keys: exactly 100 each in 300 acquires, never the same key twice in a row', async () => {
      const { store } = make();
      await store.sync('p', ids(3));
      const picked = await handOut(store, 300);
      expect([...countBy(picked).values()]).toEqual([100, 100, 100]);
      expect(picked.slice(0, 3)).toEqual(['k00', 'k01', 'k02']);
      for (let i = 1; i < picked.length; i++) expect(picked[i]).not.toBe(picked[i - 1]);
    });

    it('weights 1:2:3 give 50/100/150 of 300 (±1)', async () => {
      const { store } = make();
      await store.sync('p', [
        { id: 'w1', weight: 1 },
        { id: 'w2', weight: 2 },
        { id: 'w3', weight: 3 },
      ]);
      const counts = countBy(await handOut(store, 300));
      expect(Math.abs(counts.get('w1')! - 50)).toBeLessThanOrEqual(1);
      expect(Math.abs(counts.get('w2')! - 100)).toBeLessThanOrEqual(1);
      expect(Math.abs(counts.get('w3')! - 150)).toBeLessThanOrEqual(1);
    });

    it('never hands out a key the request already tried; an unknown pool has none', async () => {
      const { store } = make();
      await store.sync('p', ids(3));
      expect((await lease(store)).keyId).toBe('k00');
      const second = await store.acquire('p', { exclude: ['k00', 'k01'] });
      expect(second.ok && second.lease.keyId).toBe('k02');
      expect(await store.acquire('p', { exclude: ['k00', 'k01', 'k02'] })).toEqual({ ok: false });
      expect(await store.acquire('nothing-here')).toEqual({ ok: false });
    });

    it('a key that returns from cooling rejoins at the lowest score (no burst)', async () => {
      const { store } = make();
      await store.sync('p', ids(3));
      const first = await lease(store);
      await store.report(first, outcome('rate_limited', { retryAfterMs: 150 }));
      await handOut(store, 20); // k01 and k02 move on while k00 is away
      await sleep(200);
      const next = await handOut(store, 6);
      expect(countBy(next).get('k00')).toBe(2);
    });
  });

  describe('cooldowns and states', () => {
    it('a 429 with Retry-After cools the key until then (store clock) and it returns by itself', async () => {
      const { store, now } = make();
      await store.sync('p', ids(1));
      const before = await now();
      const result = await store.report(await lease(store), outcome('rate_limited', { retryAfterMs: 400 }));
      expect(result).toMatchObject({ state: 'cooling', changed: true, reason: 'rate_limited' });
      expect(Math.abs(result!.untilMs - before - 400)).toBeLessThanOrEqual(50);
      const none = await store.acquire('p');
      expect(none.ok).toBe(false);
      if (!none.ok) expect(Math.abs(none.waitMs! - 400)).toBeLessThanOrEqual(50);
      await sleep(result!.untilMs - (await now()) + 20);
      expect((await lease(store)).keyId).toBe('k00');
      expect((await store.snapshot('p')).keys[0]).toMatchObject({ state: 'active' });
    });

    it('remaining-requests 0 on a 200 cools the key until the reset, before any 429', async () => {
      const { store, now } = make();
      await store.sync('p', ids(2));
      const before = await now();
      const result = await store.report(await lease(store), outcome('success', { limitRequests: 20, remainingRequests: 0, resetRequestsMs: 1500 }));
      expect(result).toMatchObject({ state: 'cooling', changed: true, reason: 'budget' });
      expect(Math.abs(result!.untilMs - before - 1500)).toBeLessThanOrEqual(50);
      expect(await handOut(store, 5)).toEqual(['k01', 'k01', 'k01', 'k01', 'k01']);
    });

    it('insufficient_quota suspends; a bad credential makes a suspect; 5 consecutive 5xx open the breaker', async () => {
      const { store } = make();
      await store.sync('p', ids(3));
      expect(await store.report(await lease(store), outcome('quota_exhausted', {}, { errorCode: 'insufficient_quota' }))).toMatchObject({
        state: 'suspended',
        reason: 'quota',
        changed: true,
      });
      expect(await store.report(await lease(store), outcome('invalid_key'))).toMatchObject({
        state: 'suspended',
        reason: 'suspect_invalid',
        changed: true,
        refused: false,
      });
      const states: string[] = [];
      for (let i = 0; i < 5; i++) states.push((await store.report(await lease(store), outcome('server_error')))!.state);
      expect(states).toEqual(['active', 'active', 'active', 'active', 'suspended']);
      expect(await store.acquire('p')).toEqual({ ok: false });
      expect((await store.snapshot('p')).keys.map((k) => [k.id, k.state, k.reason])).toEqual([
        ['k00', 'suspended', 'quota'],
        ['k01', 'suspended', 'suspect_invalid'],
        ['k02', 'suspended', 'circuit_open'],
      ]);
    });

    it('a permission error leaves the key in rotation (what the key may do, not the key)', async () => {
      const { store } = make();
      await store.sync('p', ids(1));
      expect(await store.report(await lease(store), outcome('permission_denied'))).toMatchObject({ state: 'active', changed: false });
      expect((await store.snapshot('p')).keys[0]).toMatchObject({ state: 'active', lastClass: 'permission_denied' });
    });

    it("one client's answers take at most clientKeysOutPerMinute keys out; other clients and the worker are not held back", async () => {
      const { store } = make({ clientKeysOutPerMinute: 2 });
      await store.sync('p', ids(5));
      const asClient = async (client: string) => {
        const r = await store.acquire('p', { client });
        if (!r.ok) throw new Error('expected a key');
        expect(r.lease.client).toBe(client);
        return store.report(r.lease, outcome('invalid_key'));
      };
      const mallory = [await asClient('c_mallory'), await asClient('c_mallory'), await asClient('c_mallory')];
      expect(mallory.map((r) => [r!.state, r!.refused])).toEqual([
        ['suspended', false],
        ['suspended', false],
        ['active', true],
      ]);
      expect(await asClient('c_alice')).toMatchObject({ state: 'suspended', refused: false });
      // No client on the lease (e.g. not a proxied request): no limit.
      expect(await store.report(await lease(store), outcome('invalid_key'))).toMatchObject({ state: 'suspended', refused: false });
      expect(countBy((await store.snapshot('p')).keys.map((k) => k.state))).toEqual(
        new Map([
          ['suspended', 4],
          ['active', 1],
        ]),
      );
    });

    it('the keys-out limit counts the circuit breaker too', async () => {
      const { store } = make({ clientKeysOutPerMinute: 1, breakerFailures: 1 });
      await store.sync('p', ids(2));
      const results = [];
      for (let i = 0; i < 2; i++) {
        const r = await store.acquire('p', { client: 'c_x' });
        if (!r.ok) throw new Error('expected a key');
        results.push(await store.report(r.lease, outcome('server_error')));
      }
      expect(results.map((r) => [r!.state, r!.refused])).toEqual([
        ['suspended', false],
        ['active', true],
      ]);
    });
  });

  describe('release', () => {
    it('gives the lease back without recording anything: no outcome, and the key is still cold', async () => {
      const { store } = make({ settleMs: 100 });
      await store.sync('p', ids(1));
      const gate = { firstAnswerGate: true };
      const held = await store.acquire('p', gate);
      if (!held.ok) throw new Error('expected a key');
      expect((await store.snapshot('p')).keys[0]!.inflight).toBe(1);
      expect(await store.release(held.lease)).toBe(true);
      expect(await store.release(held.lease)).toBe(false);
      const key = (await store.snapshot('p')).keys[0]!;
      expect(key).toMatchObject({ inflight: 0, state: 'active' });
      expect(key.lastAt).toBeUndefined();
      expect(key.lastClass).toBeUndefined();
      // Still cold: the gate lets one request through again, and holds the next.
      const again = await store.acquire('p', gate);
      expect(again.ok).toBe(true);
      expect(await store.acquire('p', gate)).toMatchObject({ ok: false, waitMs: 100 });
    });
    it('a success resets the consecutive failure count', async () => {
      const { store } = make();
      await store.sync('p', ids(1));
      for (let i = 0; i < 4; i++) await store.report(await lease(store), outcome('timeout'));
      await store.report(await lease(store), outcome('success'));
      for (let i = 0; i < 4; i++) await store.report(await lease(store), outcome('server_error'));
      expect((await store.snapshot('p')).keys[0]).toMatchObject({ state: 'active', consecutiveFailures: 4, failures: 8, successes: 1 });
    });

    it('a 429 naming no time backs off 100/200/400 ms, then past the ceiling cools for the ceiling', async () => {
      const { store, now } = make({ backoff: { baseMs: 100, factor: 2, maxMs: 400, jitter: 0 } });
      await store.sync('p', ids(1));
      const waits: number[] = [];
      for (let i = 0; i < 3; i++) {
        const l = await lease(store);
        const at = await now();
        const r = await store.report(l, outcome('rate_limited'));
        waits.push(Math.round((r!.untilMs - at) / 100) * 100);
        await sleep(r!.untilMs - (await now()) + 10);
      }
      expect(waits).toEqual([100, 200, 400]);
      expect(await store.report(await lease(store), outcome('rate_limited'))).toMatchObject({ state: 'cooling', reason: 'backoff_ceiling', cooledFor: 400 });
    });

    it('a later Retry-After is never shortened by an earlier one', async () => {
      const { store } = make();
      await store.sync('p', ids(1));
      const a = await lease(store);
      const b = await lease(store);
      const long = await store.report(a, outcome('rate_limited', { retryAfterMs: 5000 }));
      const short = await store.report(b, outcome('rate_limited', { retryAfterMs: 1000 }));
      expect(short!.untilMs).toBe(long!.untilMs);
    });

    it('operator actions: disable, enable, clear; the worker cannot undo an operator disable', async () => {
      const { store } = make();
      await store.sync('p', ids(2));
      expect(await store.setState('p', 'k00', 'disable')).toEqual({ state: 'disabled', changed: true });
      expect(await handOut(store, 2)).toEqual(['k01', 'k01']);
      await expect(store.setState('p', 'k00', 'reinstate')).rejects.toThrow('disabled by an operator');
      // A 401 on an operator-disabled key keeps the operator's reason.
      expect(await store.setState('p', 'k00', 'enable')).toEqual({ state: 'active', changed: true });
      const l = await lease(store);
      expect(l.keyId).toBe('k00');
      await store.report(l, outcome('rate_limited', { retryAfterMs: 60_000 }));
      expect(await store.setState('p', 'k00', 'clear')).toEqual({ state: 'active', changed: true });
      expect(await store.setState('p', 'k00', 'clear')).toEqual({ state: 'active', changed: false });
      await expect(store.setState('p', 'nope', 'disable')).rejects.toThrow('no such key');
    });

    it('the worker reinstates suspended and upstream-disabled keys, suspends again, invalidates', async () => {
      const { store } = make();
      await store.sync('p', ids(2));
      await store.report(await lease(store), outcome('quota_exhausted'));
      await store.report(await lease(store), outcome('invalid_key'));
      expect(await store.acquire('p')).toEqual({ ok: false });
      expect(await store.setState('p', 'k00', 'suspend', 'still_quota')).toEqual({ state: 'suspended', changed: false });
      expect((await store.snapshot('p')).keys[0]!.reason).toBe('still_quota');
      expect(await store.setState('p', 'k00', 'reinstate')).toEqual({ state: 'active', changed: true });
      expect(await store.setState('p', 'k01', 'reinstate')).toEqual({ state: 'active', changed: true });
      expect(await store.setState('p', 'k01', 'invalidate', 'invalid_key')).toEqual({ state: 'disabled', changed: true });
      expect((await store.snapshot('p')).keys.map((k) => k.state)).toEqual(['active', 'disabled']);
    });
  });

  describe('exhaustion', () => {
    it('all keys cooling: no key, and the ms until the earliest returns', async () => {
      const { store } = make();
      await store.sync('p', ids(3));
      for (const w of [3000, 1200, 2000]) await store.report(await lease(store), outcome('rate_limited', { retryAfterMs: w }));
      const none = await store.acquire('p');
      expect(none.ok).toBe(false);
      if (!none.ok) expect(Math.abs(none.waitMs! - 1200)).toBeLessThanOrEqual(50);
    });

    it('all keys suspended or disabled: no key and no time', async () => {
      const { store } = make();
      await store.sync('p', ids(2));
      await store.setState('p', 'k00', 'disable');
      await store.setState('p', 'k01', 'disable');
      expect(await store.acquire('p')).toEqual({ ok: false });
    });
  });

  describe('first-answer gate', () => {
    it('a key never answered gets one request at a time; the rest wait settle ms, then the first answer opens it', async () => {
      const { store, peer } = make({ settleMs: 100 });
      await store.sync('p', ids(2));
      const gate = { firstAnswerGate: true };
      const stores = [store, peer()];
      const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => stores[i % 2]!.acquire('p', gate)));
      const granted = burst.filter((r) => r.ok);
      expect(granted.map((r) => r.ok && r.lease.keyId).sort()).toEqual(['k00', 'k01']);
      for (const r of burst.filter((b) => !b.ok)) expect(!r.ok && r.waitMs).toBe(100);
      // Without the gate (a request that has waited long enough) the key is handed out as before.
      expect((await store.acquire('p')).ok).toBe(true);
      // k00's first answer: from now on only its budget counts, and it has room.
      const first = granted.find((r) => r.ok && r.lease.keyId === 'k00')!;
      if (!first.ok) throw new Error('unreachable');
      await store.report(first.lease, outcome('success', { limitRequests: 20, remainingRequests: 15, resetRequestsMs: 5000 }));
      const after = await Promise.all([store.acquire('p', gate), store.acquire('p', gate), store.acquire('p', gate)]);
      expect(after.map((r) => r.ok && r.lease.keyId)).toEqual(['k00', 'k00', 'k00']);
    });
  });

  describe('budgets', () => {
    it('after remaining-requests 3, 8 parallel acquires get the key 3 times, then wait for the reset', async () => {
      const { store, peer } = make();
      await store.sync('p', ids(1));
      await store.report(await lease(store), outcome('success', { limitRequests: 20, remainingRequests: 3, resetRequestsMs: 5000 }));
      const stores = [store, peer(), peer(), peer()];
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => stores[i % 4]!.acquire('p')));
      expect(results.filter((r) => r.ok).map((r) => r.ok && r.remainingRequests).sort()).toEqual([0, 1, 2]);
      const none = results.find((r) => !r.ok);
      expect(none && !none.ok && none.waitMs).toBeGreaterThan(4000);
    });

    it('once the learned reset has passed the key has its learned limit again, no more, until an answer tells', async () => {
      const { store } = make({ settleMs: 50 });
      await store.sync('p', ids(1));
      await store.report(await lease(store), outcome('success', { limitRequests: 3, remainingRequests: 0, resetRequestsMs: 300 }));
      expect(await store.acquire('p')).toMatchObject({ ok: false });
      await sleep(350);
      const window = [await store.acquire('p'), await store.acquire('p'), await store.acquire('p'), await store.acquire('p')];
      expect(window.map((r) => r.ok)).toEqual([true, true, true, false]);
      // Spent by our own hand-outs with their answers on the way: look again shortly, not never.
      const last = window[3]!;
      expect(!last.ok && last.waitMs).toBeLessThanOrEqual(50);
      // The first answer of the new window says how much is really left and when it resets.
      const first = window[0]!;
      if (!first.ok) throw new Error('unreachable');
      await store.report(first.lease, outcome('success', { limitRequests: 3, remainingRequests: 2, resetRequestsMs: 5000 }));
      expect(bucketOf(await store.snapshot('p'), 'k00')).toMatchObject({ remainingRequests: 0 });
    });

    it('a request too large for what a key has left skips it without cooling it; a nearly spent key cools', async () => {
      const { store } = make();
      await store.sync('p', ids(2));
      const tokens = { limitTokens: 20_000, resetTokensMs: 5000 };
      for (const remainingTokens of [19_000, 500]) {
        await store.report(await lease(store), outcome('success', { ...tokens, remainingTokens }));
      }
      // 19,500 tokens fit nowhere. k00 (19,000 left) is only skipped by this request; k01 (500 of 20,000
      // left: under 5 %) is as good as spent and cools. The wait is until the first reset.
      const big = await store.acquire('p', { tokens: 19_500 });
      expect(big.ok).toBe(false);
      expect(!big.ok && big.waitMs).toBeGreaterThan(4000);
      const snap = await store.snapshot('p');
      expect(['k00', 'k01'].map((id) => [bucketOf(snap, id)!.state, bucketOf(snap, id)!.reason])).toEqual([
        ['ready', undefined],
        ['cooling', 'budget_tokens'],
      ]);
      // k00 still serves what it holds.
      const small = await store.acquire('p', { tokens: 1000 });
      expect(small.ok && small.lease.keyId).toBe('k00');
    });

    it('declared tpm: a request too large for what is left of the window skips the key, a nearly full window cools it', async () => {
      const { store } = make();
      await store.sync('p', [{ id: 'k00', weight: 1, tpm: 1000, windowMs: 60_000 }]);
      await store.release(await lease(store)); // nothing spent yet
      expect((await store.acquire('p', { tokens: 600 })).ok).toBe(true); // 400 left
      const big = await store.acquire('p', { tokens: 500 });
      expect(big).toMatchObject({ ok: false });
      expect(bucketOf(await store.snapshot('p'), 'k00')!.state).toBe('ready');
      expect((await store.acquire('p', { tokens: 380 })).ok).toBe(true); // 20 left: under 5 % of 1,000
      expect(await store.acquire('p', { tokens: 100 })).toMatchObject({ ok: false });
      expect(bucketOf(await store.snapshot('p'), 'k00')).toMatchObject({ state: 'cooling', reason: 'tpm' });
    });

    it('requests still in flight are subtracted from what a header says is left', async () => {
      const { store } = make();
      await store.sync('p', ids(1));
      const leases = [await lease(store), await lease(store), await lease(store)];
      await store.report(leases[0]!, outcome('success', { remainingRequests: 3, resetRequestsMs: 5000 }));
      expect(bucketOf(await store.snapshot('p'), 'k00')!.remainingRequests).toBe(1);
    });

    it('an estimate that was too low is raised by fresher answers, and the key returns', async () => {
      const { store } = make();
      await store.sync('p', ids(1));
      const leases = [];
      for (let i = 0; i < 4; i++) leases.push(await lease(store));
      await store.report(leases[3]!, outcome('success', { remainingRequests: 2, resetRequestsMs: 5000 }));
      expect(bucketOf(await store.snapshot('p'), 'k00')!.remainingRequests).toBe(0);
      expect(await store.acquire('p')).toMatchObject({ ok: false });
      for (const [i, l] of leases.slice(0, 3).entries()) {
        await store.report(l, outcome('success', { remainingRequests: 5 - i, resetRequestsMs: 5000 }));
      }
      expect(bucketOf(await store.snapshot('p'), 'k00')).toMatchObject({ state: 'ready', remainingRequests: 2 });
      expect(await store.acquire('p')).toMatchObject({ ok: true, remainingRequests: 1 });
    });

    it('an older answer arriving late does not raise what is left in a running window', async () => {
      const { store } = make();
      await store.sync('p', ids(1));
      await store.report(await lease(store), outcome('success', { remainingRequests: 4, resetRequestsMs: 5000 }));
      const leases = [];
      for (let i = 0; i < 4; i++) leases.push(await lease(store));
      await store.report(leases[3]!, outcome('success', { remainingRequests: 0, resetRequestsMs: 4900 }));
      await store.report(leases[0]!, outcome('success', { remainingRequests: 3, resetRequestsMs: 4900 }));
      expect(bucketOf(await store.snapshot('p'), 'k00')!.remainingRequests).toBe(0);
      expect(await store.acquire('p')).toMatchObject({ ok: false });
    });

    it('an answer from a window that has already reset says nothing of the new one: no refill past our hand-outs', async () => {
      const { store } = make({ settleMs: 50 });
      await store.sync('p', ids(1));
      await store.report(await lease(store), outcome('success', { limitRequests: 3, remainingRequests: 2, resetRequestsMs: 200 }));
      // Counted in the first window; their answers are still on their way when it resets.
      const late = [await lease(store), await lease(store)];
      await sleep(250);
      // The new window: the learned limit, handed out in full.
      const fresh = [await store.acquire('p'), await store.acquire('p'), await store.acquire('p')];
      expect(fresh.map((r) => r.ok)).toEqual([true, true, true]);
      // The late answers name the first window: 0 left, its reset already past.
      for (const l of late) await store.report(l, outcome('success', { limitRequests: 3, remainingRequests: 0, resetRequestsMs: 0 }));
      expect(await store.acquire('p')).toMatchObject({ ok: false });
      expect(bucketOf(await store.snapshot('p'), 'k00')).toMatchObject({ remainingRequests: 0 });
    });

    it('a declared rpm of 10 per 500 ms is never exceeded in any window', async () => {
      const { store, now } = make();
      await store.sync('p', [{ id: 'only', rpm: 10, windowMs: 500 }]);
      const granted: number[] = [];
      const deadline = Date.now() + 1200;
      while (Date.now() < deadline) {
        const r = await store.acquire('p');
        if (r.ok) granted.push(await now());
        else await sleep(Math.min(r.waitMs ?? 20, 20));
      }
      for (let i = 10; i < granted.length; i++) expect(granted[i]! - granted[i - 10]!).toBeGreaterThanOrEqual(500 - 15);
      expect(granted.length).toBeGreaterThanOrEqual(20);
      expect(granted.length).toBeLessThanOrEqual(30);
      expect(granted[9]! - granted[0]!).toBeLessThan(200); // the budget is usable at once
    });
  });

  describe('buckets: account x model group', () => {
    const take = async (store: KeyStore, group?: string) => {
      const r = await store.acquire('p', group ? { group } : {});
      if (!r.ok) throw new Error(`expected a key for ${group}`);
      return r.lease;
    };

    it("a 429 on one model cools that model's bucket only: the key serves other models meanwhile", async () => {
      const { store } = make();
      await store.sync('p', ids(2));
      const big = await take(store, 'gpt-big');
      expect(big).toMatchObject({ keyId: 'k00', account: '~k00', group: 'gpt-big' });
      expect(await store.report(big, outcome('rate_limited', { retryAfterMs: 30_000 }))).toMatchObject({ state: 'cooling', changed: true });
      expect((await take(store, 'gpt-big')).keyId).toBe('k01');
      // The small model still has both keys, in plain round robin.
      expect([(await take(store, 'gpt-small')).keyId, (await take(store, 'gpt-small')).keyId].sort()).toEqual(['k00', 'k01']);
      const snap = await store.snapshot('p');
      expect(snap.keys.map((k) => k.state)).toEqual(['active', 'active']);
      expect(snap.buckets.filter((b) => b.state === 'cooling').map((b) => `${b.account}|${b.group}`)).toEqual(['~k00|gpt-big']);
      expect(snap.groups).toEqual(['default', 'gpt-big', 'gpt-small', 'other']);
    });

    it('keys of one learned organization share its budget: one answer teaches it for all of them', async () => {
      const { store } = make();
      await store.sync('p', ids(3));
      const a = await take(store);
      const b = await take(store);
      // k02 answers naming no organization: its own account (not one that might be org-1's).
      await store.report(await take(store), outcome('success'));
      // Both answers name org-1: the provider says 2 left for the organization (b's answer is fresher).
      expect(await store.report(a, outcome('success', { limitRequests: 10, remainingRequests: 3, resetRequestsMs: 30_000 }), 'org-1')).toMatchObject({
        account: 'org-1',
      });
      await store.report(b, outcome('success', { limitRequests: 10, remainingRequests: 2, resetRequestsMs: 30_000 }), 'org-1');
      // k00 and k01 together get 2 more; k02 (its own account until an answer says otherwise) is not held back.
      const picked = [];
      for (let i = 0; i < 6; i++) picked.push((await take(store)).keyId);
      expect(countBy(picked.filter((id) => id !== 'k02')).size).toBeGreaterThan(0);
      expect(picked.filter((id) => id !== 'k02')).toHaveLength(2);
      const snap = await store.snapshot('p');
      expect(snap.keys.map((k) => k.account)).toEqual(['org-1', 'org-1', undefined]);
      expect(snap.buckets.find((x) => x.account === 'org-1')).toMatchObject({ state: 'cooling', reason: 'budget' });
    });

    describe('a budget learned while keys of unknown account have requests in flight', () => {
      // A cold burst: the first-answer gate lets each key (its own account until an answer names one)
      // have one request in flight; the provider counted all three when the first answer comes back.
      const coldStart = async (store: KeyStore) => {
        await store.sync('p', ids(3));
        const cold = [await take(store), await take(store), await take(store)];
        await store.report(cold[0]!, outcome('success', { limitRequests: 20, remainingRequests: 19, resetRequestsMs: 30_000 }), 'org-1');
        return cold;
      };
      const grants = async (store: KeyStore) => {
        const picked: string[] = [];
        for (let i = 0; i < 30; i++) {
          const r = await store.acquire('p', { firstAnswerGate: true });
          if (!r.ok) break;
          picked.push(r.lease.keyId);
        }
        return picked;
      };

      it('leaves room for them: they may be that account\'s, counted already', async () => {
        const { store } = make({ settleMs: 50 });
        const cold = await coldStart(store);
        // 19 left as the first answer saw it, 2 of which k01's and k02's requests may have taken.
        expect(await grants(store)).toEqual(Array(17).fill('k00'));
        // They were: their answers name org-1 and say so. Nothing is left for anyone.
        await store.report(cold[1]!, outcome('success', { limitRequests: 20, remainingRequests: 18, resetRequestsMs: 30_000 }), 'org-1');
        await store.report(cold[2]!, outcome('success', { limitRequests: 20, remainingRequests: 17, resetRequestsMs: 30_000 }), 'org-1');
        expect(await grants(store)).toEqual([]);
      });

      it('gives the room back when they turn out to be another account\'s', async () => {
        const { store } = make({ settleMs: 50 });
        const cold = await coldStart(store);
        expect(await grants(store)).toHaveLength(17);
        await store.report(cold[1]!, outcome('success', { limitRequests: 20, remainingRequests: 19, resetRequestsMs: 30_000 }), 'org-2');
        await store.report(cold[2]!, outcome('success', { limitRequests: 20, remainingRequests: 18, resetRequestsMs: 30_000 }), 'org-2');
        await sleep(60); // org-1 waited for them: it is looked at again after settleMs
        const more = await grants(store);
        expect(more.filter((id) => id === 'k00')).toHaveLength(2);
      });
    });

    it('a declared account is shared from the first request and wins over what answers say', async () => {
      const { store } = make();
      await store.sync('p', [
        { id: 'k00', account: 'acme', rpm: 3, windowMs: 60_000 },
        { id: 'k01', account: 'acme', rpm: 3, windowMs: 60_000 },
      ]);
      // Declared rpm 3 is the account's: three hand-outs over both keys, then none.
      const first = [await take(store), await take(store), await take(store)];
      expect(first.map((l) => l.keyId)).toEqual(['k00', 'k01', 'k00']);
      expect(await store.acquire('p')).toMatchObject({ ok: false });
      expect(await store.report(first[0]!, outcome('success'), 'org-other')).toMatchObject({ account: 'acme' });
      expect((await store.snapshot('p')).keys.map((k) => [k.account, k.accountDeclared])).toEqual([
        ['acme', true],
        ['acme', true],
      ]);
    });

    it('quota exhaustion parks every key of the account; a bad key parks only itself', async () => {
      const { store } = make();
      await store.sync('p', [{ id: 'k00', account: 'acme' }, { id: 'k01', account: 'acme' }, { id: 'k02' }, { id: 'k03' }]);
      expect(await store.report(await take(store), outcome('quota_exhausted'))).toMatchObject({ state: 'suspended', reason: 'quota' });
      expect(await store.report(await take(store), outcome('invalid_key'))).toMatchObject({ state: 'suspended', reason: 'suspect_invalid' });
      expect((await store.snapshot('p')).keys.map((k) => [k.id, k.state, k.reason ?? ''])).toEqual([
        ['k00', 'suspended', 'quota'],
        ['k01', 'suspended', 'quota'],
        ['k02', 'suspended', 'suspect_invalid'],
        ['k03', 'active', ''],
      ]);
    });

    it('declared limits per model group override the pool-wide ones for that group only', async () => {
      const { store } = make();
      await store.sync('p', [{ id: 'k00', rpm: 5, groups: { big: { rpm: 1 } }, windowMs: 60_000 }]);
      expect((await store.acquire('p', { group: 'big' })).ok).toBe(true);
      expect(await store.acquire('p', { group: 'big' })).toMatchObject({ ok: false });
      const small = await Promise.all([1, 2, 3, 4, 5, 6].map(() => store.acquire('p', { group: 'small' })));
      expect(small.map((r) => r.ok)).toEqual([true, true, true, true, true, false]);
    });

    it('past maxModelGroups, unknown models share "other"; configured groups and default are always kept', async () => {
      const { store } = make();
      await store.sync('p', ids(1), { modelGroups: ['big'], maxModelGroups: 1 });
      expect((await take(store, 'm-1')).group).toBe('m-1');
      expect((await take(store, 'm-2')).group).toBe('other');
      expect((await take(store, 'm-3')).group).toBe('other');
      expect((await take(store, 'big')).group).toBe('big');
      expect((await take(store)).group).toBe('default');
      expect((await take(store, 'not a|name')).group).toBe('other');
      expect((await store.snapshot('p')).groups).toEqual(['big', 'default', 'm-1', 'other']);
    });
  });

  describe('in-flight leases', () => {
    it('a lease never reported expires after its TTL and the in-flight count drains', async () => {
      const { store } = make({ leaseTtlMs: 150 });
      await store.sync('p', ids(1));
      for (let i = 0; i < 3; i++) await lease(store);
      expect((await store.snapshot('p')).keys[0]!.inflight).toBe(3);
      await sleep(250);
      await lease(store);
      expect((await store.snapshot('p')).keys[0]!.inflight).toBe(1);
    });

    it('reporting twice releases the lease once', async () => {
      const { store } = make();
      await store.sync('p', ids(1));
      const a = await lease(store);
      await lease(store);
      await store.report(a, outcome('success'));
      await store.report(a, outcome('success'));
      expect((await store.snapshot('p')).keys[0]!.inflight).toBe(1);
    });
  });

  describe('sync', () => {
    it('keeps the cooldown of a key that stays, drops removed keys, adds new ones', async () => {
      const { store } = make();
      await store.sync('p', ids(3));
      const cooled = await store.report(await lease(store), outcome('rate_limited', { retryAfterMs: 30_000 }));
      expect(await store.sync('p', [{ id: 'k00', weight: 2, label: 'primary' }, { id: 'k02' }, { id: 'k03' }])).toEqual({
        added: 1,
        removed: 1,
        total: 3,
      });
      const snap = await store.snapshot('p');
      expect(snap.keys.map((k) => [k.id, k.state])).toEqual([
        ['k00', 'active'],
        ['k02', 'active'],
        ['k03', 'active'],
      ]);
      expect(snap.keys[0]).toMatchObject({ weight: 2, label: 'primary' });
      expect(bucketOf(snap, 'k00')).toMatchObject({ state: 'cooling', until: cooled!.untilMs });
      expect(bucketOf(snap, 'k01')).toBeUndefined();
    });

    it('a report for a key removed while its request was in flight is ignored', async () => {
      const { store } = make();
      await store.sync('p', ids(1));
      const l = await lease(store);
      await store.sync('p', []);
      expect(await store.report(l, outcome('rate_limited', { retryAfterMs: 1000 }))).toBeUndefined();
      expect((await store.snapshot('p')).keys).toEqual([]);
    });
  });

  describe('snapshot', () => {
    it('reports every field the same way', async () => {
      const { store, now } = make();
      await store.sync('p', [{ id: 'a', label: 'first', weight: 2 }, { id: 'b' }, { id: 'c' }]);
      const a = await store.acquire('p', { exclude: ['b', 'c'] });
      if (!a.ok) throw new Error('expected a');
      const at = await now();
      await store.report(a.lease, outcome('success', { limitRequests: 50, remainingRequests: 40, resetRequestsMs: 6000, limitTokens: 1000, remainingTokens: 900, resetTokensMs: 6000 }));
      const b = await store.acquire('p', { exclude: ['a', 'c'] });
      if (!b.ok) throw new Error('expected b');
      await store.report(b.lease, outcome('rate_limited', { retryAfterMs: 9000 }, { errorCode: 'rate_limit_exceeded' }));
      await store.setState('p', 'c', 'disable');
      await lease(store); // a, in flight
      const snap = await store.snapshot('p');
      expect(Math.abs(snap.now - (await now()))).toBeLessThan(100);
      const [ka, kb, kc] = snap.keys;
      expect(ka).toMatchObject({
        id: 'a',
        label: 'first',
        state: 'active',
        weight: 2,
        inflight: 1,
        acquired: 2,
        successes: 1,
        rateLimited: 0,
        failures: 0,
        consecutiveFailures: 0,
        lastStatus: 200,
        lastClass: 'success',
      });
      expect(ka!.lastError).toBeUndefined();
      const [ba, bb] = snap.buckets;
      expect(ba).toMatchObject({
        account: '~a',
        group: 'default',
        state: 'ready',
        inflight: 1,
        remainingRequests: 39,
        limitRequests: 50,
        remainingTokens: 900,
        limitTokens: 1000,
      });
      expect(Math.abs(ba!.resetRequestsAt! - at - 6000)).toBeLessThan(100);
      expect(kb).toMatchObject({ id: 'b', state: 'active', rateLimited: 1, lastStatus: 429, lastError: 'rate_limit_exceeded' });
      expect(bb).toMatchObject({ account: '~b', group: 'default', state: 'cooling', reason: 'rate_limited' });
      expect(Math.abs(bb!.until! - at - 9000)).toBeLessThan(100);
      expect(kc).toMatchObject({ id: 'c', state: 'disabled', reason: 'operator', acquired: 0 });
      expect(kc!.parkedAt).toBeGreaterThan(0);
      expect(snap.buckets).toHaveLength(2);
      expect(snap.groups).toEqual(['default', 'other']);
    });
  });
});

/**
 * Differential check: the same long sequence of operations (acquires with exclusions, the first-answer
 * gate, token estimates and client ids; reports of every kind with and without request and token
 * headers; releases; operator and worker actions; re-syncs, some keys with a declared tpm) gives the
 * same keys, the same answers and the same final state on both stores.
 */
describe('RedisKeyStore and MemoryKeyStore agree step by step', () => {
  it('600 seeded random steps: identical hand-outs, results and final snapshots', async () => {
    // The jitter draws come from the same seeded sequence on both sides, as the issue asks.
    const draws = () => {
      let s = 7;
      return () => ((s = (s * 16807) % 2147483647) / 2147483647);
    };
    const policy = {
      backoff: { baseMs: 60_000, factor: 2, maxMs: 600_000, jitter: 0.5 },
      breakerFailures: 3,
      clientKeysOutPerMinute: 2,
      // Only the 2 ms windows below may run out during the run (each followed by a wait): a settle
      // cooldown ending between the two stores' turns of one step would make them differ.
      settleMs: 60_000,
    };
    const redisStore = newStore({ ...policy, random: draws() });
    const memory = new MemoryKeyStore({ ...policy, random: draws() });

    const stores: KeyStore[] = [redisStore, memory];
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    // Keys with a declared tpm, a declared rpm for one model group, a declared account (two share one).
    let specs: KeySpec[] = ids(6).map((s, i) => ({
      ...s,
      weight: 1 + (i % 3),
      ...(i % 3 === 0 ? { tpm: 1500, windowMs: 60_000 } : {}),
      ...(i % 3 === 1 ? { groups: { big: { rpm: 3 } }, windowMs: 60_000 } : {}),
      ...(i === 2 || i === 5 ? { account: 'org-decl' } : {}),
    }));
    // One configured group, room for two more: the other models share 'other'.
    const syncOptions = { modelGroups: ['big'], maxModelGroups: 2 };
    const groups = [undefined, 'big', 'gpt-a', 'gpt-b', 'gpt-c', 'gpt-d'];
    const journal: string[][] = [[], []];
    const held: Lease[][] = [[], []];
    const kinds = ['success', 'success', 'success', 'rate_limited', 'quota_exhausted', 'invalid_key', 'permission_denied', 'server_error', 'timeout', 'client_error'] as const;
    const actions: KeyAction[] = ['disable', 'enable', 'clear', 'reinstate', 'suspend', 'invalidate'];
    for (const store of stores) await store.sync('p', specs, syncOptions);

    for (let step = 0; step < 600; step++) {
      const roll = random();
      if (roll < 0.45) {
        const exclude = random() < 0.3 ? [pick(specs).id] : [];
        const tokens = random() < 0.7 ? Math.floor(random() * 400) : 0;
        const client = pick(['c_a', 'c_b', undefined]);
        const firstAnswerGate = random() < 0.3;
        const group = pick(groups);
        for (const [i, store] of stores.entries()) {
          const r = await store.acquire('p', { exclude, tokens, firstAnswerGate, ...(client ? { client } : {}), ...(group ? { group } : {}) });
          journal[i]!.push(
            r.ok
              ? `acquire ${r.lease.keyId} ${r.lease.account}|${r.lease.group} ${r.remainingRequests ?? '-'}`
              : `none ${group} ${r.waitMs === undefined ? '-' : 'wait'}`,
          );
          if (r.ok) held[i]!.push(r.lease);
        }
      } else if (roll < 0.85) {
        if (held[0]!.length === 0) continue;
        const at = Math.floor(random() * held[0]!.length);
        const kind = pick(kinds);
        // Some answers come back after their window reset (reset 0): they teach the limits only. Some
        // windows and cooldowns run out 2 ms after the answer: the step then waits 5 ms, so that on both
        // stores the next operation finds them over (a reset bucket full again, a cooled one back).
        let runsOut = false;
        const resetMs = () => {
          const roll = random();
          if (roll < 0.15) return 0;
          if (roll < 0.3) return (runsOut = true), 2;
          return 60_000;
        };
        const withTokens = random() < 0.5 ? { limitTokens: 2000, remainingTokens: Math.floor(random() * 1500), resetTokensMs: resetMs() } : {};
        const headers = random() < 0.5 ? { limitRequests: 30, remainingRequests: Math.floor(random() * 6), resetRequestsMs: resetMs(), ...withTokens } : {};
        const retryAfterMs = random() < 0.3 ? ((runsOut = true), 2) : 60_000;
        const rateLimit = kind === 'rate_limited' && random() < 0.5 ? { ...headers, retryAfterMs } : headers;
        // Some answers name the keys' organization (two organizations, learned unless declared).
        const account = random() < 0.5 ? pick(['org-x', 'org-y']) : undefined;
        for (const [i, store] of stores.entries()) {
          const [l] = held[i]!.splice(at, 1);
          const r = await store.report(l!, outcome(kind, rateLimit), account);
          // cooledFor: the exact cooldown each side computed (the backoff with its jitter draw included).
          journal[i]!.push(
            r ? `report ${l!.keyId} ${kind} -> ${r.state} ${r.reason} ${r.changed} ${r.refused} ${r.cooledFor} ${r.account}` : `report ${l!.keyId} ignored`,
          );
        }
        if (runsOut) await sleep(5);
      } else if (roll < 0.88) {
        if (held[0]!.length === 0) continue;
        const at = Math.floor(random() * held[0]!.length);
        for (const [i, store] of stores.entries()) {
          const [l] = held[i]!.splice(at, 1);
          journal[i]!.push(`release ${l!.keyId} ${await store.release(l!)}`);
        }
      } else if (roll < 0.95) {
        const id = pick(specs).id;
        const action = pick(actions);
        for (const [i, store] of stores.entries()) {
          const r = await store.setState('p', id, action, 'probe').then(
            (x) => `${x.state} ${x.changed}`,
            (e: Error) => `error ${e.message}`,
          );
          journal[i]!.push(`${action} ${id} -> ${r}`);
        }
      } else {
        // Never below two keys, so there is always one to act on.
        specs = random() < 0.5 && specs.length > 2 ? specs.slice(1) : [...specs, { id: `n${step}`, weight: 1, ...(step % 2 ? { account: 'org-x' } : {}) }];
        for (const [i, store] of stores.entries()) journal[i]!.push(`sync ${JSON.stringify(await store.sync('p', specs, syncOptions))}`);
      }
    }
    expect(journal[1]).toEqual(journal[0]);
    // Backoff cooldowns (jitter draws included) were computed, and equal, on both sides.
    expect(journal[0]!.filter((line) => / rate_limited -> cooling rate_limited true false [1-9]/.test(line)).length).toBeGreaterThan(3);
    const timeless = (snap: PoolSnapshot) => ({
      keys: snap.keys.map(({ lastAt, parkedAt, ...rest }) => rest),
      buckets: snap.buckets.map(({ until, lastAt, resetRequestsAt, resetTokensAt, ...rest }) => rest),
      groups: snap.groups,
    });
    expect(timeless(await memory.snapshot('p'))).toEqual(timeless(await redisStore.snapshot('p')));
    const kinds_ = countBy(journal[0]!.map((line) => line.split(' ')[0]!));
    const finalSnap = await redisStore.snapshot('p');
    const final = countBy(finalSnap.keys.map((k) => k.state));
    // The run met what it is meant to: learned and declared accounts, several groups, cooling buckets.
    expect(finalSnap.groups).toEqual(expect.arrayContaining(['big', 'default', 'other']));
    expect(journal[0]!.some((line) => / org-[xy]$/.test(line))).toBe(true);
    expect(journal[0]!.some((line) => /acquire \S+ org-decl\|/.test(line))).toBe(true);
    console.log(
      `conformance: ${journal[0]!.length} operations identical on both stores ${JSON.stringify(Object.fromEntries(kinds_))}, ` +
        `final states ${JSON.stringify(Object.fromEntries(final))}, ${finalSnap.buckets.length} buckets in ${finalSnap.groups.length} groups`,
    );
  });
});
