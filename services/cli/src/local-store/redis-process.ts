import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { isAlive } from './lock';

/**
 * A redis-server that Rotor starts for itself when no Redis was named and none answers at the default
 * address: loopback only, on a free port, data (AOF + RDB) in `<project>/.rotor/redis` so key state
 * survives a restart. It runs in its own process group, so a Ctrl-C in the terminal reaches Rotor alone
 * and Rotor stops Redis after the proxy has drained (not before, under its feet).
 */
export interface LocalRedis {
  pid: number;
  url: string;
  dir: string;
  /** SIGTERM (Redis saves and exits), SIGKILL after `timeoutMs`; resolves once it has exited. */
  stop(timeoutMs?: number): Promise<void>;
}

const PID_FILE = 'redis.pid';
const READY_TIMEOUT_MS = 10_000;

/** The redis-server executable on PATH, or undefined. */
export function findRedisServer(pathEnv: string | undefined): string | undefined {
  for (const dir of (pathEnv ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, 'redis-server');
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function startLocalRedis(executable: string, dir: string): Promise<LocalRedis> {
  fs.mkdirSync(dir, { recursive: true });
  await stopLeftover(dir);
  let lastError: Error | undefined;
  // A free port can be taken between asking for it and Redis binding it: one more try on another.
  for (let attempt = 0; attempt < 2; attempt++) {
    const port = await freePort();
    const child = spawn(
      executable,
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--dir', dir,
        '--appendonly', 'yes',
        '--pidfile', path.join(dir, PID_FILE),
        '--logfile', path.join(dir, 'redis.log'),
        '--daemonize', 'no',
      ],
      { cwd: dir, detached: true, stdio: 'ignore' },
    );
    // From its spawn (not only once it answers): Rotor exiting for any reason, a signal while Redis is
    // still loading included, sends it SIGTERM; Redis then saves and exits by itself.
    const onExit = () => child.kill('SIGTERM');
    process.on('exit', onExit);
    child.once('exit', () => process.off('exit', onExit));
    try {
      await waitReady(child, port);
      return handle(child, port, dir);
    } catch (error) {
      lastError = error as Error;
      await stopChild(child, 2000);
    }
  }
  throw new Error(`redis-server did not start (${lastError?.message}; see ${path.join(dir, 'redis.log')})`);
}

function handle(child: ChildProcess, port: number, dir: string): LocalRedis {
  return {
    pid: child.pid!,
    url: `redis://127.0.0.1:${port}`,
    dir,
    stop: (timeoutMs = 10_000) => stopChild(child, timeoutMs),
  };
}

async function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/**
 * A redis-server left running on this folder's data by a Rotor that was SIGKILLed: stopped before a
 * new one starts on the same files. Only a process whose working directory is this folder (Redis
 * chdirs to `--dir`) is touched, so a recycled pid never hits anything else; without /proc (not
 * Linux) it is left alone.
 */
async function stopLeftover(dir: string): Promise<void> {
  const pidFile = path.join(dir, PID_FILE);
  const pid = Number.parseInt(readOr(pidFile, ''), 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  let cwd: string;
  try {
    cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return;
  }
  if (path.resolve(cwd) !== path.resolve(dir)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

async function waitReady(child: ChildProcess, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exitCode: number | null = null;
  child.once('exit', (code) => (exitCode = code ?? -1));
  child.once('error', () => (exitCode = -1));
  while (Date.now() < deadline) {
    if (exitCode !== null) throw new Error(`it exited with code ${exitCode}`);
    // -LOADING while it replays its AOF: not ready yet.
    if ((await ping(port)) === '+PONG') return;
    await sleep(50);
  }
  throw new Error(`no answer on port ${port} within ${READY_TIMEOUT_MS} ms`);
}

function ping(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().split('\r\n')[0] ?? '');
    });
    socket.once('error', () => resolve(''));
    socket.once('timeout', () => {
      socket.destroy();
      resolve('');
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
