/**
 * Overhead on the happy path: requests/s and p50/p99 latency of a small chat completion (JSON, and
 * streamed as SSE) at fixed concurrency, for four targets side by side:
 *   direct          the simulated provider itself
 *   bare hop        bench/baselines/bare-proxy.ts: node:http forwarding with one fixed key (the floor)
 *   rotor x1        one `rotor proxy` replica (on Redis)
 *   rotor memory    the same replica on `memory://` (no Redis): what the Redis path adds is the gap
 *   rotor x3 (lb)   three replicas behind nginx (one Redis, one shared state)
 *   baseline x1     with BASELINE=<another checkout, dependencies installed>: that tree's replica on a
 *                   redis-server of its own (a change against what it changes, in one run)
 * for each upstream latency (the sim's --latency-ms). Every target is its own process; autocannon runs
 * here. Rounds are interleaved A/B (order reversed every other round) so drift hits every target alike;
 * medians of the rounds are printed, with ratios and added latency taken per round (paired) and then
 * the median.
 *
 *   pnpm --filter @rotor/bench proxy-overhead
 *   (env: LATENCIES=0,50 MODES=json,sse CONNECTIONS=50 ROUND_SECONDS=3 ROUNDS=3 BASELINE= JITTER_MS=0)
 * JITTER_MS adds up to that much latency per answer, drawn uniformly: with a constant latency the
 * connections come back in lock step, a burst every latency (real answers vary).
 */
import { CHAT_BODY, STREAM_BODY, loadTest, type LoadFigures } from './lib/load';
import {
  BENCH_TOKEN,
  Group,
  runMain,
  startBareProxy,
  startNginx,
  startRedis,
  startRotor,
  startRotorReplicas,
  startBaselineRotor,
  startSim,
  writeRotorConfig,
  type Child,
} from './lib/processes';
import { fmt, median, printTable } from './lib/stats';

const ALL_TARGETS = ['direct', 'bare hop', 'rotor x1', 'rotor memory', 'rotor x3 (lb)', 'baseline x1'] as const;
export type Target = (typeof ALL_TARGETS)[number];
/** The targets of this run: 'baseline x1' only with BASELINE. */
export const TARGETS = ALL_TARGETS.filter((t) => t !== 'baseline x1' || process.env.BASELINE);
export type Mode = 'json' | 'sse';

export interface OverheadOptions {
  latencies: number[];
  modes: Mode[];
  connections: number;
  seconds: number;
  rounds: number;
  jitterMs: number;
}

export interface OverheadCase {
  latencyMs: number;
  mode: Mode;
  connections: number;
  /** Medians of the rounds per target. */
  figures: Record<Target, LoadFigures>;
  /** Median over rounds of (target req/s ÷ bare hop req/s in the same round). */
  throughputVsBare: Record<Target, number>;
  /** Median over rounds of (target latency − direct latency in the same round), ms. */
  addedP50: Record<Target, number>;
  addedP99: Record<Target, number>;
}

