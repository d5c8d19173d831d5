/**
 * The whole suite, one part after the other, then one summary: each of the issue's targets next to
 * the figure measured in this run. A part that fails is reported and the others still run (exit code
 * 1). The results are also written as JSON (bench/.results/run-all-<time>.json). A watchdog ends the
 * run (and every child process) after SUITE_TIMEOUT_S.
 *
 *   pnpm --filter @rotor/bench all
 *   (env: every part's own variables, see bench/README.md; here ROUNDS defaults to 5 instead of 3;
 *    SUITE_TIMEOUT_S=900)
 */
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { optionsFromEnv as overheadOptions, runOverhead, type OverheadCase } from './proxy-overhead';
import { optionsFromEnv as rotationOptions, runRotation, type RotationRow } from './rotation';
import { optionsFromEnv as redisCostOptions, runRedisCost, type RedisCostResult } from './redis-cost';
import { optionsFromEnv as scaleOptions, runScale, type ScaleResult } from './store-scale';
import { optionsFromEnv as memoryOptions, runMemory, type MemoryResult } from './memory';
import { optionsFromEnv as cpuCostOptions, runCpuCost, type CpuCostRow } from './cpu-cost';
import { runMain } from './lib/processes';
import { fmt, printTable } from './lib/stats';

interface Results {
  overhead?: OverheadCase[];
  rotation?: RotationRow[];
  redisCost?: RedisCostResult;
  scale?: ScaleResult;
  memory?: MemoryResult;
  cpuCost?: CpuCostRow[];
}

type Verdict = 'met' | 'MISSED' | 'n/a';
interface Check {
  target: string;
  measured: string;
  verdict: Verdict;
}

const verdict = (ok: boolean | undefined): Verdict => (ok === undefined ? 'n/a' : ok ? 'met' : 'MISSED');

function checks(r: Results): Check[] {
  const out: Check[] = [];
  const overhead = (latency: number, mode: string) => r.overhead?.find((c) => c.latencyMs === latency && c.mode === mode);
  for (const mode of ['json', 'sse']) {
    const c = overhead(0, mode);
    if (!c) continue;
    out.push({
      target: `throughput, 0 ms upstream (${mode}): rotor x1 >= 0.8 x bare hop`,
      measured: `${fmt(c.throughputVsBare['rotor x1'], 2)} x (${fmt(c.figures['rotor x1'].rps, 0)} vs ${fmt(c.figures['bare hop'].rps, 0)} req/s); x3 behind nginx ${fmt(c.throughputVsBare['rotor x3 (lb)'], 2)} x`,
      verdict: verdict(c.throughputVsBare['rotor x1'] >= 0.8),
    });
  }
  for (const mode of ['json', 'sse']) {
    const c = overhead(50, mode);
    if (!c) continue;
    out.push({
      target: `added latency, 50 ms upstream, ${c.connections} conns (${mode}): p50 <= 1 ms, p99 <= 5 ms`,
      measured:
        `rotor x1 +${fmt(c.addedP50['rotor x1'], 2)} / +${fmt(c.addedP99['rotor x1'], 2)} ms ` +
        `(bare hop +${fmt(c.addedP50['bare hop'], 2)} / +${fmt(c.addedP99['bare hop'], 2)}, x3 +${fmt(c.addedP50['rotor x3 (lb)'], 2)} / +${fmt(c.addedP99['rotor x3 (lb)'], 2)})`,
      verdict: verdict(c.addedP50['rotor x1'] <= 1 && c.addedP99['rotor x1'] <= 5),
    });
  }
  if (r.redisCost) {
    const c = r.redisCost;
    out.push({
      target: 'Redis round trips per successful request: <= 2, 1 on the critical path',
      measured: `${fmt(c.roundTripsPerRequest, 2)} (critical path ${fmt(c.criticalPathRoundTrips, 2)}); ${fmt(c.commandstatsPerRequest, 1)} Redis commands incl. script-internal`,
      verdict: verdict(c.roundTripsPerRequest <= 2.005 && c.criticalPathRoundTrips <= 1.005),
    });
  }
  if (r.scale) {
    const small = r.scale.rows[0]!;
    const large = r.scale.rows[r.scale.rows.length - 1]!;
    out.push({
      target: `acquire latency, ${large.keys} keys <= 1.5 x ${small.keys} keys`,
      measured: `${fmt(r.scale.acquireRatio, 2)} x (p50 ${fmt(large.acquireP50)} vs ${fmt(small.acquireP50)} ms)`,
      verdict: verdict(r.scale.acquireRatio <= 1.5),
    });
  }
  if (r.memory) {
    const m = r.memory.rotor;
    out.push({
      target: `${r.memory.streams} concurrent streams: RSS <= 150 MB per replica`,
      measured: `peak ${fmt(m.peakMb, 1)} MB (idle ${fmt(m.idleMb, 1)}; bare hop peak ${fmt(r.memory.bareHop.peakMb, 1)}), ${m.completed} completed`,
      verdict: verdict(m.peakMb <= 150 && m.completed === r.memory.streams),
    });
    out.push({
      target: 'after the streams: RSS within 20% of idle',
      measured:
        `${fmt(m.afterVsIdle, 2)} x idle ${fmt(m.afterS, 0)} s after the end (${fmt(m.afterMb, 1)} MB; 1 s after: ${fmt(m.endedMb, 1)} MB); ` +
        `bare hop ${fmt(r.memory.bareHop.afterVsIdle, 2)} x after ${fmt(r.memory.bareHop.afterS, 0)} s`,
      verdict: verdict(m.afterVsIdle <= 1.2),
    });
  }
  if (r.rotation) {
    const naive = (row: RotationRow) =>
      r.rotation!.find((n) => n.rotator === 'naive' && n.scenario === row.scenario && n.latencyMs === row.latencyMs)!;
    const rotor = r.rotation.filter((row) => row.rotator !== 'naive');
    const worse = rotor.filter((row) => row.upstream429 > naive(row).upstream429);
    out.push({
      target: 'rotation: rotor never more upstream 429s than the naive rotator',
      measured:
        `rotor ${rotor.reduce((s, x) => s + x.upstream429, 0)} vs naive ${r.rotation.filter((x) => x.rotator === 'naive').reduce((s, x) => s + x.upstream429, 0)} in total` +
        (worse.length ? `; worse in ${worse.map((w) => `${w.scenario} ${w.latencyMs} ms ${w.rotator}`).join(', ')}` : ''),
      verdict: verdict(worse.length === 0),
    });
    const overload = rotor.filter((row) => row.scenario.startsWith('overload'));
    const over = overload.filter((row) => row.upstream429PerKeyWindow > 1);
    out.push({
      target: 'rotation, overload: <= 1 upstream 429 per key per window',
      measured:
        overload.map((x) => `${x.scenario} ${x.latencyMs} ms ${x.rotator.replace(' (lb)', '')}: ${fmt(x.upstream429PerKeyWindow, 1)}`).join('; '),
      verdict: verdict(over.length === 0),
    });
  }
  if (r.cpuCost) {
    const row = (target: string) => r.cpuCost!.find((c) => c.target === target);
    const [bare, stack, memory, redis] = [row('bare hop'), row('express + hpm'), row('rotor memory://'), row('rotor redis')];
    if (bare && stack && memory && redis) {
      out.push({
        target: 'where the CPU goes (no target): CPU µs per request',
        measured:
          `bare hop ${fmt(bare.proxyUs, 0)}; express + hpm alone ${fmt(stack.proxyUs, 0)} (${fmt(stack.xBare, 2)} x); ` +
          `rotor memory:// ${fmt(memory.proxyUs, 0)} (${fmt(memory.xBare, 2)} x); ` +
          `rotor redis ${fmt(redis.proxyUs, 0)} + redis-server ${fmt(redis.redisUs ?? 0, 0)} (${fmt(redis.xBare, 2)} x)`,
        verdict: 'n/a',
      });
    }
  }
  return out;
}

