/**
 * Where a replica's CPU goes: CPU time per proxied request (user + system, from /proc/<pid>/stat) of
 *   bare hop          the node:http floor (one fixed key, no logic)
 *   express + hpm     the floor of the prescribed stack: Express and one http-proxy-middleware,
 *                     one fixed key, no Rotor logic at all
 *   rotor memory://   a Rotor replica with its in-memory store: Express, http-proxy-middleware,
 *                     classification, metrics, rotation, but no Redis
 *   rotor redis       a Rotor replica on Redis, and the redis-server's own CPU per request
 * Each target proxies the same number of JSON completions (0 ms upstream) per round; rounds are
 * interleaved (order reversed every other round); medians of the rounds. Unlike req/s, CPU per request
 * barely depends on what else the 2 cores are doing, so it says what a target costs, not how it fared.
 *
 *   pnpm --filter @rotor/bench cpu-cost     (env: CPU_REQUESTS=5000 CPU_ROUNDS=5 CONNECTIONS=20
 *                                            BASELINE=<another checkout, dependencies installed>)
 * BASELINE adds `baseline redis`: that checkout's replica on a redis-server of its own, interleaved
 * with the rest, so a change is measured against what it changes in one run (runs apart differ more
 * on a shared machine than most changes do).
 */
import { CHAT_BODY, loadTest } from './lib/load';
import {
  BENCH_TOKEN,
  cpuUs,
  Group,
  runMain,
  startBareProxy,
  startExpressHpmProxy,
  startRedis,
  startRotor,
  startBaselineRotor,
  startSim,
  writeRotorConfig,
  type Child,
} from './lib/processes';
import { fmt, median, printTable } from './lib/stats';

export interface CpuCostOptions {
  requests: number;
  rounds: number;
  connections: number;
}

export interface CpuCostRow {
  target: string;
  /** CPU µs per request of the proxy process. */
  proxyUs: number;
  /** CPU µs per request of redis-server (rotor redis only). */
  redisUs?: number;
  /** proxyUs (+ redisUs) ÷ the bare hop's, paired per round. */
  xBare: number;
  /** proxyUs ÷ the bare hop's, and redisUs ÷ the bare hop's, paired per round (the issue's two targets). */
  proxyXBare: number;
  redisXBare?: number;
}

export function optionsFromEnv(): CpuCostOptions {
  return {
    requests: Number(process.env.CPU_REQUESTS ?? 5000),
    rounds: Number(process.env.CPU_ROUNDS ?? 5),
    connections: Number(process.env.CONNECTIONS ?? 20),
  };
}

const ALL_TARGETS = ['bare hop', 'express + hpm', 'rotor memory://', 'rotor redis', 'baseline redis'] as const;
type Target = (typeof ALL_TARGETS)[number];
/** Targets with a redis-server of their own, whose CPU is counted with theirs. */
const ON_REDIS = new Set<Target>(['rotor redis', 'baseline redis']);