export function optionsFromEnv(): OverheadOptions {
  const list = (name: string, fallback: string) => (process.env[name] ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
  return {
    latencies: list('LATENCIES', '0,50').map(Number),
    modes: list('MODES', 'json,sse') as Mode[],
    connections: Number(process.env.CONNECTIONS ?? 50),
    seconds: Number(process.env.ROUND_SECONDS ?? 3),
    rounds: Number(process.env.ROUNDS ?? 3),
    jitterMs: Number(process.env.JITTER_MS ?? 0),
  };
}

interface Endpoint {
  url: string;
  token: string;
}

function byTarget<T>(make: (target: Target) => T): Record<Target, T> {
  return Object.fromEntries(TARGETS.map((t) => [t, make(t)])) as Record<Target, T>;
}

export async function runOverhead(options: OverheadOptions): Promise<OverheadCase[]> {
  const group = new Group();
  try {
    const redis = group.add(await startRedis());
    const sims = new Map<number, Child>();
    const bares = new Map<number, Child>();
    for (const latency of options.latencies) {
      const sim = group.add(await startSim({ latencyMs: latency, jitterMs: options.jitterMs }));
      sims.set(latency, sim);
      bares.set(latency, group.add(await startBareProxy(sim.url)));
    }
    // One pool per upstream latency, routed at /lat<ms>; 5 keys, limits far above the load.
    const pools = Object.fromEntries(
      options.latencies.map((latency) => [
        `lat${latency}`,
        { baseUrl: `${sims.get(latency)!.url}/v1`, keys: Array.from({ length: 5 }, (_, i) => `sk-overhead-${latency}-${i}`) },
      ]),
    );
    const config = writeRotorConfig(redis.url, pools);
    const replicas = (await startRotorReplicas(config, 3)).map((r) => group.add(r));
    const onMemory = group.add(await startRotor(writeRotorConfig('memory://', pools)));
    const lb = group.add(await startNginx(replicas.map((r) => r.port)));
    const baseline = (await startBaselineRotor(group, pools))?.rotor ?? replicas[0]!;

    const endpoints = (latency: number): Record<Target, Endpoint> => ({
      direct: { url: `${sims.get(latency)!.url}/v1/chat/completions`, token: 'sk-direct' },
      'bare hop': { url: `${bares.get(latency)!.url}/v1/chat/completions`, token: 'ignored-by-the-bare-hop' },
      'rotor x1': { url: `${replicas[0]!.url}/lat${latency}/chat/completions`, token: BENCH_TOKEN },
      'rotor memory': { url: `${onMemory.url}/lat${latency}/chat/completions`, token: BENCH_TOKEN },
      'rotor x3 (lb)': { url: `${lb.url}/lat${latency}/chat/completions`, token: BENCH_TOKEN },
      'baseline x1': { url: `${baseline.url}/lat${latency}/chat/completions`, token: BENCH_TOKEN },
    });

    const cases: OverheadCase[] = [];
    for (const latency of options.latencies) {
      for (const mode of options.modes) {
        const body = mode === 'sse' ? STREAM_BODY : CHAT_BODY;
        const targets = endpoints(latency);
        const run = (target: Target, seconds: number) =>
          loadTest({ ...targets[target], body, connections: options.connections, seconds });
        // Warm-up: JIT, keep-alive sockets, script cache, nginx upstream connections.
        for (const target of TARGETS) await run(target, 1);
        const rounds: Record<Target, LoadFigures>[] = [];
        for (let round = 0; round < options.rounds; round++) {
          const order = round % 2 === 0 ? [...TARGETS] : [...TARGETS].reverse();
          const figures: Partial<Record<Target, LoadFigures>> = {};
          for (const target of order) figures[target] = await run(target, options.seconds);
          rounds.push(figures as Record<Target, LoadFigures>);
        }
        const of = (target: Target, pick: (f: LoadFigures) => number) => median(rounds.map((r) => pick(r[target])));
        const result: OverheadCase = {
          latencyMs: latency,
          mode,
          connections: options.connections,
          figures: byTarget((t) => ({
            rps: of(t, (f) => f.rps),
            p50: of(t, (f) => f.p50),
            p99: of(t, (f) => f.p99),
            ok: rounds.reduce((sum, r) => sum + r[t].ok, 0),
            errors: rounds.reduce((sum, r) => sum + r[t].errors, 0),
            errorDetail: rounds.map((r) => r[t].errorDetail).join('; '),
          })),
          throughputVsBare: byTarget((t) => median(rounds.map((r) => r[t].rps / r['bare hop'].rps))),
          addedP50: byTarget((t) => median(rounds.map((r) => r[t].p50 - r.direct.p50))),
          addedP99: byTarget((t) => median(rounds.map((r) => r[t].p99 - r.direct.p99))),
        };
        printCase(result, options);
        cases.push(result);
      }
    }
    return cases;
  } finally {
    await group.stop();
  }
}

function printCase(c: OverheadCase, options: OverheadOptions): void {
  console.log(
    `\n${c.mode.toUpperCase()}, upstream latency ${c.latencyMs} ms${options.jitterMs ? ` + 0-${options.jitterMs} ms` : ''}, ${c.connections} connections, ` +
      `${options.rounds} x ${options.seconds} s interleaved rounds (medians; ratios and added latency paired per round)`,
  );
  printTable(
    ['target', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'x bare req/s', '+p50 ms', '+p99 ms'],
    TARGETS.map((t) => [
      t,
      fmt(c.figures[t].rps, 0),
      fmt(c.figures[t].p50, 2),
      fmt(c.figures[t].p99, 2),
      c.figures[t].errors,
      fmt(c.throughputVsBare[t], 2),
      t === 'direct' ? '-' : fmt(c.addedP50[t], 2),
      t === 'direct' ? '-' : fmt(c.addedP99[t], 2),
    ]),
  );
}

if (require.main === module) {
  runMain(async () => {
    const options = optionsFromEnv();
    console.log(`proxy overhead: latencies ${options.latencies.join(', ')} ms, modes ${options.modes.join(', ')}`);
    await runOverhead(options);
  });
}
