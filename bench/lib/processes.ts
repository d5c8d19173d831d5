/**
 * Every process a benchmark measures runs as its own child process, so the load generator never
 * shares an event loop with what it measures. Each child is tracked: `Group.stop()` ends a
 * benchmark's children in reverse start order, and whatever is still alive when this process exits
 * (normally, on an error, on Ctrl-C) is SIGKILLed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort, requireProgram, spawnRedis, writeNginxConfig } from '@rotor/testkit';

export const REPO_ROOT = path.resolve(__dirname, '../..');

export interface Child {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

// ---- process tracking ---------------------------------------------------------------------------

const live = new Set<ChildProcess>();
/** Children started in their own process group (nginx: master + workers), killed as a group. */
const groupLeaders = new WeakSet<ChildProcess>();

function track(child: ChildProcess, processGroup = false): ChildProcess {
  live.add(child);
  if (processGroup) groupLeaders.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (groupLeaders.has(child) && child.pid !== undefined) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // already gone
  }
}

function killAllNow(): void {
  for (const child of live) kill(child, 'SIGKILL');
}

process.once('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAllNow();
    process.exit(130);
  });
}

/** The children of one benchmark: stopped together, last started first. */
export class Group {
  private readonly children: Child[] = [];

  add<T extends Child>(child: T): T {
    this.children.push(child);
    return child;
  }

  async stop(): Promise<void> {
    while (this.children.length > 0) {
      const child = this.children.pop()!;
      await child.stop().catch(() => undefined);
    }
  }
}

/** Runs a benchmark's main and exits: 0, or 1 with the error; children are killed either way. */
export function runMain(main: () => Promise<unknown>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

function stopper(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const timer = setTimeout(() => kill(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
}

interface Spawned {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the first line the process writes to stdout. */
  firstLine: Promise<string>;
}

/** `node [--require tsx/cjs] <script>` from the repo root (or `root`), with a minimal environment. */
function spawnNode(script: string, args: string[], env: Record<string, string> = {}, nodeArgs: string[] = [], root = REPO_ROOT): Spawned {
  const child = track(
    spawn(process.execPath, [...nodeArgs, '--require', 'tsx/cjs', path.join(root, script), ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    }),
  );
  let out = '';
  let stdout = '';
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const newline = stdout.indexOf('\n');
      if (newline >= 0) resolve(stdout.slice(0, newline).trim());
    });
    child.once('exit', (code) => reject(new Error(`${script} exited (${code}) before it was ready:\n${out}`)));
  });
  firstLine.catch(() => undefined);
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
  return { child, output: () => out, firstLine };
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()}: not ready within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitForHttp(url: string, child: ChildProcess, output: () => string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited (${child.exitCode}):\n${output()}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} did not answer:\n${output()}`);
}

/** A child that prints its URL as its first stdout line. */
async function startPrintingUrl(script: string, args: string[]): Promise<Child> {
  const { child, output, firstLine } = spawnNode(script, args);
  const stop = stopper(child);
  try {
    const url = await withTimeout(firstLine, 30_000, () => `${script}\n${output()}`);
    if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) throw new Error(`${script} printed "${url}" instead of its URL`);
    return { url, pid: child.pid!, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---- the processes ------------------------------------------------------------------------------

/** A private redis-server (never the machine's 6379), killed with the benchmark. */
export async function startRedis(): Promise<Child> {
  const redis = await spawnRedis();
  track(redis.process);
  return { url: redis.url, pid: redis.process.pid!, stop: () => redis.kill() };
}

export interface SimSpec {
  latencyMs?: number;
  /** Up to this much more latency per answer, uniformly drawn (the sim's --latency-jitter-ms). */
  jitterMs?: number;
  /** SSE content chunks per streamed answer and the pause between them. */
  chunks?: number;
  chunkDelayMs?: number;
}

/** The simulated provider (its CLI) in its own process, accepting any key with limits too high to matter. */
export function startSim(spec: SimSpec = {}): Promise<Child> {
  return startPrintingUrl('test/sim-provider/src/main.ts', [
    '--port', '0', '--accept-any-key', '--rpm', '1000000000',
    '--latency-ms', String(spec.latencyMs ?? 0),
    '--latency-jitter-ms', String(spec.jitterMs ?? 0),
    '--chunks', String(spec.chunks ?? 5),
    '--chunk-delay-ms', String(spec.chunkDelayMs ?? 0),
  ]);
}

export const BARE_KEY = 'sk-bare-hop';

/** The floor: a bare node:http forwarding proxy with one fixed key (bench/baselines/bare-proxy.ts). */
export function startBareProxy(targetUrl: string): Promise<Child> {
  return startPrintingUrl('bench/baselines/bare-proxy.ts', ['--target', targetUrl, '--key', BARE_KEY]);
}

/** The floor of the prescribed stack: Express + one http-proxy-middleware, one fixed key (bench/baselines/express-hpm-proxy.ts). */
export function startExpressHpmProxy(targetUrl: string): Promise<Child> {
  return startPrintingUrl('bench/baselines/express-hpm-proxy.ts', ['--target', targetUrl, '--key', BARE_KEY]);
}

export interface NaivePool {
  baseUrl: string;
  keys: string[];
}

/** The naive rotator (bench/baselines/naive-rotator.ts): pools routed at `/<pool>`, in-memory round robin. */
export function startNaiveRotator(pools: Record<string, NaivePool>): Promise<Child> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-bench-naive-'));
  const file = path.join(dir, 'pools.json');
  fs.writeFileSync(file, JSON.stringify(pools));
  return startPrintingUrl('bench/baselines/naive-rotator.ts', ['--pools', file]);
}

export const BENCH_TOKEN = 'bench-client-token';

export interface RotorPool {
  baseUrl: string;
  keys: string[];
  limits?: { rpm?: number; windowMs?: number };
  maxWaitMs?: number;
}

/** Writes a rotor.yaml: each pool routed at `/<pool>`, the client token BENCH_TOKEN, logs at warn. */
export function writeRotorConfig(redisUrl: string, pools: Record<string, RotorPool>, extra: Record<string, unknown> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-bench-'));
  const file = path.join(dir, 'rotor.yaml');
  fs.writeFileSync(
    file,
    stringify({
      redis: { url: redisUrl, prefix: `bench-${path.basename(dir)}` },
      clientTokens: [BENCH_TOKEN],
      log: { level: 'warn' },
      pools: Object.fromEntries(
        Object.entries(pools).map(([name, pool]) => [name, { provider: 'openai', ...pool }]),
      ),
      routes: Object.fromEntries(Object.keys(pools).map((name) => [`/${name}`, name])),
      ...extra,
    }),
  );
  return file;
}

/** The node flags production runs Rotor with (the Dockerfile's ENTRYPOINT, `pnpm rotor`). */
export const ROTOR_NODE_FLAGS = ['--max-semi-space-size=8'];

/**
 * One `rotor proxy` replica (`node --max-semi-space-size=8 --require tsx/cjs services/cli/src/main.ts
 * proxy`, as production runs it). BENCH_ROTOR_NODE_ARGS adds node flags, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
 * `root`: another checkout of Rotor (with its dependencies installed) to run instead of this one, for a
 * before / after comparison in one run.
 */
export async function startRotor(configFile: string, root = REPO_ROOT): Promise<Child & { port: number }> {
  const port = await freePort();
  const nodeArgs = [...ROTOR_NODE_FLAGS, ...(process.env.BENCH_ROTOR_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const env = { ROTOR_CONFIG: configFile, PORT: String(port) };
  const { child, output } = spawnNode('services/cli/src/main.ts', ['proxy'], env, nodeArgs, root);
  const url = `http://127.0.0.1:${port}`;
  const stop = stopper(child, 'SIGTERM', 15_000);
  try {
    await waitForHttp(`${url}/healthz`, child, output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, port, pid: child.pid!, stop };
}

