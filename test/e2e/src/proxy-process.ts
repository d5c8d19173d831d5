import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort, spawnTracked, stopProcess } from '@rotor/testkit';
import { waitForHttp } from './wait';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(REPO_ROOT, 'services/cli/src/main.ts');

export interface ProxyProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr (logs included). */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** One `rotor proxy` replica as a real process, as production runs it: `node --require tsx/cjs` (one process, so signals reach it). */
export async function startProxyProcess(configFile: string, env: Record<string, string> = {}): Promise<ProxyProcess> {
  const port = await freePort();
  const child = spawnTracked(process.execPath, ['--require', 'tsx/cjs', CLI, 'proxy'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ROTOR_CONFIG: configFile, PORT: String(port), ...env },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/healthz`, child);
  } catch (error) {
    await stopProcess(child, 'SIGKILL');
    throw new Error(`${(error as Error).message}\n${out}`);
  }
  return {
    url,
    port,
    child,
    output: () => out,
    stop: (signal = 'SIGTERM') => stopProcess(child, signal, 12_000),
  };
}
