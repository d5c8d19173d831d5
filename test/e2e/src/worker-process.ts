import { execFile, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort, spawnTracked, stopProcess } from '@rotor/testkit';
import { REPO_ROOT } from './proxy-process';
import { waitForHttp } from './wait';

const CLI = path.join(REPO_ROOT, 'services/cli/src/main.ts');

export interface WorkerProcess {
  /** http://127.0.0.1:<metricsPort> (GET /metrics). */
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** One `rotor worker` replica as a real process, metrics on a free port. */
export async function startWorkerProcess(configFile: string, env: Record<string, string> = {}): Promise<WorkerProcess> {
  const port = await freePort();
  const child = spawnTracked(process.execPath, ['--require', 'tsx/cjs', CLI, 'worker'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ROTOR_CONFIG: configFile, METRICS_PORT: String(port), ...env },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/metrics`, child);
  } catch (error) {
    await stopProcess(child, 'SIGKILL');
    throw new Error(`${(error as Error).message}\n${out}`);
  }
  return {
    url,
    child,
    output: () => out,
    stop: () => stopProcess(child, 'SIGTERM', 12_000),
  };
}

/** Runs one `rotor <args>` command to its end: exit code and everything it printed. */
export function runRotor(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--require', 'tsx/cjs', CLI, ...args],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}
