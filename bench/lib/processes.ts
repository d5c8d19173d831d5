import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '@rotor/testkit';

export const REPO_ROOT = path.resolve(__dirname, '../..');

export interface Child {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function waitFor(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
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

function spawnNode(script: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, script), ...args], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-8000)));
  return { child, output: () => out };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
}

/** The simulated provider in its own process, accepting any key with limits too high to matter. */
export async function startSim(latencyMs: number): Promise<Child> {
  const port = await freePort();
  const { child, output } = spawnNode('test/sim-provider/src/main.ts', [
    '--port', String(port), '--accept-any-key', '--rpm', '1000000000', '--latency-ms', String(latencyMs),
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/v1/models`, child, output);
  return { url, pid: child.pid!, stop: stopper(child) };
}

export const BENCH_TOKEN = 'bench-client-token';

/** One `rotor proxy` replica in its own process, one pool of `keys` keys on the simulated provider. */
export async function startRotor(simUrl: string, redisUrl: string, keys = 5): Promise<Child> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-bench-'));
  const configFile = path.join(dir, 'rotor.yaml');
  fs.writeFileSync(
    configFile,
    stringify({
      redis: { url: redisUrl, prefix: `bench${port}` },
      clientTokens: [BENCH_TOKEN],
      log: { level: 'warn' },
      pools: {
        openai: {
          provider: 'openai',
          baseUrl: `${simUrl}/v1`,
          keys: Array.from({ length: keys }, (_, i) => `sk-bench-${i}-${port}`),
        },
      },
      routes: { '/v1': 'openai' },
    }),
  );
  const { child, output } = spawnNode('services/cli/src/main.ts', ['proxy'], { ROTOR_CONFIG: configFile, PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/healthz`, child, output);
  return { url, pid: child.pid!, stop: stopper(child) };
}
