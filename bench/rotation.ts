/**
 * Rotation efficiency: how many provider calls and provider 429s it costs to serve a burst, Rotor vs
 * the naive rotator (bench/baselines/naive-rotator.ts: round robin, on a 429 retry at once with the
 * next key). The provider is the simulated one with 5 keys × 20 requests per window (window scaled
 * down to WINDOW_MS), once with no latency and once with a latency (LATENCIES: the time a request is
 * in flight, during which a rotator cannot know what it has spent); it runs in this process so its
 * counters can be read (only counts and wall time are measured here, not throughput). Rotor runs as 3 `rotor proxy` processes on one private Redis:
 * "rotor x1" sends the burst to one replica, "rotor x3 (lb)" through nginx to all three.
 *
 * Scenarios (every scenario × target gets its own fresh keys, so none sees another's windows):
 *   seed          cold, 100 concurrent (exactly the capacity)
 *   overload      cold, 200 concurrent (twice the capacity)
 *   overload warm one request per key first (the rotator has seen rate-limit headers), then 200
 *   partly used   as warm, then someone else spends 15 of 20 on 3 of the keys, one more request per
 *                 key (what the rotator can learn from), then 100 concurrent
 *
 *   pnpm --filter @rotor/bench rotation      (env: WINDOW_MS=3000 ROTATION_LATENCIES=0,300)
 */
import { startSimProvider, type SimProvider } from '@rotor/sim-provider';
import { burst, tally, type Answer } from './lib/load';
import {
  BENCH_TOKEN,
  Group,
  runMain,
  startNaiveRotator,
  startNginx,
  startRedis,
  startRotorReplicas,
  writeRotorConfig,
} from './lib/processes';
import { fmt, printTable } from './lib/stats';

const KEYS = 5;
const RPM = 20;

export const SCENARIOS = ['seed', 'overload', 'overload warm', 'partly used'] as const;
export type Scenario = (typeof SCENARIOS)[number];
export const ROTATORS = ['naive', 'rotor x1', 'rotor x3 (lb)'] as const;
export type Rotator = (typeof ROTATORS)[number];

export interface RotationOptions {
  windowMs: number;
  /** Provider latencies (ms): every scenario runs at each. */
  latencies: number[];
}

export interface RotationRow {
  latencyMs: number;
  scenario: Scenario;
  rotator: Rotator;
  requests: number;
  /** Provider capacity left for the burst (requests the keys could still take in this window). */
  capacity: number;
  completed: number;
  /** Answers other than 200, by status (-1 = no answer). */
  clientErrors: number;
  errorStatuses: Record<number, number>;
  upstreamCalls: number;
  upstream429: number;
  /** Upstream 429s ÷ keys ÷ windows the burst spanned. */
  upstream429PerKeyWindow: number;
  totalMs: number;
}

export function optionsFromEnv(): RotationOptions {
  return {
    windowMs: Number(process.env.WINDOW_MS ?? 3000),
    latencies: (process.env.ROTATION_LATENCIES ?? '0,300').split(',').filter(Boolean).map(Number),
  };
}

const slug = (scenario: Scenario) => scenario.replace(/ /g, '-');
const poolName = (latency: number, scenario: Scenario, rotator: Rotator) =>
  `${slug(scenario)}-${latency}-${rotator === 'naive' ? 'naive' : rotator === 'rotor x1' ? 'x1' : 'x3'}`;

