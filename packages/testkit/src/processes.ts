import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Every process a test starts goes through `spawnTracked`, so that none can outlive its test file:
 * the test environment (test-environment.js) stops whatever is still running once the file's own
 * afterAll hooks are done, also when a start failed half-way and the test never got a handle to stop.
 * A program that is not installed fails the test at once, naming it, instead of a timeout later.
 */

/** Debian package of each program the tests start, for the message when one is missing. */
const PACKAGES: Record<string, string> = {
  'redis-server': 'redis-server',
  'redis-cli': 'redis-tools',
  'redis-sentinel': 'redis-sentinel',
  nginx: 'nginx',
  prometheus: 'prometheus',
  promtool: 'prometheus',
};

export class MissingProgramError extends Error {
  override readonly name = 'MissingProgramError';
}

/**
 * The path of `program` on `PATH`, or a MissingProgramError naming it and how to get it.
 * Paths (anything with a slash, e.g. process.execPath) are checked as they are.
 */
export function requireProgram(program: string, searchPath = process.env.PATH ?? ''): string {
  const candidates = program.includes('/')
    ? [program]
    : searchPath
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, program));
  const found = candidates.find(isExecutable);
  if (found) return found;
  const pkg = PACKAGES[program];
  const how = pkg ? `run ./scripts/test.sh (it installs it) or apt-get install ${pkg}` : 'install it';
  throw new MissingProgramError(`${program} is not installed (not on PATH): ${how}`);
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

// On globalThis, not in this module: jest gives each test file a fresh module registry, and the test
// environment that stops the leftovers reads the same global object the test file writes.
const LIVE = Symbol.for('rotor.testkit.liveProcesses');
type Registry = Set<ChildProcess>;

function registry(): Registry {
  const g = globalThis as { [LIVE]?: Registry };
  return (g[LIVE] ??= new Set());
}

const spawnErrors = new WeakMap<ChildProcess, Error>();

/** `spawn`, after checking the program exists; the child is registered until it exits. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  // A relative path (./scripts/quickstart.sh) is relative to the child's cwd, as spawn reads it.
  const program = command.includes('/') && options.cwd ? path.resolve(String(options.cwd), command) : command;
  requireProgram(program, options.env?.PATH ?? process.env.PATH);
  const child = spawn(command, args, options);
  const live = registry();
  live.add(child);
  child.once('exit', () => live.delete(child));
  // Without a listener a failed spawn (EACCES, EAGAIN) would crash the test process; keep it for `exitReason`.
  child.once('error', (error) => {
    spawnErrors.set(child, error);
    live.delete(child);
  });
  return child;
}

/** Why a process is no longer running (exit code, signal or spawn error), or undefined while it runs. */
export function exitReason(child: ChildProcess): string | undefined {
  const error = spawnErrors.get(child);
  if (error) return `could not start: ${error.message}`;
  if (child.exitCode !== null) return `exited with ${child.exitCode}`;
  if (child.signalCode !== null) return `killed by ${child.signalCode}`;
  return undefined;
}

/**
 * Sends `signal`, then SIGKILL after `graceMs`, and waits for the exit. A stopped (SIGSTOP) process
 * gets SIGCONT too, else it could not act on the signal.
 */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (exitReason(child) !== undefined || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  child.kill('SIGCONT');
  const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Processes started through `spawnTracked` that are still running. */
export function liveProcesses(): ChildProcess[] {
  return [...registry()];
}