/**
 * With BASELINE=<another checkout, dependencies installed>: that tree's replica on the same pools, on a
 * redis-server of its own (a change measured against what it changes, in one run); else undefined.
 */
export async function startBaselineRotor(group: Group, pools: Record<string, RotorPool>): Promise<{ rotor: Child; redis: Child } | undefined> {
  const root = process.env.BASELINE;
  if (!root) return undefined;
  const redis = group.add(await startRedis());
  return { redis, rotor: group.add(await startRotor(writeRotorConfig(redis.url, pools), root)) };
}

/** `n` replicas on one config (one Redis, one shared state), started together. */
export function startRotorReplicas(configFile: string, n: number): Promise<(Child & { port: number })[]> {
  return Promise.all(Array.from({ length: n }, () => startRotor(configFile)));
}

/** nginx in front of replicas, with the same config as test/e2e's (testkit's writeNginxConfig). */
export async function startNginx(upstreamPorts: number[]): Promise<Child> {
  // Missing nginx: a message naming it and how to install it, not a crash that leaves the rest running.
  requireProgram('nginx');
  const { dir, confFile, port } = await writeNginxConfig(upstreamPorts);
  // Its own process group: a SIGKILL then reaches the workers too, not only the master.
  const child = track(
    spawn('nginx', ['-p', dir, '-c', confFile, '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    }),
    true,
  );
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = stopper(child, 'SIGQUIT', 3000);
  try {
    await waitForHttp(`${url}/healthz`, child, () => out);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, pid: child.pid!, stop };
}

/** Resident set size of a process in MB, from /proc/<pid>/status (VmRSS). */
export function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) / 1024;
}

/** CPU time a process has used so far, in µs. */
export function cpuUs(pid: number): number {
  // Time on CPU of every thread of the process (V8's GC and libuv's pool threads included), in ns
  // (/proc/<pid>/task/<tid>/schedstat, first field): /proc/<pid>/stat counts 10 ms clock ticks, too
  // coarse for a round of a few thousand requests.
  let ns = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1000;
}
