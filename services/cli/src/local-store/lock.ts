import fs from 'node:fs';
import path from 'node:path';

/**
 * `.rotor/rotor.lock.json`: which Rotor process in this folder runs on a store it made itself (a
 * redis-server it started, or its memory), so that a second replica started here finds it and refuses
 * instead of running on a state of its own, and `rotor status` knows where that state is.
 * Claimed with O_EXCL (two starts at once cannot both win); a lock whose process is gone is stale
 * (SIGKILL, power loss) and is taken over.
 */
export interface LocalStoreLock {
  pid: number;
  store: 'redis' | 'memory';
  /** The redis-server Rotor started (store redis). */
  redisUrl?: string;
  redisPid?: number;
  /** The proxy's port, once it listens (rotor status asks its admin API when the state is in memory). */
  proxyPort?: number;
}

export const LOCK_FILE = 'rotor.lock.json';

export function readLiveLock(dir: string): LocalStoreLock | undefined {
  const lock = readLock(path.join(dir, LOCK_FILE));
  return lock && isAlive(lock.pid) ? lock : undefined;
}

/** Takes the lock for this process, or returns the live holder's record. */
export function claimLock(dir: string, lock: LocalStoreLock): { ok: true } | { ok: false; holder: LocalStoreLock } {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(lock), { flag: 'wx' });
      return { ok: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readLock(file);
      if (holder && isAlive(holder.pid)) return { ok: false, holder };
      fs.rmSync(file, { force: true });
    }
  }
  const holder = readLock(file);
  return holder ? { ok: false, holder } : { ok: true };
}

/** Rewrites this process's lock record (e.g. with the proxy port once known). */
export function updateLock(dir: string, lock: LocalStoreLock): void {
  const file = path.join(dir, LOCK_FILE);
  if (readLock(file)?.pid !== lock.pid) return;
  const tmp = `${file}.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(lock));
  fs.renameSync(tmp, file);
}

/** Removes the lock if this process holds it (synchronous: also runs in an 'exit' handler). */
export function releaseLock(dir: string, pid = process.pid): void {
  const file = path.join(dir, LOCK_FILE);
  if (readLock(file)?.pid === pid) fs.rmSync(file, { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, owned by someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LocalStoreLock | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LocalStoreLock>;
    return typeof value.pid === 'number' && (value.store === 'redis' || value.store === 'memory')
      ? (value as LocalStoreLock)
      : undefined;
  } catch {
    return undefined;
  }
}
