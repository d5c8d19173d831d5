import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface ConfigWatch {
  close(): void;
}

export interface ConfigWatchOptions {
  /** Quiet time after the last change before `onChange` runs: an editor or the kubelet writes in steps. */
  debounceMs?: number;
  /** Safety net for changes no directory event reports (a symlinked file whose target changes elsewhere). */
  pollMs?: number;
}

/**
 * Calls `onChange` when the bytes of `file` change, once they have been still for `debounceMs`.
 *
 * Watches the file's directory, not the file: a mounted ConfigMap is a symlink into a `..data`
 * directory that the kubelet swaps atomically, and editors save by rename, so a watch on the file's
 * inode would see one event and then nothing. Content, not events, decides: a rewrite with the same
 * bytes (a kubelet resync, `touch`) does not call `onChange`. A file that cannot be read counts as a
 * change too, so the reload path logs why and keeps the old config.
 */
export function watchConfigFile(file: string, onChange: () => void, options: ConfigWatchOptions = {}): ConfigWatch {
  const debounceMs = options.debounceMs ?? 500;
  let seen = fingerprint(file);
  let timer: NodeJS.Timeout | undefined;

  const check = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const now = fingerprint(file);
      if (now === seen) return;
      seen = now;
      onChange();
    }, debounceMs);
    timer.unref();
  };

  let watcher: fs.FSWatcher | undefined;
  try {
    watcher = fs.watch(path.dirname(file), { persistent: false }, check);
    watcher.on('error', () => undefined); // the directory went away: the poll still runs
  } catch {
    watcher = undefined; // no inotify here: the poll alone
  }
  const poll = setInterval(() => {
    if (fingerprint(file) !== seen) check();
  }, options.pollMs ?? 5000);
  poll.unref();

  return {
    close: () => {
      watcher?.close();
      clearInterval(poll);
      clearTimeout(timer);
    },
  };
}

function fingerprint(file: string): string {
  try {
    return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  } catch (error) {
    return `unreadable: ${(error as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}
