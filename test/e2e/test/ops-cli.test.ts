import { spawnSync } from 'node:child_process';
import { CLIENT_TOKEN, startTopology, type Topology } from '../src';
import { readmeRedisCommands } from './ops/readme';
import { rotor, startShippedNginx, type Service } from './ops/services';

/**
 * Operating a live cluster as an operator would: 3 `rotor proxy` replicas behind nginx running the shipped
 * infra/nginx/nginx.conf, one pool with a key in every state (active, active with its account's bucket
 * cooling after a 429, suspended for quota, suspended as a suspect after an upstream 401, disabled by
 * the operator). `rotor status` must show keys and buckets as they are, `rotor keys disable` must take a
 * key out on every replica at once, and every redis-cli command of the README must run and show the same
 * state.
 */
const WINDOW_MS = 30_000;
/** The model every request names: its own model group, the one the README's redis-cli commands name. */
const GROUP = 'gpt-4o';
/** The README's placeholders, standing for the key and the account whose gpt-4o bucket cools. */
const README_KEY = 'k_0123456789ab';
const README_ACCOUNT = 'org-AbCdEfGhIjKlMnOpQrStUvWx';
let topo: Topology;
let lb: Service | undefined;

interface KeyJson {
  id: string;
  state: string;
  reason?: string;
  account?: string;
  accountDeclared?: boolean;
  inflight: number;
  successes: number;
  failures: number;
}

interface BucketJson {
  account: string;
  group: string;
  state: string;
  reason?: string;
  until?: number;
  inflight: number;
  remainingRequests?: number;
  limitRequests?: number;
  lastAt?: number;
}

interface StatusJson {
  pools: {
    pool: string;
    now: number;
    counts: Record<string, number>;
    bucketCounts: Record<string, number>;
    groups: string[];
    keys: KeyJson[];
    buckets: BucketJson[];
  }[];
}

/** The account whose buckets a key uses: the named one, or the key's own. */
const accountOf = (key: KeyJson) => key.account ?? `~${key.id}`;

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
    body: JSON.stringify({ model: GROUP, messages: [{ role: 'user', content: 'hi' }] }),
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

async function statusJson(): Promise<StatusJson['pools'][number]> {
  const json = await rotor(['status', '--json'], topo.configFile);
  expect([json.status, json.stderr]).toEqual([0, '']);
  return (JSON.parse(json.stdout) as StatusJson).pools[0]!;
}

