import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One `redis-cli` command against a test's Redis (`-c` follows Cluster redirects); stdout lines. */
export async function redisCli(port: number, ...args: string[]): Promise<string[]> {
  const { stdout } = await run('redis-cli', ['-c', '-p', String(port), '--no-raw', ...args], { timeout: 10_000 });
  return stdout
    .split('\n')
    .map((line) => line.trim().replace(/^\d+\) /, '').replace(/^"(.*)"$/, '$1'))
    .filter((line) => line.length > 0);
}

/** HGETALL as an object (`redis-cli --raw` pairs). */
export async function hgetall(port: number, key: string): Promise<Record<string, string>> {
  const { stdout } = await run('redis-cli', ['-c', '-p', String(port), '--raw', 'HGETALL', key], { timeout: 10_000 });
  const lines = stdout.split('\n');
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) if (lines[i]) out[lines[i]!] = lines[i + 1]!;
  return out;
}
