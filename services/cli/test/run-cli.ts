import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { spawnTracked, stopProcess } from '@rotor/testkit';

export const REPO_ROOT = path.resolve(__dirname, '../../..');
const MAIN = path.join(REPO_ROOT, 'services/cli/src/main.ts');

export interface CliProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves once stdout+stderr contain `text`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Runs `rotor <args>` as a real process, the way `pnpm rotor` does. */
export function runCli(args: string[], env: Record<string, string | undefined>, cwd = REPO_ROOT): CliProcess {
  // tsx resolved here, not from `cwd` (a project folder elsewhere has no node_modules).
  return runProcess(process.execPath, ['--require', require.resolve('tsx/cjs'), MAIN, ...args], env, cwd);
}

/** Runs any command (e.g. ./scripts/quickstart.sh) with PATH and HOME unless `env` sets them. */
export function runProcess(command: string, args: string[], env: Record<string, string | undefined>, cwd = REPO_ROOT): CliProcess {
  const child = spawnTracked(command, args, { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    exited,
    waitFor: (text, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const started = Date.now();
        const check = () => {
          const hit = typeof text === 'string' ? out.includes(text) : text.test(out);
          if (hit) return resolve(out);
          if (child.exitCode !== null) return reject(new Error(`rotor exited (${child.exitCode}) before "${text}":\n${out}`));
          if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for "${text}":\n${out}`));
          setTimeout(check, 50);
        };
        check();
      }),
    stop: () => stopProcess(child, 'SIGTERM', 15_000),
  };
}
