/**
 * Scale: acquire + report latency and throughput for pools of 10, 1,000 and 100,000 keys, on a private
 * redis-server. Rounds are interleaved (10, 1k, 100k, 10, 1k, ...) so drift hits every size alike;
 * medians of the rounds are printed with the ratio largest / smallest (target ≤ 1.5).
 *
 *   pnpm --filter @rotor/bench store-scale            (ROUNDS=3 OPS=4000 CONCURRENCY=16 by default)
 */
import { Redis } from 'ioredis';
import { RedisKeyStore } from '@rotor/redis-store';
import { spawnRedis } from '@rotor/testkit';
import { fmt, median, percentile } from './lib/stats';

const SIZES = [10, 1_000, 100_000];
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const OPS = Number(process.env.OPS ?? 4000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);

interface Round {
  opsPerSec: number;
  p50: number;
  p99: number;
}

async function round(store: RedisKeyStore, pool: string): Promise<Round> {
  const latencies: number[] = [];
  let remaining = OPS;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (remaining-- > 0) {
        const t0 = process.hrtime.bigint();
        const got = await store.acquire(pool);
        if (!got.ok) throw new Error(`pool ${pool} ran out of keys`);
        await store.report(got.lease, {
          kind: 'success',
          status: 200,
          rateLimit: { limitRequests: 1_000_000, remainingRequests: 999_999, resetRequestsMs: 60_000 },
        });
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return { opsPerSec: OPS / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function main(): Promise<void> {
  const server = await spawnRedis();
  const redis = new Redis(server.url);
  const store = new RedisKeyStore(redis, { prefix: 'bench' });
  try {
    for (const size of SIZES) {
      const t0 = Date.now();
      await store.sync(`p${size}`, Array.from({ length: size }, (_, i) => ({ id: `k${i}` })));
      console.log(`pool of ${size} keys synced in ${Date.now() - t0} ms`);
    }
    await round(store, `p${SIZES[0]}`); // warm-up: script cache, JIT
    const results = new Map<number, Round[]>(SIZES.map((s) => [s, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const size of SIZES) results.get(size)!.push(await round(store, `p${size}`));
    }
    console.log(`\nacquire + report, ${OPS} ops x ${ROUNDS} rounds, concurrency ${CONCURRENCY} (medians of rounds)`);
    console.log('keys      ops/s      p50 ms   p99 ms');
    const summary = SIZES.map((size) => {
      const rounds = results.get(size)!;
      const row = {
        size,
        opsPerSec: median(rounds.map((x) => x.opsPerSec)),
        p50: median(rounds.map((x) => x.p50)),
        p99: median(rounds.map((x) => x.p99)),
      };
      console.log(`${String(size).padEnd(9)} ${fmt(row.opsPerSec, 0).padStart(8)}  ${fmt(row.p50).padStart(7)}  ${fmt(row.p99).padStart(7)}`);
      return row;
    });
    const small = summary[0]!;
    const large = summary[summary.length - 1]!;
    console.log(`\nratio ${large.size} / ${small.size} keys: p50 ${fmt(large.p50 / small.p50, 2)}, p99 ${fmt(large.p99 / small.p99, 2)}, throughput ${fmt(small.opsPerSec / large.opsPerSec, 2)} (target ≤ 1.5)`);
  } finally {
    redis.disconnect();
    await server.kill();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
