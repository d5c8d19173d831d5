/**
 * Redis cost per proxied request: round trips (commands a replica sends) and commands Redis executes
 * (script-internal calls included), on a private redis-server that only one `rotor proxy` replica
 * uses. Two independent readings over the same N successful requests:
 *   - INFO commandstats deltas (what Redis counts, script-internal commands included);
 *   - MONITOR, which shows who sent each command: a script call is named by its SHA (mapped to the
 *     script file through @rotor/redis-store's sources), and the `lua` lines after it are its
 *     internal commands. acquire is on the critical path (before the upstream call); report runs
 *     after the answer reached the client; anything else (heartbeat, readiness pings) is
 *     time-driven background, shown per second.
 *
 *   pnpm --filter @rotor/bench redis-cost       (env: REQUESTS=1000 COST_CONNECTIONS=10)
 */
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import { scriptSources } from '@rotor/redis-store';
import { CHAT_BODY, loadTest } from './lib/load';
import { BENCH_TOKEN, Group, runMain, startRedis, startRotor, startSim, writeRotorConfig } from './lib/processes';
import { fmt, printTable, sleep } from './lib/stats';

export interface RedisCostOptions {
  requests: number;
  connections: number;
}

export interface CommandRow {
  /** Script name (`acquire`, `report`, …) or Redis command. */
  name: string;
  role: 'critical path' | 'after the answer' | 'background' | 'per request (other)';
  /** Calls the replica sent, per successful request. */
  roundTripsPerRequest: number;
  /** Commands Redis ran per call (1 + script-internal commands). */
  commandsPerCall: number;
}

export interface RedisCostResult {
  requests: number;
  succeeded: number;
  seconds: number;
  rows: CommandRow[];
  /** Round trips per successful request on the critical path / in total (background excluded). */
  criticalPathRoundTrips: number;
  roundTripsPerRequest: number;
  /** From INFO commandstats: every command Redis ran, per successful request (background included). */
  commandstatsPerRequest: number;
  commandstats: Record<string, number>;
  backgroundPerSecond: number;
}

export function optionsFromEnv(): RedisCostOptions {
  return { requests: Number(process.env.REQUESTS ?? 1000), connections: Number(process.env.COST_CONNECTIONS ?? 10) };
}

const ROLES: Record<string, CommandRow['role']> = {
  acquire: 'critical path',
  report: 'after the answer',
  heartbeat: 'background',
  ping: 'background',
};
/** Commands the benchmark itself sends. */
const OWN = new Set(['info', 'monitor', 'client', 'config']);

async function commandstats(redis: Redis): Promise<Record<string, number>> {
  const info = await redis.info('commandstats');
  const calls: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2]);
  return calls;
}

export async function runRedisCost(options: RedisCostOptions): Promise<RedisCostResult> {
  const group = new Group();
  const clients: Redis[] = [];
  try {
    const redis = group.add(await startRedis());
    const sim = group.add(await startSim());
    const rotor = group.add(
      await startRotor(
        writeRotorConfig(redis.url, { cost: { baseUrl: `${sim.url}/v1`, keys: Array.from({ length: 5 }, (_, i) => `sk-cost-${i}`) } }),
      ),
    );
    const url = `${rotor.url}/cost/chat/completions`;
    await loadTest({ url, token: BENCH_TOKEN, body: CHAT_BODY, connections: options.connections, amount: 200 }); // warm-up
    await sleep(500);

    const scripts = new Map<string, string>();
    for (const source of scriptSources().values()) {
      scripts.set(crypto.createHash('sha1').update(source.lua).digest('hex'), source.name);
    }
    const admin = new Redis(redis.url);
    clients.push(admin);
    const monitor = await admin.monitor(); // its own connection
    clients.push(monitor);
    for (const client of clients) client.on('error', () => undefined);
    const calls = new Map<string, { calls: number; internal: number }>();
    let current: { calls: number; internal: number } | undefined;
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const command = (args[0] ?? '').toLowerCase();
      if (source === 'lua') {
        if (current) current.internal++;
        return;
      }
      current = undefined;
      if (OWN.has(command)) return;
      let name = command;
      if (command === 'evalsha' || command === 'eval') {
        const sha = command === 'eval' ? crypto.createHash('sha1').update(args[1] ?? '').digest('hex') : (args[1] ?? '');
        name = scripts.get(sha) ?? `${command} ${sha.slice(0, 8)}`;
      }
      const entry = calls.get(name) ?? { calls: 0, internal: 0 };
      calls.set(name, entry);
      entry.calls++;
      current = entry;
    });
    await sleep(100);
    const before = await commandstats(admin);
    const started = Date.now();
    const load = await loadTest({ url, token: BENCH_TOKEN, body: CHAT_BODY, connections: options.connections, amount: options.requests });
    await sleep(1000); // reports land after the answers
    const seconds = (Date.now() - started) / 1000;
    const after = await commandstats(admin);

    const n = load.ok;
    const rows: CommandRow[] = [...calls]
      .map(([name, c]) => {
        const role = ROLES[name] ?? 'per request (other)';
        return { name, role, roundTripsPerRequest: c.calls / n, commandsPerCall: 1 + c.internal / c.calls };
      })
      .sort((a, b) => b.roundTripsPerRequest - a.roundTripsPerRequest);
    const delta: Record<string, number> = {};
    for (const [command, count] of Object.entries(after)) {
      const d = count - (before[command] ?? 0);
      if (d > 0 && !OWN.has(command)) delta[command] = d;
    }
    const perRequest = rows.filter((r) => r.role !== 'background');
    const result: RedisCostResult = {
      requests: options.requests,
      succeeded: n,
      seconds,
      rows,
      criticalPathRoundTrips: perRequest.filter((r) => r.role !== 'after the answer').reduce((s, r) => s + r.roundTripsPerRequest, 0),
      roundTripsPerRequest: perRequest.reduce((s, r) => s + r.roundTripsPerRequest, 0),
      commandstatsPerRequest: Object.values(delta).reduce((s, d) => s + d, 0) / n,
      commandstats: delta,
      backgroundPerSecond: rows.filter((r) => r.role === 'background').reduce((s, r) => s + (r.roundTripsPerRequest * n) / seconds, 0),
    };
    print(result);
    return result;
  } finally {
    for (const client of clients) client.disconnect();
    await group.stop();
  }
}

function print(r: RedisCostResult): void {
  console.log(`\nRedis cost: ${r.succeeded} of ${r.requests} requests succeeded through one replica, ${fmt(r.seconds, 1)} s observed (MONITOR)`);
  printTable(
    ['script / command', 'role', 'round trips per request', 'Redis commands per call'],
    r.rows.map((row) => [row.name, row.role, fmt(row.roundTripsPerRequest, 3), fmt(row.commandsPerCall, 1)]),
  );
  console.log(
    `\nround trips per successful request: ${fmt(r.roundTripsPerRequest, 2)} (critical path ${fmt(r.criticalPathRoundTrips, 2)}); ` +
      `background ${fmt(r.backgroundPerSecond, 1)}/s`,
  );
  console.log(
    `INFO commandstats: ${fmt(r.commandstatsPerRequest, 1)} commands per request (script-internal and background included): ` +
      Object.entries(r.commandstats)
        .sort((a, b) => b[1] - a[1])
        .map(([c, d]) => `${c} ${fmt(d / r.succeeded, 2)}`)
        .join(', '),
  );
}

if (require.main === module) runMain(() => runRedisCost(optionsFromEnv()));
