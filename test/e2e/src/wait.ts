import type { ChildProcess } from 'node:child_process';
import { exitReason } from '@rotor/testkit';

/** Polls a URL until it answers (any status), failing early if the process dies. */
export async function waitForHttp(url: string, child?: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const reason = child && exitReason(child);
    if (reason) throw new Error(`${url}: process ${reason}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}
