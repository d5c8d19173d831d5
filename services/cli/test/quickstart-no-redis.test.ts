import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, testRedisUrl } from '@rotor/testkit';
import { REPO_ROOT, runCli, runProcess, type CliProcess } from './run-cli';
import { chat, killRedisServersUnder, pathWithoutRedis, redisServersGone, redisServersUnder } from './no-redis';

/**
 * The quick start on a machine where no Redis answers. This machine has a Redis on 127.0.0.1:6379 that
 * belongs to someone else, so "nothing answers at the default address" is made with
 * ROTOR_DEFAULT_REDIS_URL (tests only) pointing at a closed port; REDIS_URL stays unset.
 * The README's bound: Rotor serves within 30 s of `./scripts/quickstart.sh` (dependencies installed).
 */
const SERVE_WITHIN_MS = 30_000;
const running: CliProcess[] = [];
const dirs: string[] = [];
const temporary: string[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
  for (const dir of dirs.splice(0)) killRedisServersUnder(dir);
});

function start(command: 'quickstart' | 'start' | 'proxy' | 'worker' | 'status', env: Record<string, string | undefined>, cwd: string, args: string[] = []): CliProcess {
  const proc =
    command === 'quickstart'
      ? runProcess('./scripts/quickstart.sh', [], env, cwd)
      : runCli([command, ...args], env, cwd);
  running.push(proc);
  dirs.push(cwd);
  return proc;
}

async function closedAddress(): Promise<string> {
  return `redis://127.0.0.1:${await freePort()}`;
}

async function ports() {
  return { PORT: String(await freePort()), METRICS_PORT: String(await freePort()) };
}

function tempProject(): string {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-project-')));
  temporary.push(dir);
  return dir;
}

/** `rotor status --json` from `cwd`: the sum of successes over the pool's keys, its buckets, and what it said. */
async function statusSuccesses(env: Record<string, string | undefined>, cwd: string, pool = 'openai') {
  const proc = start('status', env, cwd, [pool, '--json']);
  const code = await proc.exited;
  const out = proc.output();
  const json = JSON.parse(out.slice(out.indexOf('{'))) as {
    pools: { keys: { successes: number }[]; buckets: { account: string; group: string; state: string }[] }[];
  };
  const { keys, buckets } = json.pools[0]!;
  return { code, out, successes: keys.reduce((sum, k) => sum + k.successes, 0), buckets };
}

/** The one bucket a single chat completion used: the demo key's organization (learned) × its model. */
const ONE_BUCKET = [{ account: expect.stringMatching(/^org-/), group: 'gpt-4o-mini', state: 'ready' }];

