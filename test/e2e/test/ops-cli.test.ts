import { spawnSync } from 'node:child_process';
import { CLIENT_TOKEN, startTopology, type Topology } from '../src';
import { readmeRedisCommands } from './ops/readme';
import { rotor, startShippedNginx, type Service } from './ops/services';

/**
 * Operating a live cluster as an operator would: 3 `rotor proxy` replicas behind nginx running the shipped
 * infra/nginx/nginx.conf, one pool with a key in every state (active, cooling after a 429, suspended for
 * quota, disabled by an upstream 401, disabled by the operator). `rotor status` must show it as it is,
 * `rotor keys disable` must take a key out on every replica at once, and every redis-cli command of the
 * README must run and show the same state.
 */
const WINDOW_MS = 30_000;
let topo: Topology;
let lb: Service | undefined;

interface StatusJson {
  pools: {
    pool: string;
    now: number;
    counts: Record<string, number>;
    keys: {
      id: string;
      state: string;
      reason?: string;
      until?: number;
      inflight: number;
      successes: number;
      failures: number;
    }[];
  }[];
}

beforeAll(async () => {
  topo = await startTopology({
    replicas: 3,
    windowMs: WINDOW_MS,
    providerRpm: 1000,
    pools: { openai: { keys: 5 } },
  });
  lb = await startShippedNginx(topo.proxies.map((p) => p.port));
}, 60_000);

afterAll(async () => {
  await lb?.stop();
  await topo?.stop();
});