async function part<T>(name: string, failures: string[], run: () => Promise<T>): Promise<T | undefined> {
  const started = Date.now();
  console.log(`\n=== ${name} ===`);
  try {
    const result = await run();
    console.log(`(${name}: ${fmt((Date.now() - started) / 1000, 0)} s)`);
    return result;
  } catch (error) {
    console.error(`${name} failed:`, error);
    failures.push(name);
    return undefined;
  }
}

runMain(async () => {
  const timeoutS = Number(process.env.SUITE_TIMEOUT_S ?? 900);
  const watchdog = setTimeout(() => {
    console.error(`\nthe suite ran past SUITE_TIMEOUT_S=${timeoutS}: stopping (every child process is killed)`);
    process.exit(1);
  }, timeoutS * 1000);
  watchdog.unref();
  const started = Date.now();
  const failures: string[] = [];
  const results: Results = {};
  console.log(`machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ${fmt(os.totalmem() / 2 ** 30, 1)} GiB, node ${process.version}, load average ${os.loadavg().map((l) => fmt(l, 2)).join(' ')}`);

  results.overhead = await part('overhead', failures, () => runOverhead({ ...overheadOptions(), rounds: Number(process.env.ROUNDS ?? 5) }));
  results.rotation = await part('rotation', failures, () => runRotation(rotationOptions()));
  results.redisCost = await part('redis cost', failures, () => runRedisCost(redisCostOptions()));
  results.scale = await part('store scale', failures, () => runScale(scaleOptions()));
  results.memory = await part('memory', failures, () => runMemory(memoryOptions()));
  results.cpuCost = await part('cpu cost', failures, () => runCpuCost(cpuCostOptions()));

  const summary = checks(results);
  console.log(`\n=== summary (one run, ${fmt((Date.now() - started) / 60_000, 1)} min, load average now ${os.loadavg().map((l) => fmt(l, 2)).join(' ')}) ===`);
  printTable(['target', 'verdict', 'measured'], summary.map((c) => [c.target, c.verdict, c.measured]), [0, 1, 2]);
  if (failures.length) console.log(`\nparts that failed: ${failures.join(', ')}`);

  const dir = path.join(__dirname, '.results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `run-all-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), node: process.version, cpus: os.cpus().length, results, summary }, null, 2));
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
  if (failures.length) throw new Error(`${failures.length} part(s) failed`);
});