export async function runRotation(options: RotationOptions): Promise<RotationRow[]> {
  const group = new Group();
  const sims = new Map<number, SimProvider>();
  try {
    const secrets = new Map<string, string[]>();
    for (const latency of options.latencies) {
      for (const scenario of SCENARIOS) {
        for (const rotator of ROTATORS) {
          const pool = poolName(latency, scenario, rotator);
          secrets.set(pool, Array.from({ length: KEYS }, (_, i) => `sk-rot-${pool}-${i}`));
        }
      }
      const own = [...secrets].filter(([pool]) => pool.includes(`-${latency}-`)).flatMap(([, keys]) => keys);
      sims.set(
        latency,
        await startSimProvider({
          windowMs: options.windowMs,
          latencyMs: latency,
          keys: Object.fromEntries(own.map((s) => [s, { rpm: RPM }])),
          maxLogEntries: 100,
        }),
      );
    }
    const baseUrl = (pool: string) => `${sims.get(Number(pool.split('-').at(-2)))!.url}/v1`;
    const pools = (naive: boolean) =>
      Object.fromEntries([...secrets].filter(([pool]) => pool.endsWith('-naive') === naive).map(([pool, keys]) => [pool, { baseUrl: baseUrl(pool), keys }]));
    const redis = group.add(await startRedis());
    const replicas = (await startRotorReplicas(writeRotorConfig(redis.url, pools(false)), 3)).map((r) => group.add(r));
    const lb = group.add(await startNginx(replicas.map((r) => r.port)));
    const naive = group.add(await startNaiveRotator(pools(true)));
    const entry: Record<Rotator, string> = { naive: naive.url, 'rotor x1': replicas[0]!.url, 'rotor x3 (lb)': lb.url };

    const rows: RotationRow[] = [];
    for (const latency of options.latencies) {
      const sim = sims.get(latency)!;
      for (const scenario of SCENARIOS) {
        for (const rotator of ROTATORS) {
          rows.push(await runScenario(sim, options, latency, scenario, rotator, entry[rotator], secrets.get(poolName(latency, scenario, rotator))!));
        }
      }
    }
    printRows(rows, options);
    return rows;
  } finally {
    await group.stop();
    for (const sim of sims.values()) await sim.close();
  }
}

async function runScenario(
  sim: SimProvider,
  options: RotationOptions,
  latencyMs: number,
  scenario: Scenario,
  rotator: Rotator,
  entry: string,
  keys: string[],
): Promise<RotationRow> {
  const pool = poolName(latencyMs, scenario, rotator);
  const send = (n: number) => burst(`${entry}/${pool}/chat/completions`, BENCH_TOKEN, n);
  const warm = async () => {
    const answers = await send(KEYS);
    if (answers.some((a) => a.status !== 200)) throw new Error(`${pool}: warm-up failed ${JSON.stringify(tally(answers))}`);
  };
  let usedByOthers = 0;
  if (scenario === 'overload warm') await warm();
  if (scenario === 'partly used') {
    await warm();
    for (const s of keys.slice(0, 3)) sim.consume(s, 15);
    usedByOthers = 3 * 15;
    await warm();
  }
  const requests = scenario === 'seed' || scenario === 'partly used' ? 100 : 200;
  const stat = (name: 'calls' | 'rateLimited' | 'ok') => keys.reduce((sum, s) => sum + sim.stats(s)[name], 0);
  const before = { calls: stat('calls'), rateLimited: stat('rateLimited') };
  const capacity = KEYS * RPM - stat('ok') - usedByOthers;
  const started = Date.now();
  const answers: Answer[] = await send(requests);
  const totalMs = Date.now() - started;
  const upstream429 = stat('rateLimited') - before.rateLimited;
  const { 200: completed = 0, ...errorStatuses } = tally(answers);
  return {
    latencyMs,
    scenario,
    rotator,
    requests,
    capacity,
    completed,
    clientErrors: requests - completed,
    errorStatuses,
    upstreamCalls: stat('calls') - before.calls,
    upstream429,
    upstream429PerKeyWindow: upstream429 / KEYS / Math.max(1, Math.ceil(totalMs / options.windowMs)),
    totalMs,
  };
}

function printRows(rows: RotationRow[], options: RotationOptions): void {
  console.log(
    `\nrotation efficiency: ${KEYS} keys x ${RPM} requests per ${options.windowMs} ms window (upstream 429s and calls counted by the provider)`,
  );
  printTable(
    ['latency', 'scenario', 'rotator', 'requests', 'capacity', 'completed', 'client errors', 'upstream calls', 'upstream 429s', '429s/key/window', 'total ms'],
    rows.map((r) => [
      `${r.latencyMs} ms`,
      r.scenario,
      r.rotator,
      r.requests,
      r.capacity,
      r.completed,
      `${r.clientErrors}${r.clientErrors ? ` (${Object.entries(r.errorStatuses).map(([s, n]) => `${n}x${s}`).join(' ')})` : ''}`,
      r.upstreamCalls,
      r.upstream429,
      fmt(r.upstream429PerKeyWindow, 1),
      r.totalMs,
    ]),
  );
}

if (require.main === module) runMain(() => runRotation(optionsFromEnv()));
