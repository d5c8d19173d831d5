import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { freePort } from './free-port';
import { exitReason, spawnTracked, stopProcess } from './processes';

/**
 * A private redis-server process for tests: its own port and directory, no persistence, so tests never
 * touch the machine's shared Redis on 6379 and can kill, pause or restart theirs at will.
 */
export interface RedisProcess {
  port: number;
  url: string;
  dir: string;
  process: ChildProcess;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: the port stays open but nothing answers (a hung Redis). */
  pause(): void;
  resume(): void;
  /** Starts a fresh process on the same port (state is lost: no persistence). */
  restart(): Promise<RedisProcess>;
}

export interface SpawnRedisOptions {
  port?: number;
  /** Extra `--name value` arguments, e.g. ['--cluster-enabled', 'yes']. */
  args?: string[];
}

export async function spawnRedis(options: SpawnRedisOptions = {}): Promise<RedisProcess> {
  const port = options.port ?? (await freePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rotor-redis-${port}-`));
  const child = spawnTracked(
    'redis-server',
    [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', dir,
      '--enable-debug-command', 'local',
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitForPort(port, child);
  const handle: RedisProcess = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    process: child,
    kill: () => killAndWait(child),
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    restart: async () => {
      await killAndWait(child);
      return spawnRedis({ ...options, port });
    },
  };
  return handle;
}

function killAndWait(child: ChildProcess): Promise<void> {
  return stopProcess(child, 'SIGKILL');
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const reason = exitReason(child);
    if (reason) throw new Error(`redis-server on port ${port} ${reason}`);
    if (await answersPing(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  await killAndWait(child);
  throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(200);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