/** The quick start runs from the repository root, so its project folder is the checkout's own `.rotor/`. */
const project = path.join(REPO_ROOT, '.rotor');
let projectExisted = false;
beforeAll(() => {
  projectExisted = fs.existsSync(project);
  if (fs.existsSync(path.join(project, 'rotor.lock.json'))) {
    const { pid } = JSON.parse(fs.readFileSync(path.join(project, 'rotor.lock.json'), 'utf8')) as { pid: number };
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (alive) throw new Error(`a Rotor (pid ${pid}) runs in this checkout on its own store: stop it before these tests`);
  }
});
afterAll(() => {
  killRedisServersUnder(project);
  if (!projectExisted) fs.rmSync(project, { recursive: true, force: true });
  for (const dir of temporary.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('./scripts/quickstart.sh with REDIS_URL unset and nothing at the default address', () => {
  it('starts redis-server from the PATH with its data in .rotor/redis, serves, and stops it when stopped', async () => {
    const env = { ...(await ports()), ROTOR_DEFAULT_REDIS_URL: await closedAddress() };
    const started = Date.now();
    const rotor = start('quickstart', env, REPO_ROOT);
    await rotor.waitFor('pool anthropic:', SERVE_WITHIN_MS);
    const res = await chat(Number(env.PORT));
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(SERVE_WITHIN_MS);

    const dataDir = path.join(project, 'redis');
    expect(rotor.output()).toContain(`no Redis answered at ${env.ROTOR_DEFAULT_REDIS_URL} and REDIS_URL is not set, so Rotor started`);
    expect(rotor.output()).toContain(`its data persists in ${dataDir}; it stops when Rotor stops`);
    const servers = redisServersUnder(dataDir);
    expect(servers).toHaveLength(1);
    const ready = await fetch(`http://127.0.0.1:${env.PORT}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { status: string }).status).toBe('ready');

    // rotor status finds that Redis through the folder's lock, says whose it is, and reads the request.
    let status = await statusSuccesses({ ROTOR_DEFAULT_REDIS_URL: env.ROTOR_DEFAULT_REDIS_URL }, REPO_ROOT);
    for (let i = 0; i < 20 && status.successes < 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await statusSuccesses({ ROTOR_DEFAULT_REDIS_URL: env.ROTOR_DEFAULT_REDIS_URL }, REPO_ROOT);
    }
    expect(status.code).toBe(0);
    expect(status.out).toContain(`single replica: state in the redis-server Rotor (pid `);
    expect(status.successes).toBeGreaterThanOrEqual(1);
    expect(status.buckets).toMatchObject(ONE_BUCKET);

    // A second replica in the same folder refuses instead of running on a state of its own.
    const second = start('proxy', { ...(await ports()), ROTOR_DEFAULT_REDIS_URL: env.ROTOR_DEFAULT_REDIS_URL }, REPO_ROOT);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain('replicas share state only through a Redis they all reach');
    expect(second.output()).toContain('set REDIS_URL on every replica');
    expect(redisServersUnder(dataDir)).toEqual(servers);

    // A worker started there joins that Redis (it is not a second replica).
    const worker = start('worker', { METRICS_PORT: String(await freePort()), ROTOR_DEFAULT_REDIS_URL: env.ROTOR_DEFAULT_REDIS_URL }, REPO_ROOT);
    await worker.waitFor('rotor worker: metrics on');
    expect(worker.output()).toContain('single replica: state in the redis-server Rotor (pid ');
    await worker.stop();

    await rotor.stop(); // SIGTERM to the script's process (pnpm), which passes it on to Rotor
    expect(rotor.output()).toContain('SIGTERM: shutting down');
    expect(redisServersUnder(dataDir)).toEqual([]);
    expect(fs.existsSync(path.join(project, 'rotor.lock.json'))).toBe(false);
    expect(fs.readdirSync(path.join(dataDir, 'appendonlydir')).length).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(dataDir, 'dump.rdb'))).toBe(true);
  }, 90_000);

  it('with no redis-server to be had runs on the in-memory store and says so in the banner, /readyz and rotor status', async () => {
    const note = 'single replica: state in memory; set REDIS_URL to share it';
    const env = {
      ...(await ports()),
      PATH: pathWithoutRedis(temporary),
      ROTOR_DEFAULT_REDIS_URL: await closedAddress(),
      ROTOR_ADMIN_TOKEN: 'quickstart-admin-token',
    };
    const started = Date.now();
    const rotor = start('quickstart', env, REPO_ROOT);
    await rotor.waitFor('pool anthropic:', SERVE_WITHIN_MS);
    expect((await chat(Number(env.PORT))).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(SERVE_WITHIN_MS);
    expect(rotor.output()).toContain('and there is no redis-server on the PATH');
    expect(rotor.output()).toContain(`*** ${note}.`);
    expect(rotor.output()).not.toContain('rotor worker (same process)');

    const ready = await fetch(`http://127.0.0.1:${env.PORT}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { status: string; detail: string };
    expect(body.status).toBe('degraded');
    expect(body.detail).toContain(note);

    // rotor status reads that memory through the replica's admin API.
    const statusEnv = { ROTOR_DEFAULT_REDIS_URL: env.ROTOR_DEFAULT_REDIS_URL, ROTOR_ADMIN_TOKEN: env.ROTOR_ADMIN_TOKEN };
    const status = await statusSuccesses(statusEnv, REPO_ROOT);
    expect(status.code).toBe(0);
    expect(status.out).toContain(note);
    expect(status.successes).toBe(1);
    expect(status.buckets).toMatchObject(ONE_BUCKET); // the in-memory store's snapshot, through the admin API

    const second = start('proxy', { ...(await ports()), PATH: env.PATH, ROTOR_DEFAULT_REDIS_URL: env.ROTOR_DEFAULT_REDIS_URL }, REPO_ROOT);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain('on its own memory: replicas share state only through a Redis they all reach');
    expect((await chat(Number(env.PORT))).status).toBe(200);

    rotor.child.kill('SIGINT');
    await rotor.exited;
    expect(rotor.output()).toContain('SIGINT: shutting down');
    expect(fs.existsSync(path.join(project, 'rotor.lock.json'))).toBe(false);
  }, 90_000);
});

describe('rotor start and its redis-server', () => {
  it('REDIS_URL (or redis.url) at a closed port: the clear error as before, exit 1, no Redis of its own', async () => {
    const cwd = tempProject();
    const closed = await closedAddress();
    const named = start('start', { ...(await ports()), REDIS_URL: closed }, cwd);
    expect(await named.exited).toBe(1);
    expect(named.output()).toContain(`Redis at ${closed} did not answer`);
    expect(named.output()).toContain('point REDIS_URL at yours');

    const file = path.join(cwd, 'rotor.yaml');
    fs.writeFileSync(file, fs.readFileSync(path.join(REPO_ROOT, 'rotor.example.yaml'), 'utf8').replace('prefix: rotor', `url: ${closed}\n  prefix: rotor`));
    // A config of one's own: it needs a key (without one it stops before trying any Redis).
    const inFile = start('start', { ...(await ports()), ROTOR_DEFAULT_REDIS_URL: await closedAddress(), OPENAI_KEYS: 'sk-own-1', ROTOR_CLIENT_TOKEN: 't' }, cwd);
    expect(await inFile.exited).toBe(1);
    expect(inFile.output()).toContain(`Redis at ${closed} did not answer`);

    expect(fs.existsSync(path.join(cwd, '.rotor'))).toBe(false);
    expect(redisServersUnder(cwd)).toEqual([]);
  }, 60_000);

  it('replicas started together on a Redis at the default address both serve, and make nothing of their own', async () => {
    const cwd = tempProject();
    const env = { ROTOR_DEFAULT_REDIS_URL: testRedisUrl() };
    const a = start('proxy', { ...env, PORT: String(await freePort()) }, cwd);
    const b = start('proxy', { ...env, PORT: String(await freePort()) }, cwd);
    await Promise.all([a.waitFor('pool anthropic:'), b.waitFor('pool anthropic:')]);
    for (const replica of [a, b]) expect(replica.output()).not.toContain('Redis:');
    expect(fs.existsSync(path.join(cwd, '.rotor'))).toBe(false);
  }, 60_000);

  it('a start that fails after Redis was started (port taken) leaves no redis-server and no lock', async () => {
    const cwd = tempProject();
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '0.0.0.0', resolve));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const rotor = start('start', { PORT: String(port), METRICS_PORT: String(await freePort()), ROTOR_DEFAULT_REDIS_URL: await closedAddress() }, cwd);
      expect(await rotor.exited).toBe(1);
      expect(rotor.output()).toContain('so Rotor started');
      expect(rotor.output()).toContain('EADDRINUSE');
      expect(await redisServersGone(cwd, 5000)).toEqual([]);
      expect(fs.existsSync(path.join(cwd, '.rotor', 'rotor.lock.json'))).toBe(false);
    } finally {
      taken.close();
    }
  }, 60_000);

  it('a SIGTERM while it starts (redis-server spawned, proxy not listening yet) leaves no redis-server and no lock', async () => {
    const cwd = tempProject();
    const rotor = start('start', { ...(await ports()), ROTOR_DEFAULT_REDIS_URL: await closedAddress() }, cwd);
    const deadline = Date.now() + 20_000;
    while (!redisServersUnder(cwd).length && rotor.child.exitCode === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(redisServersUnder(cwd)).toHaveLength(1);
    expect(rotor.output()).not.toContain('rotor proxy listening');
    rotor.child.kill('SIGTERM');
    await rotor.exited;
    expect(rotor.output()).toContain('SIGTERM: stopping during start');
    expect(await redisServersGone(cwd, 5000)).toEqual([]);
    expect(fs.existsSync(path.join(cwd, '.rotor', 'rotor.lock.json'))).toBe(false);
  }, 60_000);

  it('after a SIGKILL, the next start stops the orphaned redis-server and finds the key state it persisted', async () => {
    const cwd = tempProject();
    const dataDir = path.join(cwd, '.rotor', 'redis');
    const env = { ...(await ports()), ROTOR_DEFAULT_REDIS_URL: await closedAddress() };
    const first = start('start', env, cwd);
    await first.waitFor('pool anthropic:', SERVE_WITHIN_MS);
    expect((await chat(Number(env.PORT))).status).toBe(200);
    let before = await statusSuccesses(env, cwd);
    for (let i = 0; i < 20 && before.successes < 1; i++) before = await statusSuccesses(env, cwd);
    expect(before.successes).toBe(1);

    // SIGKILL cannot be caught: its redis-server is orphaned, and the lock names a dead process.
    first.child.kill('SIGKILL');
    await first.exited;
    const orphans = redisServersUnder(dataDir);
    expect(orphans).toHaveLength(1);

    const second = start('start', env, cwd);
    await second.waitFor('pool anthropic:', SERVE_WITHIN_MS);
    const now = redisServersUnder(dataDir);
    expect(now).toHaveLength(1);
    expect(now).not.toContain(orphans[0]);
    expect((await statusSuccesses(env, cwd)).successes).toBe(1); // persisted across the restart

    second.child.kill('SIGINT');
    await second.exited;
    expect(redisServersUnder(dataDir)).toEqual([]);
  }, 90_000);
});
