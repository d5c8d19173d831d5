import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, type Outcome, type RotorConfig } from '@rotor/core';
import { openKeyStore, type RedisKeyStore } from '@rotor/redis-store';
import { startSimProvider, type KeyOptions, type SimProvider } from '@rotor/sim-provider';
import { spawnTracked, testRedisUrl, uniquePrefix } from '@rotor/testkit';
import { createLogger } from '../src/logger';

export const CLIENT_TOKEN = 'client-token-for-worker-tests';
export const silent = createLogger('silent');
const REPO_ROOT = path.resolve(__dirname, '../../..');

/** Fast timings: every delay in the hundreds of ms, a dead worker's probe found within ~2 s. */
export const FAST_WORKER = {
  metricsPort: 0,
  probe: {
    suspendedAfterMs: 300,
    quotaAfterMs: 300,
    invalidAfterMs: 300,
    maxBackoffMs: 600,
    timeoutMs: 2000,
  },
  reconcileEveryMs: 60_000,
  concurrency: 10,
  lockDurationMs: 1000,
  stalledIntervalMs: 1000,
};

export interface Setup {
  sim: SimProvider;
  secrets: string[];
  /** YAML-shaped config (JSON is YAML), for worker processes. */
  raw: Record<string, unknown>;
  config: RotorConfig;
  store: RedisKeyStore;
  close(): Promise<void>;
}

/** A simulated provider with `keys` keys, a private Redis prefix, and a config with one `openai` pool. */
export async function setup(
  options: {
    keys?: number;
    sim?: Record<string, KeyOptions>;
    worker?: Record<string, unknown>;
    pool?: Record<string, unknown>;
    windowMs?: number;
  } = {},
): Promise<Setup> {
  const secrets = Array.from({ length: options.keys ?? 3 }, (_, i) => `sk-w-${uniquePrefix('key')}-${i}`);
  const sim = await startSimProvider({
    windowMs: options.windowMs ?? 60_000,
    keys: Object.fromEntries(secrets.map((s) => [s, { rpm: 1000 }])),
  });
  const raw: Record<string, unknown> = {
    port: 0,
    host: '127.0.0.1',
    redis: { url: testRedisUrl(), prefix: uniquePrefix('wk') },
    clientTokens: [CLIENT_TOKEN],
    log: { level: 'silent' },
    pools: {
      openai: {
        provider: 'openai',
        baseUrl: `${sim.url}/v1`,
        keys: secrets,
        probeModel: 'probe-model',
        ...options.pool,
      },
    },
    routes: { '/v1': 'openai' },
    worker: {
      ...FAST_WORKER,
      ...options.worker,
      probe: { ...FAST_WORKER.probe, ...(options.worker?.probe as object) },
    },
  };
  const config = parseConfig(raw, {});
  const opened = await openKeyStore(config, { failFast: false });
  const { store } = opened;
  await store.sync(
    'openai',
    config.pools.openai!.keys.map((k) => ({ id: k.id })),
  );
  return {
    sim,
    secrets,
    raw,
    config,
    store,
    close: async () => {
      await sim.close();
      await opened.close();
    },
  };
}

export const idOf = (config: RotorConfig, secret: string, pool = 'openai') =>
  config.pools[pool]!.keys.find((k) => k.secret === secret)!.id;

const OUTCOMES: Record<string, Outcome> = {
  quota: { kind: 'quota_exhausted', status: 429, rateLimit: {}, errorCode: 'insufficient_quota' },
  invalid: { kind: 'invalid_key', status: 401, rateLimit: {} },
  rate: { kind: 'rate_limited', status: 429, rateLimit: { retryAfterMs: 60_000 } },
  server: { kind: 'server_error', status: 500, rateLimit: {} },
};

/**
 * Puts one key in a state the way a proxy would: acquire exactly that key for a request of model group
 * `group` (default: none named), report an outcome.
 */
export async function reportOn(
  store: RedisKeyStore,
  config: RotorConfig,
  keyId: string,
  outcome: keyof typeof OUTCOMES | Outcome,
  pool = 'openai',
  group?: string,
) {
  const others = config.pools[pool]!.keys.map((k) => k.id).filter((id) => id !== keyId);
  const acquired = await store.acquire(pool, { exclude: others, ...(group ? { group } : {}) });
  if (!acquired.ok || acquired.lease.keyId !== keyId) throw new Error(`could not acquire ${keyId}`);
  return store.report(acquired.lease, typeof outcome === 'string' ? OUTCOMES[outcome]! : outcome);
}

export async function keyState(store: RedisKeyStore, keyId: string, pool = 'openai') {
  const snap = await store.snapshot(pool);
  return snap.keys.find((k) => k.id === keyId)!;
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/** Sum of the samples of one metric whose labels include every given label. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

export interface WorkerProcess {
  child: ChildProcess;
  /** Its ROTOR_CONFIG (rewrite it, then SIGHUP, to reload). */
  configFile: string;
  metricsPort: number;
  output: () => string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const children = new Set<ChildProcess>();

/**
 * A Rotor process, as production runs it: `node --require tsx/cjs <entry>` (one process, so SIGKILL really
 * kills it), config from ROTOR_CONFIG, worker metrics on a free port (METRICS_PORT=0).
 * `entry`: worker = `rotor worker` (the only way a worker starts); cli-<command> = `rotor <command>`.
 */
export function spawnRotor(
  raw: Record<string, unknown>,
  entry: 'worker' | 'cli-worker' | 'cli-start' | 'cli-proxy' = 'worker',
  env: Record<string, string> = {},
): Omit<WorkerProcess, 'metricsPort'> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-worker-test-'));
  const file = path.join(dir, 'rotor.yaml');
  fs.writeFileSync(file, JSON.stringify(raw));
  const script = ['services/cli/src/main.ts', entry === 'worker' ? 'worker' : entry.slice('cli-'.length)];
  const child = spawnTracked(process.execPath, ['--require', 'tsx/cjs', ...script], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, ROTOR_CONFIG: file, METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      fs.rmSync(dir, { recursive: true, force: true });
      resolve(code);
    }),
  );
  return {
    child,
    configFile: file,
    output: () => out,
    exited,
    kill: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Waits for `pattern` in the process output; its first group, if any. */
export function waitForOutput(
  proc: Pick<WorkerProcess, 'child' | 'output'>,
  pattern: RegExp,
  timeoutMs = 20_000,
): Promise<string> {
  return waitFor(
    `${pattern} in the output`,
    () => {
      const m = pattern.exec(proc.output());
      if (m) return m[1] ?? m[0];
      if (proc.child.exitCode !== null)
        throw new Error(`process exited ${proc.child.exitCode}: ${proc.output()}`);
      return undefined;
    },
    timeoutMs,
    50,
  );
}

export async function spawnWorker(
  raw: Record<string, unknown>,
  entry: 'worker' | 'cli' = 'worker',
): Promise<WorkerProcess> {
  const proc = spawnRotor(raw, entry === 'cli' ? 'cli-worker' : 'worker');
  const port = Number(await waitForOutput(proc, /rotor worker: metrics on http:\/\/[^:]+:(\d+)\/metrics/));
  return { ...proc, metricsPort: port };
}

/** afterAll safety net: no worker process outlives its test file. */
export async function killAllWorkers(): Promise<void> {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}
