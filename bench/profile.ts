/**
 * CPU profile of one `rotor proxy` replica on the happy path: the replica runs with `--cpu-prof`,
 * autocannon drives small chat completions through it (0 ms upstream, so Rotor's own work dominates),
 * then the replica is stopped (SIGTERM, so V8 writes the profile) and the profile is summarised:
 * self time by function, by file/package, and inclusive time of Rotor's own functions, each as a %
 * of the sampled non-idle CPU time. The .cpuprofile is kept for Chrome DevTools / speedscope.
 *
 *   pnpm --filter @rotor/bench profile     (env: PROFILE_SECONDS=10 CONNECTIONS=50 MODE=json|sse TOP=25
 *                                           LATENCY_MS=0 STORE=redis|memory)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHAT_BODY, STREAM_BODY, loadTest } from './lib/load';
import { BENCH_TOKEN, Group, REPO_ROOT, runMain, startRedis, startRotor, startSim, writeRotorConfig } from './lib/processes';
import { fmt, printTable } from './lib/stats';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const IDLE = new Set(['(idle)', '(program)']);

/** Where a frame lives: a node_modules package, a workspace file, node's internals, or V8. */
function place(url: string): string {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return 'node internals';
  const file = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return `npm:${pkg[1]}`;
  return path.relative(REPO_ROOT, file);
}

const frameName = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${place(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;

export function summarise(profile: CpuProfile, top: number): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  let busy = 0;
  const selfByFunction = new Map<string, number>();
  const selfByPlace = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, time] of self) {
    const node = byId.get(id)!;
    if (IDLE.has(node.callFrame.functionName)) continue;
    busy += time;
    const fn = frameName(node.callFrame);
    selfByFunction.set(fn, (selfByFunction.get(fn) ?? 0) + time);
    const where = node.callFrame.functionName === '(garbage collector)' ? '(garbage collector)' : place(node.callFrame.url);
    selfByPlace.set(where, (selfByPlace.get(where) ?? 0) + time);
    // Inclusive time of workspace functions (each counted once per stack, recursion or not).
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (!frame.url.includes('/work/') || frame.url.includes('node_modules')) continue;
      const name = frameName(frame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + time);
    }
  }
  const pct = (t: number) => `${fmt((100 * t) / busy, 1)}%`;
  // Native and node-internal frames say little by themselves: name the first code above them.
  const callers = new Map<string, Map<string, number>>();
  for (const [id, time] of self) {
    const frame = byId.get(id)!.callFrame;
    if (IDLE.has(frame.functionName) || (frame.url && !frame.url.startsWith('node:'))) continue;
    let via = '(no JavaScript caller)';
    for (let at = parent.get(id); at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      if (f.url && !f.url.startsWith('node:')) {
        via = frameName(f);
        break;
      }
    }
    const fn = frameName(frame);
    const m = callers.get(fn) ?? new Map<string, number>();
    callers.set(fn, m);
    m.set(via, (m.get(via) ?? 0) + time);
  }
  const rows = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, t]) => [pct(t), name]);
  console.log(`\nnon-idle CPU sampled: ${fmt(busy / 1e6, 2)} s`);
  console.log('\nself time by file / package');
  printTable(['% CPU', 'where'], rows(selfByPlace, top), [1]);
  console.log('\nself time by function');
  printTable(['% CPU', 'function'], rows(selfByFunction, top), [1]);
  console.log('\nnative / node-internal functions above 2%, by the first package or workspace code that called them');
  const heavy = [...callers].filter(([fn]) => (selfByFunction.get(fn) ?? 0) / busy > 0.02);
  printTable(
    ['% CPU', 'function', 'called from'],
    heavy.flatMap(([fn, m]) =>
      [...m]
        .filter(([, t]) => t / busy >= 0.001)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([via, t]) => [pct(t), fn, via]),
    ),
    [1, 2],
  );
  console.log('\ninclusive time of workspace functions (Rotor and its packages)');
  printTable(['% CPU', 'function'], rows(inclusive, top), [1]);
}

runMain(async () => {
  const seconds = Number(process.env.PROFILE_SECONDS ?? 10);
  const connections = Number(process.env.CONNECTIONS ?? 50);
  const mode = process.env.MODE === 'sse' ? 'sse' : 'json';
  const top = Number(process.env.TOP ?? 25);
  const latencyMs = Number(process.env.LATENCY_MS ?? 0);
  const store = process.env.STORE === 'memory' ? 'memory' : 'redis';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-profile-'));
  process.env.BENCH_ROTOR_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${dir}`;
  const group = new Group();
  try {
    const redis = group.add(await startRedis());
    const sim = group.add(await startSim({ latencyMs }));
    const rotor = await startRotor(
      writeRotorConfig(store === 'memory' ? 'memory://' : redis.url, { prof: { baseUrl: `${sim.url}/v1`, keys: Array.from({ length: 5 }, (_, i) => `sk-prof-${i}`) } }),
    );
    group.add(rotor);
    const body = mode === 'sse' ? STREAM_BODY : CHAT_BODY;
    const figures = await loadTest({ url: `${rotor.url}/prof/chat/completions`, token: BENCH_TOKEN, body, connections, seconds });
    console.log(`load: ${mode}, ${store} store, upstream ${latencyMs} ms, ${connections} connections, ${seconds} s: ${fmt(figures.rps, 0)} req/s, p50 ${fmt(figures.p50, 2)} ms, ${figures.errors} errors`);
    await rotor.stop();
  } finally {
    await group.stop();
  }
  // One profile per thread: the main thread is `.0.`.
  const file = fs.readdirSync(dir).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  if (!file) throw new Error(`no .cpuprofile in ${dir}: did the replica exit cleanly on SIGTERM?`);
  console.log(`profile: ${path.join(dir, file)}`);
  summarise(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as CpuProfile, top);
});