describe('rotor status, rotor keys and the README redis-cli commands on a live cluster', () => {
  let status: StatusJson['pools'][number];
  /** The bucket a 429 cooled, and the one key of its account. */
  let cooling: BucketJson;
  let coolingKey: KeyJson;
  const byState = (state: string, reason?: string) =>
    status.keys
      .filter((k) => k.state === state && (reason === undefined || k.reason === reason))
      .map((k) => k.id);
  /** Active keys whose account's bucket of GROUP is not cooling: the ones that serve GROUP. */
  const serving = (pool: StatusJson['pools'][number]) => {
    const coolingAccounts = new Set(
      pool.buckets.filter((b) => b.group === GROUP && b.state === 'cooling').map((b) => b.account),
    );
    return pool.keys.filter((k) => k.state === 'active' && !coolingAccounts.has(accountOf(k)));
  };

  it('rotor status shows keys active, suspended and disabled and a bucket cooling, as they are', async () => {
    const [, s1, s2, s3] = topo.secrets.openai! as [string, string, string, string, string];
    topo.sim.consume(s1, 1000); // 429 until its window ends: its account's gpt-4o bucket cools
    topo.sim.setMode(s2, 'quota'); // insufficient_quota: its account's keys are suspended
    topo.sim.setMode(s3, 'invalid'); // 401: a suspect (suspended) until a worker's probe confirms it
    const suspended = (states: string[]) => states.filter((s) => s === 'suspended').length;
    for (let i = 0; i < 20; i++) {
      await Promise.all([chat(lb!.url), chat(lb!.url), chat(lb!.url)]);
      const states = Object.values(pairs(redisCli(['HGETALL', 'rotor:{openai}:states'])));
      const coolingBuckets = Number(redisCli(['ZCARD', `rotor:{openai}:cooling:${GROUP}`])[0]);
      if (coolingBuckets > 0 && suspended(states) === 2) break;
    }
    const before = await statusJson();
    // Every key keeps its own state under a 429: s1 is active, only its bucket cools.
    expect(before.keys.filter((k) => k.state === 'active')).toHaveLength(3);
    const healthy = serving(before);
    expect(healthy).toHaveLength(2);
    expect(healthy.map((k) => k.successes > 0)).toEqual([true, true]); // both were serving

    // The operator takes one of the two healthy keys out.
    const victim = healthy[0]!.id;
    const disabled = await rotor(['keys', 'disable', 'openai', victim, '--json'], topo.configFile);
    expect([disabled.status, disabled.stderr]).toEqual([0, '']);
    expect(JSON.parse(disabled.stdout)).toEqual({
      pool: 'openai',
      keyId: victim,
      action: 'disable',
      state: 'disabled',
      changed: true,
    });

    status = await statusJson();
    expect(status.counts).toEqual({ active: 2, suspended: 2, disabled: 1 });
    expect(byState('suspended', 'quota')).toHaveLength(1);
    expect(byState('suspended', 'suspect_invalid')).toHaveLength(1); // no worker here to confirm it
    expect(byState('disabled', 'operator')).toEqual([victim]);
    expect(status.groups).toContain(GROUP);

    // One bucket cools: s1's organization (learned from the answers' openai-organization) × gpt-4o.
    expect(status.bucketCounts).toEqual({ ready: status.buckets.length - 1, cooling: 1 });
    cooling = status.buckets.find((b) => b.state === 'cooling')!;
    expect(cooling).toMatchObject({
      group: GROUP,
      account: topo.sim.organization(s1)!.id,
      reason: 'rate_limited',
    });
    const ofAccount = status.keys.filter((k) => k.account === cooling.account);
    expect(ofAccount).toHaveLength(1);
    coolingKey = ofAccount[0]!;
    expect(coolingKey.state).toBe('active');
    expect(coolingKey).not.toHaveProperty('accountDeclared');
    // It returns when the provider's window for it ends (retry-after-ms), on the Redis clock.
    expect(Math.abs(cooling.until! - topo.sim.windowEndsAt(s1))).toBeLessThan(1500);
    // The suspect answered no organization (a 401 names none): it is its own account.
    const suspect = status.keys.find((k) => k.reason === 'suspect_invalid')!;
    expect(suspect).not.toHaveProperty('account');
    expect(status.buckets.map((b) => b.account)).toContain(`~${suspect.id}`);
    expect(
      status.keys.find((k) => k.state === 'active' && k.id !== coolingKey.id)!.successes,
    ).toBeGreaterThan(0);

    // The tables say the same, row by row.
    const table = await rotor(['status'], topo.configFile);
    expect(table.status).toBe(0);
    const [keyLines, bucketLines] = table.stdout
      .trim()
      .split('\n\n')
      .map((b) => b.split('\n')) as [string[], string[]];
    expect(keyLines[0]).toBe(
      `pool openai (openai, 5 keys): 2 active, 2 suspended, 1 disabled; buckets: ${status.buckets.length - 1} ready, 1 cooling`,
    );
    for (const key of status.keys) {
      const row = keyLines.find((l) => l.startsWith(key.id))!.split(/\s{2,}/);
      expect([row[0], row[2], row[3], row[4], row[5]]).toEqual([
        key.id,
        key.state,
        key.reason ?? '-',
        key.account ?? '-',
        String(key.inflight),
      ]);
    }
    expect(bucketLines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 2))).toEqual(
      status.buckets.map((b) => [b.group, b.account]),
    );
    for (const bucket of status.buckets) {
      const row = bucketLines.find(
        (l) => l.startsWith(`${bucket.group}  `) && l.includes(` ${bucket.account} `),
      )!;
      const cells = row.split(/\s{2,}/);
      if (bucket.state === 'cooling') {
        expect(cells[2]).toMatch(/^cooling \d+s \(rate_limited\)$/);
        expect(cells[3]).toBe(new Date(bucket.until!).toISOString().slice(0, 19) + 'Z');
      } else {
        expect([cells[2], cells[3]]).toEqual(['ready', '-']);
      }
      expect(cells[6]).toBe(String(bucket.inflight));
    }
    for (const secret of Object.values(topo.secrets).flat())
      expect(table.stdout + JSON.stringify(status)).not.toContain(secret);
  });

  it('rotor keys disable took the key out on every replica at once: it gets no more calls upstream', async () => {
    const victim = byState('disabled', 'operator')[0]!;
    const [healthy, ...others] = serving(status).map((k) => k.id);
    expect(others).toEqual([]);
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
    // All 32 requests went to one secret (the healthy key's); none to the disabled one, none to the key
    // whose bucket cools.
    expect(grew.filter((n) => n > 0)).toEqual([32]);
    console.log(
      `after disable: 32 requests over 3 replicas + nginx, all on ${healthy}; calls per secret ${JSON.stringify(grew)}`,
    );
  });

  it('every redis-cli command of the README runs and shows the same state', async () => {
    const commands = readmeRedisCommands('Redis layout and `redis-cli`');
    expect(commands.length).toBeGreaterThanOrEqual(5);
    const now = await statusJson();
    const ids = (keys: KeyJson[]) => keys.map((k) => k.id).sort();
    const bucket = now.buckets.find((b) => b.account === cooling.account && b.group === GROUP)!;
    const base = 'rotor:{openai}:';
    const bucketName = `${base}bucket:${cooling.account}|${GROUP}`;
    const checked: string[] = [];
    for (const readmeArgs of commands) {
      // The README's example key id and account stand for real ones: those of the cooling bucket.
      const args = readmeArgs.map((a) =>
        a.replace(README_KEY, coolingKey.id).replace(README_ACCOUNT, cooling.account),
      );
      const out = redisCli(args);
      const [command, key] = [args[0]!.toUpperCase(), args[1] ?? ''];
      const label = `${command} ${key}`;
      if (command === 'HGETALL' && key === `${base}states`) {
        expect(pairs(out)).toEqual(Object.fromEntries(now.keys.map((k) => [k.id, k.state])));
      } else if (command === 'HKEYS' && key === `${base}groups`) {
        expect([...out].sort()).toEqual([...now.groups].sort());
      } else if (command === 'SMEMBERS' && key === `${base}buckets`) {
        expect([...out].sort()).toEqual(now.buckets.map((b) => `${b.account}|${b.group}`).sort());
      } else if (command === 'ZRANGE' && key === `${base}cooling:${GROUP}`) {
        expect(pairs(out)).toEqual({ [cooling.account]: String(bucket.until) });
      } else if (command === 'ZRANGE' && key === `${base}ring:${GROUP}`) {
        expect(Object.keys(pairs(out)).sort()).toEqual(ids(serving(now)));
      } else if (command === 'ZRANGE' && key === `${base}parked`) {
        expect(Object.keys(pairs(out)).sort()).toEqual(ids(now.keys.filter((k) => k.state !== 'active')));
      } else if (command === 'HGETALL' && key === `${base}key:${coolingKey.id}`) {
        expect(pairs(out)).toMatchObject({ state: 'active', reason: '', account: cooling.account });
      } else if (command === 'SMEMBERS' && key === `${base}account:${cooling.account}`) {
        expect(out).toEqual([coolingKey.id]);
      } else if (command === 'HGETALL' && key === bucketName) {
        expect(pairs(out)).toMatchObject({
          until: String(bucket.until),
          reason: 'rate_limited',
          last_at: String(bucket.lastAt),
          ...(bucket.limitRequests !== undefined ? { lim_req: String(bucket.limitRequests) } : {}),
        });
      } else if (command === 'ZCARD' && key === `${bucketName}:inflight`) {
        expect(out).toEqual([String(bucket.inflight)]);
      } else if (command === 'TIME') {
        expect(out).toHaveLength(2);
        expect(Math.abs(Number(out[0]) * 1000 - Date.now())).toBeLessThan(5000);
      } else {
        throw new Error(`README command "redis-cli ${readmeArgs.join(' ')}" has no check here: add one`);
      }
      checked.push(label);
    }
    expect(checked).toHaveLength(commands.length);
    console.log(`README redis-cli: ${checked.length} commands checked against the live state`);
  });
});
