import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A PATH with every program of this one except redis-server and its kin (redis-sentinel is a link to
 * it): a machine where no redis-server can be had. Made of symlinks, first match per name, as PATH
 * lookup would find them. The directory is pushed on `made`, for the caller to remove.
 */
export function pathWithoutRedis(made: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-no-redis-bin-'));
  made.push(dir);
  for (const source of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    let names: string[];
    try {
      names = fs.readdirSync(source);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.startsWith('redis-')) continue;
      const link = path.join(dir, name);
      if (!fs.existsSync(link)) fs.symlinkSync(path.join(source, name), link);
    }
  }
  return dir;
}

/** Pids of redis-server processes whose working directory is under `dir` (Redis chdirs to its --dir). */
export function redisServersUnder(dir: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'redis-server') continue;
      const cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}${path.sep}`)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Waits until no redis-server runs under `dir`, up to `timeoutMs`; returns the ones left. */
export async function redisServersGone(dir: string, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = redisServersUnder(dir);
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = redisServersUnder(dir);
  }
  return left;
}

/** Kills what a failed test left (never anything outside `dir`). */
export function killRedisServersUnder(dir: string): void {
  for (const pid of redisServersUnder(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

export const chat = (port: number) =>
  fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer rotor-demo', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
