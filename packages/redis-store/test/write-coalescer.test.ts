import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { closeAll, connect, ids, newStore, outcome } from './helpers';
import { eventLoopSaturated } from '../src/loop-saturation';
import { RedisKeyStore } from '../src/redis-key-store';
import type { Lease } from '../src/types';

afterAll(closeAll);

/** Counts the writes that reach the socket (one per syscall: a corked batch is one _writev). */
function countWrites(redis: Redis): { count: () => number } {
  const socket = redis.stream as Socket & { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void };
  let writes = 0;
  const write = socket._write.bind(socket);
  socket._write = (...args: unknown[]) => {
    writes++;
    write(...args);
  };
  const writev = socket._writev?.bind(socket);
  if (writev) {
    socket._writev = (...args: unknown[]) => {
      writes++;
      writev(...args);
    };
  }
  return { count: () => writes };
}

async function leases(n: number) {
  const redis = connect();
  await redis.ping();
  const store = newStore({}, redis);
  await store.sync('p', ids(4));
  const held: Lease[] = [];
  for (let i = 0; i < n; i++) {
    const r = await store.acquire('p');
    if (!r.ok) throw new Error('expected a key');
    held.push(r.lease);
  }
  return { redis, store, held };
}

describe('writes nobody waits for are coalesced', () => {
  it('ten reports of one turn leave in one write, and an acquire leaves at once taking them along', async () => {
    const { redis, store, held } = await leases(10);
    const writes = countWrites(redis);
    const reports = held.map((lease) => store.report(lease, outcome('success')));
    expect(writes.count()).toBe(0); // held in the socket
    const acquired = store.acquire('p');
    expect(writes.count()).toBe(1); // the acquire's write carried the ten reports
    await Promise.all([...reports, acquired]);
    expect(writes.count()).toBe(1);
  });

  it("a success's report with no acquire after it still leaves within a few ms", async () => {
    const { redis, store, held } = await leases(1);
    const writes = countWrites(redis);
    const started = Date.now();
    const result = await store.report(held[0]!, outcome('success'));
    expect(result?.state).toBe('active');
    expect(writes.count()).toBe(1);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('any other report (a retry may wait for it) leaves at the end of the turn, together with the turn\'s others', async () => {
    const { redis, store, held } = await leases(3);
    const writes = countWrites(redis);
    const reports = held.map((lease) => store.report(lease, outcome('server_error')));
    expect(writes.count()).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes.count()).toBe(1);
    await Promise.all(reports);
  });
});

describe('stores sharing one connection', () => {
  it("share its cork: one store's acquire takes the other's held reports along", async () => {
    const { redis, store, held } = await leases(2);
    const other = new RedisKeyStore(redis, store.policy);
    const writes = countWrites(redis);
    const reports = held.map((lease) => other.report(lease, outcome('success')));
    const acquired = store.acquire('p');
    expect(writes.count()).toBe(1);
    await Promise.all([...reports, acquired]);
    expect(writes.count()).toBe(1);
  });
});

describe('acquires', () => {
  /** Keeps the event loop busy (the work a saturated replica has), long enough to fill a sampling window. */
  const busy = (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      // spin
    }
  };
  const afterTimers = () => new Promise((resolve) => setTimeout(resolve, 0));

  it('leave one write each while the event loop has room, and one write per turn while it is saturated', async () => {
    const { redis, store } = await leases(0);
    eventLoopSaturated(); // starts the sampler
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(eventLoopSaturated()).toBe(false);
    let writes = countWrites(redis);
    await Promise.all([store.acquire('p'), store.acquire('p'), store.acquire('p'), store.acquire('p')]);
    expect(writes.count()).toBe(4);

    busy(1500);
    await afterTimers(); // the overdue sample reads a window that was ≥ 90 % busy
    expect(eventLoopSaturated()).toBe(true);
    writes = countWrites(redis);
    const acquired = [store.acquire('p'), store.acquire('p'), store.acquire('p'), store.acquire('p')];
    expect(writes.count()).toBe(0); // held to the end of the turn
    await Promise.all(acquired);
    expect(writes.count()).toBe(1);
  });
});
