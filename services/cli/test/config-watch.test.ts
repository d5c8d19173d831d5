import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimProvider, type SimProvider } from '@rotor/sim-provider';
import { freePort, testRedisUrl } from '@rotor/testkit';
import { watchConfigFile } from '../src/config-watch';
import { runCli, type CliProcess } from './run-cli';

/**
 * A mounted ConfigMap, the way the kubelet writes one: `rotor.yaml -> ..data/rotor.yaml`, `..data` a
 * symlink to a timestamped directory, replaced by an atomic rename on every update.
 */
class KubeletVolume {
  private n = 0;
  constructor(readonly dir: string) {}
  get file(): string {
    return path.join(this.dir, 'rotor.yaml');
  }
  write(text: string): void {
    const version = `..v${++this.n}`;
    fs.mkdirSync(path.join(this.dir, version));
    fs.writeFileSync(path.join(this.dir, version, 'rotor.yaml'), text);
    fs.symlinkSync(version, path.join(this.dir, '..data_tmp'));
    fs.renameSync(path.join(this.dir, '..data_tmp'), path.join(this.dir, '..data'));
    if (this.n === 1) fs.symlinkSync('..data/rotor.yaml', this.file);
    else fs.rmSync(path.join(this.dir, `..v${this.n - 1}`), { recursive: true });
  }
}

const TOKEN = 'client-token-watch';
const config = (sim: SimProvider, keys: string[], prefix: string) =>
  [
    `redis: { prefix: ${prefix} }`,
    `clientTokens: [${TOKEN}]`,
    'pools:',
    `  p: { provider: openai, baseUrl: "${sim.url}/v1", keys: [${keys.join(', ')}] }`,
    'routes: { /v1: p }',
    '',
  ].join('\n');

async function send(port: number, n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}

let sim: SimProvider | undefined;
let proc: CliProcess | undefined;
let worker: CliProcess | undefined;
afterEach(async () => {
  await Promise.all([proc?.stop(), worker?.stop()]);
  await sim?.close();
  proc = worker = sim = undefined;
});

describe('rotor proxy reloads when its config file changes (a mounted ConfigMap updated by the kubelet)', () => {
  it('uses the new key set without a restart; a broken file keeps the old config and says why', async () => {
    sim = await startSimProvider({ acceptAnyKey: true, defaultLimits: { rpm: 10_000 } });
    const [a, b, c] = ['sk-watch-a-1111', 'sk-watch-b-2222', 'sk-watch-c-3333'];
    const prefix = `rotor-watch-${randomUUID()}`;
    const volume = new KubeletVolume(fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-watch-')));
    volume.write(config(sim, [a, b], prefix));
    const port = await freePort();
    proc = runCli(['proxy'], { ROTOR_CONFIG: volume.file, PORT: String(port), REDIS_URL: testRedisUrl() });
    worker = runCli(['worker'], { ROTOR_CONFIG: volume.file, METRICS_PORT: String(await freePort()), REDIS_URL: testRedisUrl() });
    await Promise.all([proc.waitFor('pool p: openai, 2 key(s)'), worker.waitFor('pool p: openai, 2 key(s)')]);
    expect(await send(port, 6)).toEqual(Array(6).fill(200));
    expect(sim.stats(a).ok).toBeGreaterThan(0);
    expect(sim.stats(c).calls).toBe(0);
    const pid = proc.child.pid;

    // Key a removed, key c added.
    const swapped = Date.now();
    volume.write(config(sim, [b, c], prefix));
    await Promise.all([proc.waitFor('config reloaded', 10_000), worker.waitFor('worker config reloaded', 10_000)]);
    console.log(`config file swapped -> "config reloaded" in ${Date.now() - swapped} ms`);
    const aCalls = sim.stats(a).calls;
    expect(await send(port, 8)).toEqual(Array(8).fill(200));
    expect(sim.stats(a).calls).toBe(aCalls);
    expect(sim.stats(c).ok).toBeGreaterThan(0);

    // A broken file: logged, the key set in force (b, c) keeps serving.
    const cBefore = sim.stats(c).ok;
    volume.write('pools: [ this is not: yaml\n');
    await Promise.all([proc.waitFor('reload refused', 10_000), worker.waitFor('reload refused', 10_000)]);
    expect(proc.output()).toMatch(/invalid YAML[^\n]*reload refused/); // why, on the same line
    expect(await send(port, 6)).toEqual(Array(6).fill(200));
    expect(sim.stats(c).ok).toBeGreaterThan(cBefore);
    expect(sim.stats(a).calls).toBe(aCalls);

    expect([proc.child.pid, proc.child.exitCode]).toEqual([pid, null]); // the same process throughout
    expect([worker.child.exitCode, worker.output().match(/worker config reloaded/g)?.length]).toEqual([null, 1]);
    expect(proc.output().match(/config reloaded/g)).toHaveLength(1);
    for (const secret of [a, b, c]) expect(proc.output() + worker.output()).not.toContain(secret);
  }, 60_000);
});

describe('watchConfigFile', () => {
  const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-watch-unit-'));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('calls back once per change of content, after the writes settle; the same bytes again are no change', async () => {
    const file = path.join(dir(), 'rotor.yaml');
    fs.writeFileSync(file, 'a: 1\n');
    const calls: number[] = [];
    const watch = watchConfigFile(file, () => calls.push(Date.now()), { debounceMs: 150 });
    try {
      // An editor writing in three steps: one call.
      fs.writeFileSync(file, 'a: ');
      await sleep(30);
      fs.appendFileSync(file, '2');
      await sleep(30);
      fs.appendFileSync(file, '\n');
      await sleep(600);
      expect(calls).toHaveLength(1);
      // Rewritten with the same bytes (a kubelet resync): none.
      fs.writeFileSync(file, 'a: 2\n');
      await sleep(600);
      expect(calls).toHaveLength(1);
      // Saved by rename, as editors do: one more.
      fs.writeFileSync(`${file}.tmp`, 'a: 3\n');
      fs.renameSync(`${file}.tmp`, file);
      await sleep(600);
      expect(calls).toHaveLength(2);
    } finally {
      watch.close();
    }
  });

  it('polls a file whose change no directory event reports (a symlink to a file elsewhere)', async () => {
    const target = path.join(dir(), 'real.yaml');
    fs.writeFileSync(target, 'a: 1\n');
    const link = path.join(dir(), 'rotor.yaml');
    fs.symlinkSync(target, link);
    let calls = 0;
    const watch = watchConfigFile(link, () => calls++, { debounceMs: 50, pollMs: 100 });
    try {
      fs.writeFileSync(target, 'a: 2\n');
      await sleep(600);
      expect(calls).toBe(1);
    } finally {
      watch.close();
    }
  });
});