/** One chat completion; the key that served it (x-rotor-key-id), if one did. */
async function chat(base: string): Promise<{ status: number; keyId?: string }> {
  const res = await fetch(`${base}/openai/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  const keyId = res.headers.get('x-rotor-key-id');
  return { status: res.status, ...(keyId ? { keyId } : {}) };
}

const redisCli = (args: string[]) => {
  const r = spawnSync('redis-cli', ['-p', String(topo.redis.port), ...args], { encoding: 'utf8' });
  if (r.error || r.status !== 0)
    throw new Error(`redis-cli ${args.join(' ')}: ${r.error?.message ?? r.stderr}`);
  // One line per reply element; an empty string (a field with no value) is an empty line.
  return r.stdout === '' ? [] : r.stdout.replace(/\n$/, '').split('\n');
};
const pairs = (lines: string[]) =>
  Object.fromEntries(lines.flatMap((_, i) => (i % 2 ? [] : [[lines[i]!, lines[i + 1]!]])));

describe('rotor status, rotor keys and the README redis-cli commands on a live cluster', () => {
  let status: StatusJson['pools'][number];
  const byState = (state: string, reason?: string) =>
    status.keys
      .filter((k) => k.state === state && (reason === undefined || k.reason === reason))
      .map((k) => k.id);

  it('rotor status shows a pool with keys active, cooling, suspended and disabled as they are', async () => {
    const [, s1, s2, s3] = topo.secrets.openai! as [string, string, string, string, string];
    topo.sim.consume(s1, 1000); // 429 until its window ends: cooling
    topo.sim.setMode(s2, 'quota'); // insufficient_quota: suspended
    topo.sim.setMode(s3, 'invalid'); // 401: a suspect (suspended) until a worker's probe confirms it
    const suspended = (states: string[]) => states.filter((s) => s === 'suspended').length;
    for (let i = 0; i < 20; i++) {
      await Promise.all([chat(lb!.url), chat(lb!.url), chat(lb!.url)]);
      const states = Object.values(pairs(redisCli(['HGETALL', 'rotor:{openai}:states'])));
      if (states.includes('cooling') && suspended(states) === 2) break;
    }
    const before = await rotor(['status', '--json'], topo.configFile);
    expect([before.status, before.stderr]).toEqual([0, '']);
    const active = (JSON.parse(before.stdout) as StatusJson).pools[0]!.keys.filter(
      (k) => k.state === 'active',
    );
    expect(active).toHaveLength(2);
    expect(active.map((k) => k.successes > 0)).toEqual([true, true]); // both were serving

    // The operator takes one of the two healthy keys out.
    const victim = active[0]!.id;
    const disabled = await rotor(['keys', 'disable', 'openai', victim, '--json'], topo.configFile);
    expect([disabled.status, disabled.stderr]).toEqual([0, '']);
    expect(JSON.parse(disabled.stdout)).toEqual({
      pool: 'openai',
      keyId: victim,
      action: 'disable',
      state: 'disabled',
      changed: true,
    });

    const json = await rotor(['status', '--json'], topo.configFile);
    status = (JSON.parse(json.stdout) as StatusJson).pools[0]!;
    expect(status.counts).toEqual({ active: 1, cooling: 1, suspended: 2, disabled: 1 });
    expect(byState('cooling', 'rate_limited')).toHaveLength(1);
    expect(byState('suspended', 'quota')).toHaveLength(1);
    expect(byState('suspended', 'suspect_invalid')).toHaveLength(1); // no worker here to confirm it
    expect(byState('disabled', 'operator')).toEqual([victim]);
    // The cooling key returns when the provider's window for it ends (retry-after-ms), on the Redis clock.
    const cooling = status.keys.find((k) => k.state === 'cooling')!;
    expect(Math.abs(cooling.until! - topo.sim.windowEndsAt(s1))).toBeLessThan(1500);
    expect(status.keys.find((k) => k.state === 'active')!.successes).toBeGreaterThan(0);

    // The table says the same, row by row.
    const table = await rotor(['status'], topo.configFile);
    expect(table.status).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toBe('pool openai (openai, 5 keys): 1 active, 1 cooling, 2 suspended, 1 disabled');
    for (const key of status.keys) {
      const row = lines.find((l) => l.startsWith(key.id))!.split(/\s{2,}/);
      expect([row[0], row[2], row[4], row[5]]).toEqual([
        key.id,
        key.state,
        key.reason ?? '-',
        String(key.inflight),
      ]);
      if (key.state === 'cooling') expect(row[3]).toContain(new Date(key.until!).toISOString().slice(0, 19));
    }
    for (const secret of Object.values(topo.secrets).flat())
      expect(table.stdout + json.stdout).not.toContain(secret);
  });

  it('rotor keys disable took the key out on every replica at once: it gets no more calls upstream', async () => {
    const victim = byState('disabled', 'operator')[0]!;
    const healthy = byState('active')[0]!;
    const callsBefore = topo.secrets.openai!.map((s) => topo.sim.stats(s).calls);
    const served: (string | undefined)[] = [];
    for (const replica of [...topo.proxies.map((p) => p.url), lb!.url]) {
      for (const answer of await Promise.all(Array.from({ length: 8 }, () => chat(replica)))) {
        expect(answer.status).toBe(200);
        served.push(answer.keyId);
      }
    }
    expect(new Set(served)).toEqual(new Set([healthy]));
    expect(served).not.toContain(victim);
    const grew = topo.secrets.openai!.map((s, i) => topo.sim.stats(s).calls - callsBefore[i]!);
    // All 32 requests went to one secret (the healthy key's); none to the disabled one or any other.
    expect(grew.filter((n) => n > 0)).toEqual([32]);
    console.log(
      `after disable: 32 requests over 3 replicas + nginx, all on ${healthy}; calls per secret ${JSON.stringify(grew)}`,
    );
  });

  it('every redis-cli command of the README runs and shows the same state', async () => {
    const commands = readmeRedisCommands('Redis layout and `redis-cli`');
    expect(commands.length).toBeGreaterThanOrEqual(5);
    const cooling = byState('cooling')[0]!;
    const snap = (await rotor(['status', '--json'], topo.configFile)).stdout;
    const now = (JSON.parse(snap) as StatusJson).pools[0]!;
    const ids = (state: string) =>
      now.keys
        .filter((k) => k.state === state)
        .map((k) => k.id)
        .sort();
    const checked: string[] = [];
    for (const readmeArgs of commands) {
      // The README's example key id stands for a real one: the cooling key.
      const args = readmeArgs.map((a) => a.replace(/k_0123456789ab/, cooling));
      const out = redisCli(args);
      const [command, key] = [args[0]!.toUpperCase(), args[1] ?? ''];
      const label = `${command} ${key}`;
      if (command === 'HGETALL' && key === 'rotor:{openai}:states') {
        expect(pairs(out)).toEqual(Object.fromEntries(now.keys.map((k) => [k.id, k.state])));
      } else if (command === 'ZRANGE' && key === 'rotor:{openai}:cooling') {
        expect(pairs(out)).toEqual({ [cooling]: String(now.keys.find((k) => k.id === cooling)!.until) });
      } else if (command === 'ZRANGE' && key === 'rotor:{openai}:parked') {
        expect(Object.keys(pairs(out)).sort()).toEqual([...ids('suspended'), ...ids('disabled')].sort());
      } else if (command === 'ZRANGE' && key === 'rotor:{openai}:ring') {
        expect(Object.keys(pairs(out)).sort()).toEqual(ids('active'));
      } else if (command === 'HGETALL' && key === `rotor:{openai}:key:${cooling}`) {
        expect(pairs(out)).toMatchObject({
          state: 'cooling',
          reason: 'rate_limited',
          until: String(now.keys.find((k) => k.id === cooling)!.until),
        });
      } else if (command === 'ZCARD' && key === `rotor:{openai}:key:${cooling}:inflight`) {
        expect(out).toEqual([String(now.keys.find((k) => k.id === cooling)!.inflight)]);
      } else if (command === 'TIME') {
        expect(out).toHaveLength(2);
        expect(Math.abs(Number(out[0]) * 1000 - Date.now())).toBeLessThan(5000);
      } else {
        throw new Error(`README command "redis-cli ${readmeArgs.join(' ')}" has no check here: add one`);
      }
      checked.push(label);
    }
    console.log(`README redis-cli: ${checked.length} commands checked against the live state`);
  });
});
