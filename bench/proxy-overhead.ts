/**
 * Overhead of one Rotor replica on the happy path: requests/s and p50/p99 latency of a small chat
 * completion, direct to the simulated provider vs through `rotor proxy`, at fixed concurrency.
 * Rounds alternate (direct, rotor, direct, rotor, ...) so drift hits both alike; medians are printed
 * with the ratio rotor / direct and the added latency.
 *
 *   pnpm --filter @rotor/bench proxy-overhead
 *   (env: LATENCY_MS=0 CONNECTIONS=50 SECONDS=5 ROUNDS=3)
 */
import autocannon from 'autocannon';
import { spawnRedis } from '@rotor/testkit';
import { BENCH_TOKEN, startRotor, startSim } from './lib/processes';
import { fmt, median } from './lib/stats';

const LATENCY_MS = Number(process.env.LATENCY_MS ?? 0);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const SECONDS = Number(process.env.SECONDS ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string, token: string, seconds = SECONDS): Promise<Figures> {
  const result = await autocannon({
    url: `${url}/v1/chat/completions`,
    method: 'POST',
    connections: CONNECTIONS,
    duration: seconds,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: BODY,
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

async function main(): Promise<void> {
  const redis = await spawnRedis();
  const sim = await startSim(LATENCY_MS);
  const rotor = await startRotor(sim.url, redis.url);
  try {
    await load(sim.url, 'sk-direct', 1); // warm-up: JIT, sockets, script cache
    await load(rotor.url, BENCH_TOKEN, 1);
    const direct: Figures[] = [];
    const through: Figures[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      direct.push(await load(sim.url, 'sk-direct'));
      through.push(await load(rotor.url, BENCH_TOKEN));
    }
    const row = (name: string, runs: Figures[]) => {
      const m = { rps: median(runs.map((r) => r.rps)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)) };
      const errors = runs.reduce((sum, r) => sum + r.errors, 0);
      console.log(`${name.padEnd(16)} ${fmt(m.rps, 0).padStart(8)} ${fmt(m.p50, 2).padStart(8)} ${fmt(m.p99, 2).padStart(8)} ${String(errors).padStart(7)}`);
      return m;
    };
    console.log(`\nhappy path, upstream latency ${LATENCY_MS} ms, ${CONNECTIONS} connections, ${ROUNDS} x ${SECONDS} s rounds (medians)`);
    console.log('target             req/s   p50 ms   p99 ms  errors');
    const d = row('direct', direct);
    const r = row('rotor (1 replica)', through);
    console.log(`\nrotor / direct throughput: ${fmt(r.rps / d.rps, 2)}`);
    console.log(`added latency: p50 +${fmt(r.p50 - d.p50, 2)} ms, p99 +${fmt(r.p99 - d.p99, 2)} ms`);
  } finally {
    await rotor.stop();
    await sim.stop();
    await redis.kill();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
