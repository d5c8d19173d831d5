/**
 * Scale: acquire latency, and acquire + report latency and throughput, for pools of 10 keys x 1 model
 * group, 1,000 x 1 and 100,000 keys x 10 model groups (requests spread over the groups, so every
 * group has its own ring and buckets), on a private redis-server, through the store itself
 * (RedisKeyStore, as the proxy calls it). Rounds are interleaved (10, 1k, 100k, 10, 1k, ...) so drift
 * hits every size alike; medians of the rounds are printed with the ratio largest / smallest (target
 * for acquire: ≤ 1.5).
 *
 *   pnpm --filter @rotor/bench store-scale
 *     (env: SIZES=10,1000,100000 GROUPS=1,1,10 SCALE_ROUNDS=5 OPS=4000 CONCURRENCY=16)
 */
import { Redis } from 'ioredis';
import { RedisKeyStore } from '@rotor/redis-store';
import { Group, runMain, startRedis } from './lib/processes';
import { fmt, median, percentile, printTable } from './lib/stats';

export interface ScaleOptions {
  sizes: number[];
  /** Model groups per pool, one per size. */
  groups: number[];
  rounds: number;
  ops: number;
  concurrency: number;
}

export interface ScaleRow {
  keys: number;
  groups: number;
  syncMs: number;
  /** acquire alone (the critical path), ms. */
  acquireP50: number;
  acquireP99: number;
  /** acquire then report, one after the other, ms. */
  cycleP50: number;
  cycleP99: number;
  cyclesPerSec: number;
}

export interface ScaleResult {
  rows: ScaleRow[];
  /** largest pool ÷ smallest pool, acquire p50. */
  acquireRatio: number;
}

export function optionsFromEnv(): ScaleOptions {
  return {
    sizes: (process.env.SIZES ?? '10,1000,100000').split(',').map(Number),
    groups: (process.env.GROUPS ?? '1,1,10').split(',').map(Number),
    rounds: Number(process.env.SCALE_ROUNDS ?? 5),
    ops: Number(process.env.OPS ?? 4000),
    concurrency: Number(process.env.CONCURRENCY ?? 16),
  };
}

interface Round {
  acquire: number[];
  cycle: number[];
  perSec: number;
}

async function round(store: RedisKeyStore, pool: string, groups: number, options: ScaleOptions): Promise<Round> {
  const acquire: number[] = [];
  const cycle: number[] = [];
  let remaining = options.ops;
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (remaining-- > 0) {
        const group = `model-${next++ % groups}`;
        const t0 = process.hrtime.bigint();
        const got = await store.acquire(pool, { group });
        const t1 = process.hrtime.bigint();
        if (!got.ok) throw new Error(`pool ${pool} ran out of keys`);
        await store.report(got.lease, {
          kind: 'success',
          status: 200,
          rateLimit: { limitRequests: 1_000_000, remainingRequests: 999_999, resetRequestsMs: 60_000 },
        });
        acquire.push(Number(t1 - t0) / 1e6);
        cycle.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  acquire.sort((a, b) => a - b);
  cycle.sort((a, b) => a - b);
  return { acquire, cycle, perSec: options.ops / seconds };
}

export async function runScale(options: ScaleOptions): Promise<ScaleResult> {
  const group = new Group();
  let redis: Redis | undefined;
  try {
    const server = group.add(await startRedis());
    redis = new Redis(server.url);
    const store = new RedisKeyStore(redis, { prefix: 'bench' });
    const syncMs = new Map<number, number>();
    for (const size of options.sizes) {
      const t0 = Date.now();
      await store.sync(`p${size}`, Array.from({ length: size }, (_, i) => ({ id: `k${i}` })));
      syncMs.set(size, Date.now() - t0);
    }
    const groupsOf = (i: number) => options.groups[i] ?? 1;
    // Warm-up: script cache, JIT, and each pool's group rings (a group's first request builds it, O(n)).
    for (const [i, size] of options.sizes.entries()) await round(store, `p${size}`, groupsOf(i), { ...options, ops: 200 });
    const results = new Map<number, Round[]>(options.sizes.map((s) => [s, []]));
    // Sizes in an order reversed every other round, so drift on a shared machine hits them alike.
    for (let r = 0; r < options.rounds; r++) {
      const order = r % 2 === 0 ? options.sizes : [...options.sizes].reverse();
      for (const size of order) results.get(size)!.push(await round(store, `p${size}`, groupsOf(options.sizes.indexOf(size)), options));
    }
    const rows: ScaleRow[] = options.sizes.map((size, i) => {
      const rounds = results.get(size)!;
      const of = (pick: (x: Round) => number) => median(rounds.map(pick));
      return {
        keys: size,
        groups: groupsOf(i),
        syncMs: syncMs.get(size)!,
        acquireP50: of((x) => percentile(x.acquire, 50)),
        acquireP99: of((x) => percentile(x.acquire, 99)),
        cycleP50: of((x) => percentile(x.cycle, 50)),
        cycleP99: of((x) => percentile(x.cycle, 99)),
        cyclesPerSec: of((x) => x.perSec),
      };
    });
    // The ratio largest / smallest is taken within each round (the sizes run back to back, so a
    // noisy machine moves both alike), then the median over the rounds.
    const largest = results.get(options.sizes[options.sizes.length - 1]!)!;
    const smallest = results.get(options.sizes[0]!)!;
    const acquireRatio = median(largest.map((x, i) => percentile(x.acquire, 50) / percentile(smallest[i]!.acquire, 50)));
    const result = { rows, acquireRatio };
    print(result, options);
    return result;
  } finally {
    redis?.disconnect();
    await group.stop();
  }
}

function print(result: ScaleResult, options: ScaleOptions): void {
  console.log(
    `\nstore scale: ${options.ops} acquire+report cycles x ${options.rounds} interleaved rounds, ` +
      `${options.concurrency} concurrent on one connection (medians of rounds)`,
  );
  printTable(
    ['keys', 'groups', 'sync ms', 'acquire p50 ms', 'acquire p99 ms', 'acq+report p50 ms', 'acq+report p99 ms', 'cycles/s'],
    result.rows.map((r) => [r.keys, r.groups, r.syncMs, fmt(r.acquireP50), fmt(r.acquireP99), fmt(r.cycleP50), fmt(r.cycleP99), fmt(r.cyclesPerSec, 0)]),
  );
  const small = result.rows[0]!;
  const large = result.rows[result.rows.length - 1]!;
  console.log(
    `\nratio ${large.keys} keys x ${large.groups} groups / ${small.keys} x ${small.groups}: acquire p50 ${fmt(result.acquireRatio, 2)} (target ≤ 1.5), ` +
      `acquire p99 ${fmt(large.acquireP99 / small.acquireP99, 2)}, acquire+report p50 ${fmt(large.cycleP50 / small.cycleP50, 2)}`,
  );
}

if (require.main === module) runMain(() => runScale(optionsFromEnv()));
