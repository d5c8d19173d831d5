import { parseConfig, type Outcome, type RotorConfig } from '@rotor/core';
import { syncPools } from '@rotor/proxy';
import {
  coolingKey,
  openKeyStore,
  ownAccount,
  poolKeys,
  type Lease,
  type PoolSnapshot,
  type RedisKeyStore,
} from '@rotor/redis-store';
import { freePort, testRedisUrl, uniquePrefix } from '@rotor/testkit';
import { keysCommand } from '../src/commands/keys';
import { statusCommand } from '../src/commands/status';
import type { Io } from '../src/inspect/io';

function capture(): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    out: (text: string) => void (io.stdout += `${text}\n`),
    err: (text: string) => void (io.stderr += `${text}\n`),
  };
  return io;
}

const outcome = (kind: Outcome['kind'], extra: Partial<Outcome> = {}): Outcome => ({
  kind,
  rateLimit: {},
  ...extra,
});

describe('rotor status / rotor keys (in process, against a private Redis prefix)', () => {
  let config: RotorConfig;
  let store: RedisKeyStore;
  let ids: { alpha: string; beta: string; gamma: string; delta: string; eps: string };
  /** The request in flight on alpha (model group gpt-4o-mini, account org-team). */
  let inflight: Lease;

  beforeAll(async () => {
    config = parseConfig(
      {
        redis: { url: testRedisUrl(), prefix: uniquePrefix('cli') },
        clientTokens: ['t'],
        pools: {
          openai: {
            provider: 'openai',
            keys: [
              { key: 'sk-cli-a', label: 'alpha', account: 'org-team' },
              { key: 'sk-cli-b', label: 'beta' },
              { key: 'sk-cli-c', label: 'gamma' },
              { key: 'sk-cli-d', label: 'delta' },
              { key: 'sk-cli-e', label: 'eps', account: 'org-team' },
            ],
          },
          spare: { provider: 'anthropic', keys: 'sk-cli-f' },
        },
        routes: { '/v1': 'openai', '/anthropic': 'spare' },
      },
      {},
    );
    // The proxies' store, opened as they open it (the config names the same private Redis).
    store = (await openKeyStore(config, { failFast: true })).store;
    await syncPools(config, store);
    const all = config.pools.openai!.keys.map((k) => k.id);
    const [alpha, beta, gamma, delta, eps] = all as [string, string, string, string, string];
    ids = { alpha, beta, gamma, delta, eps };
    const lease = async (id: string, group?: string) => {
      const got = await store.acquire('openai', {
        exclude: all.filter((k) => k !== id),
        ...(group ? { group } : {}),
      });
      if (!got.ok || got.lease.keyId !== id) throw new Error(`could not lease ${id}`);
      return got.lease;
    };
    // alpha (declared org-team) learns its bucket's budget for gpt-4o-mini from an answer's headers.
    await store.report(
      await lease(alpha, 'gpt-4o-mini'),
      outcome('success', {
        status: 200,
        rateLimit: {
          limitRequests: 500,
          remainingRequests: 498,
          resetRequestsMs: 30_000,
          limitTokens: 30_000,
          remainingTokens: 29_000,
          resetTokensMs: 30_000,
        },
      }),
    );
    // beta learns its account from a 429 on gpt-4o, which cools that account's gpt-4o bucket.
    await store.report(
      await lease(beta, 'gpt-4o'),
      outcome('rate_limited', { status: 429, rateLimit: { retryAfterMs: 90_000 } }),
      'org-beta',
    );
    await store.report(
      await lease(gamma),
      outcome('quota_exhausted', { status: 429, errorCode: 'insufficient_quota' }),
    );
    await store.setState('openai', delta, 'disable');
    inflight = await lease(alpha, 'gpt-4o-mini'); // one request in flight in org-team's gpt-4o-mini bucket
  });
  afterAll(async () => {
    await store.redis.quit();
  });

  /** The lines of one pool's block in text mode: headline, key table, blank line, bucket table. */
  const block = (stdout: string, pool: string) => {
    const blocks = stdout.trim().split(/\n\n(?=pool )/);
    const found = blocks.find((b) => b.startsWith(`pool ${pool} `));
    if (!found) throw new Error(`no block for pool ${pool} in:\n${stdout}`);
    const [head = '', buckets = ''] = found.split('\n\n');
    return { keys: head.split('\n'), buckets: buckets.split('\n') };
  };
  const cells = (line: string | undefined) => (line ?? '').split(/\s{2,}/);

  it('status: per pool a headline, a table of keys (state, reason, account) and one of buckets', async () => {
    const io = capture();
    expect(await statusCommand([], config, io)).toBe(0);
    const { keys, buckets } = block(io.stdout, 'openai');
    expect(keys[0]).toBe(
      'pool openai (openai, 5 keys): 3 active, 1 suspended, 1 disabled; buckets: 2 ready, 1 cooling',
    );
    expect(keys[1]).toMatch(/^KEY ID\s+LABEL\s+STATE\s+REASON\s+ACCOUNT\s+IN-FLIGHT\s+OK\s+FAILED\s+429$/);
    const row = (id: string) => cells(keys.find((l) => l.startsWith(id)));
    expect(row(ids.alpha)).toEqual([
      ids.alpha,
      'alpha',
      'active',
      '-',
      'org-team (declared)',
      '1',
      '1',
      '0',
      '0',
    ]);
    expect(row(ids.beta)).toEqual([ids.beta, 'beta', 'active', '-', 'org-beta', '0', '0', '0', '1']);
    expect(row(ids.gamma)).toEqual([ids.gamma, 'gamma', 'suspended', 'quota', '-', '0', '0', '1', '0']);
    expect(row(ids.delta)).toEqual([ids.delta, 'delta', 'disabled', 'operator', '-', '0', '0', '0', '0']);
    expect(row(ids.eps)).toEqual([ids.eps, 'eps', 'active', '-', 'org-team (declared)', '0', '0', '0', '0']);
    expect(keys).toHaveLength(7);

    // Buckets sorted by model group, then account; a key that is its own account names it ~<keyId>.
    expect(buckets[0]).toMatch(/^GROUP\s+ACCOUNT\s+STATE\s+UNTIL\s+REQUESTS\s+TOKENS\s+IN-FLIGHT$/);
    expect(buckets.slice(1).map((l) => cells(l).slice(0, 2))).toEqual([
      ['default', `~${ids.gamma}`],
      ['gpt-4o', 'org-beta'],
      ['gpt-4o-mini', 'org-team'],
    ]);
    expect(cells(buckets[1])).toEqual(['default', `~${ids.gamma}`, 'ready', '-', '-', '-', '0']);
    const cooling = cells(buckets[2]);
    expect(cooling[2]).toMatch(/^cooling (89|90)s \(rate_limited\)$/);
    expect(cooling[3]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(cooling.slice(4)).toEqual(['-', '-', '0']);
    // One request reserved since the answer that said 498 left.
    expect(cells(buckets[3])).toEqual([
      'gpt-4o-mini',
      'org-team',
      'ready',
      '-',
      '497/500',
      '29000/30000',
      '1',
    ]);

    expect(io.stdout).toContain(
      'pool spare (anthropic, 1 key): 1 active, 0 suspended, 0 disabled; buckets: 0 ready, 0 cooling',
    );
    expect(block(io.stdout, 'spare').buckets).toEqual([
      '(no buckets yet: a bucket appears with the first request of its account and model group)',
    ]);
    expect(io.stdout).not.toMatch(/sk-cli/);
  });

  it('status --json: the store snapshots (keys, buckets, groups) with counts; a pool can be named', async () => {
    const io = capture();
    expect(await statusCommand(['openai', '--json'], config, io)).toBe(0);
    const parsed = JSON.parse(io.stdout) as { pools: (PoolSnapshot & Record<string, unknown>)[] };
    expect(parsed.pools.map((p) => p.pool)).toEqual(['openai']);
    const pool = parsed.pools[0]!;
    expect(Object.keys(pool).sort()).toEqual([
      'bucketCounts',
      'buckets',
      'counts',
      'groups',
      'keys',
      'now',
      'pool',
    ]);
    expect(pool.counts).toEqual({ active: 3, suspended: 1, disabled: 1 });
    expect(pool.bucketCounts).toEqual({ ready: 2, cooling: 1 });
    expect(pool.groups).toEqual(expect.arrayContaining(['default', 'gpt-4o', 'gpt-4o-mini']));
    const key = (id: string) => pool.keys.find((k) => k.id === id);
    expect(key(ids.alpha)).toMatchObject({
      state: 'active',
      account: 'org-team',
      accountDeclared: true,
      inflight: 1,
    });
    expect(key(ids.beta)).toMatchObject({ state: 'active', account: 'org-beta' });
    expect(key(ids.beta)).not.toHaveProperty('accountDeclared');
    expect(key(ids.gamma)).toMatchObject({ state: 'suspended', reason: 'quota' });
    expect(key(ids.gamma)).not.toHaveProperty('account');
    // Stable field names, ms epochs on the Redis clock; a field the store knows nothing of is left out.
    const [own, cooling, budget] = pool.buckets;
    expect(own).toEqual({
      account: `~${ids.gamma}`,
      group: 'default',
      state: 'ready',
      inflight: 0,
      lastAt: expect.any(Number),
    });
    expect(cooling).toEqual({
      account: 'org-beta',
      group: 'gpt-4o',
      state: 'cooling',
      reason: 'rate_limited',
      until: expect.any(Number),
      inflight: 0,
      lastAt: expect.any(Number),
    });
    expect(Math.abs(cooling!.until! - (pool.now + 90_000))).toBeLessThan(2000);
    expect(budget).toEqual({
      account: 'org-team',
      group: 'gpt-4o-mini',
      state: 'ready',
      inflight: 1,
      remainingRequests: 497,
      limitRequests: 500,
      resetRequestsAt: expect.any(Number),
      remainingTokens: 29_000,
      limitTokens: 30_000,
      resetTokensAt: expect.any(Number),
      lastAt: expect.any(Number),
    });
    const snap = await store.snapshot('openai');
    expect(pool.buckets).toEqual(JSON.parse(JSON.stringify(snap.buckets)));
    expect(pool.keys).toEqual(JSON.parse(JSON.stringify(snap.keys)));
  });

  it("keys: clear ends the cooldowns of the key's account (through any key of it); disable / enable by id or label, text and --json", async () => {
    let io = capture();
    expect(await keysCommand(['clear', 'openai', 'beta'], config, io)).toBe(0);
    expect(io.stdout).toBe(`openai/${ids.beta}: active\n`);
    io = capture();
    expect(await keysCommand(['clear', 'openai', ids.beta], config, io)).toBe(0);
    expect(io.stdout).toBe(`openai/${ids.beta}: active (unchanged: no bucket of its account was cooling)\n`);
    io = capture();
    expect(await keysCommand(['clear', 'openai', 'delta'], config, io)).toBe(0);
    expect(io.stdout).toBe(`openai/${ids.delta}: disabled (unchanged: clear acts on an active key only)\n`);

    // A 429 on alpha cools org-team's gpt-4o-mini bucket: clearing eps, a key of the same account, ends it.
    await store.report(
      inflight,
      outcome('rate_limited', { status: 429, rateLimit: { retryAfterMs: 60_000 } }),
    );
    const teamMini = async () =>
      (await store.snapshot('openai')).buckets.find(
        (b) => b.account === 'org-team' && b.group === 'gpt-4o-mini',
      );
    expect(await teamMini()).toMatchObject({ state: 'cooling', reason: 'rate_limited' });
    io = capture();
    expect(await keysCommand(['clear', 'openai', 'eps', '--json'], config, io)).toBe(0);
    expect(JSON.parse(io.stdout)).toEqual({
      pool: 'openai',
      keyId: ids.eps,
      action: 'clear',
      state: 'active',
      changed: true,
    });
    expect(await teamMini()).toMatchObject({ state: 'ready' });

    io = capture();
    expect(await keysCommand(['disable', 'openai', ids.alpha, '--json'], config, io)).toBe(0);
    expect(JSON.parse(io.stdout)).toEqual({
      pool: 'openai',
      keyId: ids.alpha,
      action: 'disable',
      state: 'disabled',
      changed: true,
    });
    io = capture();
    expect(await keysCommand(['enable', 'openai', 'gamma'], config, io)).toBe(0);
    expect(io.stdout).toBe(`openai/${ids.gamma}: active\n`);
    const states = Object.fromEntries((await store.snapshot('openai')).keys.map((k) => [k.id, k.state]));
    expect(states).toEqual({
      [ids.alpha]: 'disabled',
      [ids.beta]: 'active',
      [ids.gamma]: 'active',
      [ids.delta]: 'disabled',
      [ids.eps]: 'active',
    });
  });

  it('keys: wrong usage exits 2, an unknown pool 2, an unknown key 1, each with a message', async () => {
    let io = capture();
    expect(await keysCommand(['drop', 'openai', ids.alpha], config, io)).toBe(2);
    expect(io.stderr).toContain('usage: rotor keys');
    io = capture();
    expect(await keysCommand(['disable', 'nope', ids.alpha], config, io)).toBe(2);
    expect(io.stderr).toContain('no pool "nope" in the config (pools: openai, spare)');
    io = capture();
    expect(await keysCommand(['disable', 'openai', 'k_000000000000'], config, io)).toBe(1);
    expect(io.stderr).toContain('no such key in this pool');
    io = capture();
    expect(await keysCommand(['disable', 'openai', 'nolabel'], config, io)).toBe(1);
    expect(io.stderr).toContain('no key "nolabel" in pool openai');
    io = capture();
    expect(await statusCommand(['--all'], config, io)).toBe(2);
    io = capture();
    expect(await statusCommand(['nope'], config, io)).toBe(2);
  });

  it('text mode names the Redis and prefix it read or changed (stderr; --json stays pure)', async () => {
    const where = `Redis ${testRedisUrl()} (from REDIS_URL), prefix ${config.redis.prefix}\n`;
    let io = capture();
    expect(await statusCommand(['spare'], config, io, undefined, 'from REDIS_URL')).toBe(0);
    expect(io.stderr).toBe(where);
    io = capture();
    expect(
      await keysCommand(['clear', 'spare', config.pools.spare!.keys[0]!.id], config, io, 'from REDIS_URL'),
    ).toBe(0);
    expect(io.stderr).toBe(where);
    io = capture();
    expect(await statusCommand(['spare', '--json'], config, io)).toBe(0);
    expect(io.stderr).toBe('');
  });

  it('an empty pool says why it may be empty', async () => {
    const elsewhere = { ...config, redis: { ...config.redis, prefix: uniquePrefix('empty') } };
    const io = capture();
    expect(await statusCommand(['openai'], elsewhere, io)).toBe(0);
    expect(io.stdout).toBe(
      'pool openai (openai, 0 keys): 0 active, 0 suspended, 0 disabled; buckets: 0 ready, 0 cooling\n' +
        `  (no keys under prefix ${elsewhere.redis.prefix} in this Redis: no proxy with this config has started against it yet, ` +
        'or the proxies use another Redis or prefix: set REDIS_URL / redis.prefix to theirs)\n',
    );
  });

  it('a cooldown that has ended shows as ready, and a budget whose window has reset as full again', async () => {
    const key = config.pools.spare!.keys[0]!.id;
    const got = await store.acquire('spare', {});
    if (!got.ok || got.lease.keyId !== key) throw new Error('could not lease the spare key');
    await store.report(
      got.lease,
      outcome('rate_limited', {
        status: 429,
        rateLimit: { retryAfterMs: 1, limitRequests: 50, remainingRequests: 0, resetRequestsMs: 1 },
      }),
    );
    await new Promise((r) => setTimeout(r, 20));
    // Redis: still in the cooling ZSET and still 0 left, until the group's next acquire.
    const cooling = coolingKey(poolKeys(config.redis.prefix, 'spare'), 'default');
    expect(await store.redis.zscore(cooling, ownAccount(key))).not.toBeNull();
    expect((await store.snapshot('spare')).buckets[0]).toMatchObject({
      remainingRequests: 0,
      limitRequests: 50,
    });
    const io = capture();
    expect(await statusCommand(['spare'], config, io)).toBe(0);
    const { keys, buckets } = block(io.stdout, 'spare');
    expect(keys[0]).toBe(
      'pool spare (anthropic, 1 key): 1 active, 0 suspended, 0 disabled; buckets: 1 ready, 0 cooling',
    );
    expect(cells(buckets[1])).toEqual(['default', `~${key}`, 'ready', '-', '50/50', '-', '0']);
  });

  it('says which Redis did not answer', async () => {
    const down = { ...config, redis: { ...config.redis, url: `redis://127.0.0.1:${await freePort()}` } };
    await expect(statusCommand([], down, capture())).rejects.toThrow(
      /Redis at redis:\/\/127\.0\.0\.1:\d+ did not answer/,
    );
  });
});