export async function runCpuCost(options: CpuCostOptions): Promise<CpuCostRow[]> {
  const group = new Group();
  try {
    const redis = group.add(await startRedis());
    const sim = group.add(await startSim());
    const bare = group.add(await startBareProxy(sim.url));
    const expressHpm = group.add(await startExpressHpmProxy(sim.url));
    const pool = { cost: { baseUrl: `${sim.url}/v1`, keys: Array.from({ length: 5 }, (_, i) => `sk-cpu-${i}`) } };
    const onMemory = group.add(await startRotor(writeRotorConfig('memory://', pool)));
    const onRedis = group.add(await startRotor(writeRotorConfig(redis.url, pool)));
    const baseline = (await startBaselineRotor(group, pool)) ?? { rotor: onRedis, redis };
    const TARGETS = ALL_TARGETS.filter((t) => t !== 'baseline redis' || process.env.BASELINE);
    const endpoints: Record<Target, { proc: Child; url: string; token: string; redis?: Child }> = {
      'bare hop': { proc: bare, url: `${bare.url}/v1/chat/completions`, token: 'ignored' },
      'express + hpm': { proc: expressHpm, url: `${expressHpm.url}/v1/chat/completions`, token: 'ignored' },
      'rotor memory://': { proc: onMemory, url: `${onMemory.url}/cost/chat/completions`, token: BENCH_TOKEN },
      'rotor redis': { proc: onRedis, url: `${onRedis.url}/cost/chat/completions`, token: BENCH_TOKEN, redis },
      'baseline redis': { proc: baseline.rotor, url: `${baseline.rotor.url}/cost/chat/completions`, token: BENCH_TOKEN, redis: baseline.redis },
    };
    const run = async (target: Target, amount: number) => {
      const { proc, url, token, redis: itsRedis = redis } = endpoints[target];
      const [p0, r0] = [cpuUs(proc.pid), cpuUs(itsRedis.pid)];
      const figures = await loadTest({ url, token, body: CHAT_BODY, connections: options.connections, amount });
      if (figures.errors > 0) throw new Error(`${target}: ${figures.errors} failed requests (${figures.errorDetail})`);
      return { proxyUs: (cpuUs(proc.pid) - p0) / figures.ok, redisUs: (cpuUs(itsRedis.pid) - r0) / figures.ok };
    };
    for (const target of TARGETS) await run(target, 1000); // warm-up: JIT, sockets, script cache
    const rounds: Record<Target, { proxyUs: number; redisUs: number }>[] = [];
    for (let r = 0; r < options.rounds; r++) {
      const order = r % 2 === 0 ? [...TARGETS] : [...TARGETS].reverse();
      const round: Partial<Record<Target, { proxyUs: number; redisUs: number }>> = {};
      for (const target of order) round[target] = await run(target, options.requests);
      rounds.push(round as Record<Target, { proxyUs: number; redisUs: number }>);
    }
    const total = (t: Target, r: (typeof rounds)[number]) => r[t].proxyUs + (ON_REDIS.has(t) ? r[t].redisUs : 0);
    const rows: CpuCostRow[] = TARGETS.map((target) => ({
      target,
      proxyUs: median(rounds.map((r) => r[target].proxyUs)),
      ...(ON_REDIS.has(target) ? { redisUs: median(rounds.map((r) => r[target].redisUs)) } : {}),
      xBare: median(rounds.map((r) => total(target, r) / total('bare hop', r))),
      proxyXBare: median(rounds.map((r) => r[target].proxyUs / r['bare hop'].proxyUs)),
      ...(ON_REDIS.has(target) ? { redisXBare: median(rounds.map((r) => r[target].redisUs / r['bare hop'].proxyUs)) } : {}),
    }));
    for (const [i, r] of rounds.entries()) {
      console.log(`round ${i + 1}: ` + TARGETS.map((t) => `${t} ${fmt(r[t].proxyUs, 0)}${ON_REDIS.has(t) ? ` + ${fmt(r[t].redisUs, 0)}` : ''}`).join(', '));
    }
    console.log(
      `\ncpu cost: CPU time per request (user + system), ${options.requests} JSON completions per target per round, ` +
        `0 ms upstream, ${options.connections} connections, ${options.rounds} interleaved rounds (medians)`,
    );
    printTable(
      ['target', 'proxy µs/req', 'redis-server µs/req', 'proxy x bare', 'redis-server x bare', 'both x bare'],
      rows.map((row) => [
        row.target,
        fmt(row.proxyUs, 0),
        row.redisUs === undefined ? '-' : fmt(row.redisUs, 0),
        fmt(row.proxyXBare, 2),
        row.redisXBare === undefined ? '-' : fmt(row.redisXBare, 2),
        fmt(row.xBare, 2),
      ]),
    );
    return rows;
  } finally {
    await group.stop();
  }
}

if (require.main === module) runMain(() => runCpuCost(optionsFromEnv()));
