import { parseConfig, type Outcome, type RotorConfig } from '@rotor/core';
import { syncPools } from '@rotor/proxy';
import { RedisKeyStore, createRedisClient } from '@rotor/redis-store';
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
  let ids: { active: string; cooling: string; suspended: string; disabled: string };

  beforeAll(async () => {
    config = parseConfig(
      {
        redis: { url: testRedisUrl(), prefix: uniquePrefix('cli') },
        clientTokens: ['t'],
        pools: {
          openai: {
            provider: 'openai',
            keys: [
              { key: 'sk-cli-a', label: 'alpha' },
              { key: 'sk-cli-b', label: 'beta' },
              { key: 'sk-cli-c', label: 'gamma' },
              { key: 'sk-cli-d', label: 'delta' },
            ],
          },
          spare: { provider: 'anthropic', keys: 'sk-cli-e' },
        },
        routes: { '/v1': 'openai', '/anthropic': 'spare' },
      },
      {},
    );
    store = new RedisKeyStore(createRedisClient({ url: testRedisUrl() }), { prefix: config.redis.prefix });
    await syncPools(config, store);
    const [a, b, c, d] = config.pools.openai!.keys.map((k) => k.id) as [string, string, string, string];
    ids = { active: a, cooling: b, suspended: c, disabled: d };
    const lease = async (id: string) => {
      const others = config.pools.openai!.keys.map((k) => k.id).filter((k) => k !== id);
      const got = await store.acquire('openai', { exclude: others });
      if (!got.ok || got.lease.keyId !== id) throw new Error(`could not lease ${id}`);
      return got.lease;
    };
    await store.report(await lease(a), outcome('success', { status: 200 }));
    await store.report(
      await lease(b),
      outcome('rate_limited', { status: 429, rateLimit: { retryAfterMs: 90_000 } }),
    );
    await store.report(
      await lease(c),
      outcome('quota_exhausted', { status: 429, errorCode: 'insufficient_quota' }),
    );
    await store.setState('openai', d, 'disable');
    await lease(a); // one request in flight on the active key
  });
  afterAll(async () => {
    await store.redis.quit();
  });

  it('status: one table per pool with every key state, until, reason, in-flight and counters', async () => {
    const io = capture();
    expect(await statusCommand([], config, io)).toBe(0);
    const lines = io.stdout.trim().split('\n');
    expect(lines[0]).toBe('pool openai (openai, 4 keys): 1 active, 1 cooling, 1 suspended, 1 disabled');
    expect(lines[1]).toMatch(/^KEY ID\s+LABEL\s+STATE\s+UNTIL\s+REASON\s+IN-FLIGHT\s+OK\s+FAILED\s+429$/);
    const row = (id: string) => lines.find((l) => l.startsWith(id))!.split(/\s{2,}/);
    expect(row(ids.active)).toEqual([ids.active, 'alpha', 'active', '-', '-', '1', '1', '0', '0']);
    const cooling = row(ids.cooling);
    expect(cooling.slice(0, 3)).toEqual([ids.cooling, 'beta', 'cooling']);
    expect(cooling[3]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in (89|90)s\)$/);
    expect(cooling.slice(4)).toEqual(['rate_limited', '0', '0', '0', '1']);
    expect(row(ids.suspended)).toEqual([
      ids.suspended,
      'gamma',
      'suspended',
      '-',
      'quota',
      '0',
      '0',
      '1',
      '0',
    ]);
    expect(row(ids.disabled)).toEqual([
      ids.disabled,
      'delta',
      'disabled',
      '-',
      'operator',
      '0',
      '0',
      '0',
      '0',
    ]);
    expect(io.stdout).toContain(
      'pool spare (anthropic, 1 key): 1 active, 0 cooling, 0 suspended, 0 disabled',
    );
    expect(io.stdout).not.toMatch(/sk-cli/);
  });

  it('status --json: the store snapshots with per-state counts; a pool can be named', async () => {
    const io = capture();
    expect(await statusCommand(['openai', '--json'], config, io)).toBe(0);
    const parsed = JSON.parse(io.stdout) as {
      pools: { pool: string; counts: object; keys: { id: string; state: string; until?: number }[] }[];
    };
    expect(parsed.pools.map((p) => p.pool)).toEqual(['openai']);
    expect(parsed.pools[0]!.counts).toEqual({ active: 1, cooling: 1, suspended: 1, disabled: 1 });
    const snap = await store.snapshot('openai');
    expect(parsed.pools[0]!.keys.map((k) => [k.id, k.state, k.until])).toEqual(
      snap.keys.map((k) => [k.id, k.state, k.until]),
    );
  });

  it('keys: disable / clear / enable by id or label, text and --json; changes are the store script results', async () => {
    let io = capture();
    expect(await keysCommand(['clear', 'openai', 'beta'], config, io)).toBe(0);
    expect(io.stdout).toBe(`openai/${ids.cooling}: active\n`);
    io = capture();
    expect(await keysCommand(['clear', 'openai', ids.active], config, io)).toBe(0);
    expect(io.stdout).toBe(`openai/${ids.active}: active (unchanged: clear only ends a cooldown)\n`);
    io = capture();
    expect(await keysCommand(['disable', 'openai', ids.active, '--json'], config, io)).toBe(0);
    expect(JSON.parse(io.stdout)).toEqual({
      pool: 'openai',
      keyId: ids.active,
      action: 'disable',
      state: 'disabled',
      changed: true,
    });
    io = capture();
    expect(await keysCommand(['enable', 'openai', 'gamma'], config, io)).toBe(0);
    expect(io.stdout).toBe(`openai/${ids.suspended}: active\n`);
    const states = Object.fromEntries((await store.snapshot('openai')).keys.map((k) => [k.id, k.state]));
    expect(states).toEqual({
      [ids.active]: 'disabled',
      [ids.cooling]: 'active',
      [ids.suspended]: 'active',
      [ids.disabled]: 'disabled',
    });
  });

  it('keys: wrong usage exits 2, an unknown pool 2, an unknown key 1, each with a message', async () => {
    let io = capture();
    expect(await keysCommand(['drop', 'openai', ids.active], config, io)).toBe(2);
    expect(io.stderr).toContain('usage: rotor keys');
    io = capture();
    expect(await keysCommand(['disable', 'nope', ids.active], config, io)).toBe(2);
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
    expect(await keysCommand(['clear', 'spare', config.pools.spare!.keys[0]!.id], config, io, 'from REDIS_URL')).toBe(0);
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
      'pool openai (openai, 0 keys): 0 active, 0 cooling, 0 suspended, 0 disabled\n' +
        `  (no keys under prefix ${elsewhere.redis.prefix} in this Redis: no proxy with this config has started against it yet, ` +
        'or the proxies use another Redis or prefix: set REDIS_URL / redis.prefix to theirs)\n',
    );
  });

  it('a cooldown that has ended shows as active, not "cooling … (in 0s)"', async () => {
    const key = config.pools.spare!.keys[0]!.id;
    const got = await store.acquire('spare', {});
    if (!got.ok || got.lease.keyId !== key) throw new Error('could not lease the spare key');
    await store.report(got.lease, outcome('rate_limited', { status: 429, rateLimit: { retryAfterMs: 1 } }));
    await new Promise((r) => setTimeout(r, 20));
    expect((await store.snapshot('spare')).keys[0]!.state).toBe('cooling'); // Redis: until the next acquire
    const io = capture();
    expect(await statusCommand(['spare'], config, io)).toBe(0);
    const lines = io.stdout.trim().split('\n');
    expect(lines[0]).toBe('pool spare (anthropic, 1 key): 1 active, 0 cooling, 0 suspended, 0 disabled');
    expect(lines[2]!.split(/\s{2,}/).slice(0, 5)).toEqual([key, '-', 'active', '-', '-']);
  });

  it('says which Redis did not answer', async () => {
    const down = { ...config, redis: { ...config.redis, url: `redis://127.0.0.1:${await freePort()}` } };
    await expect(statusCommand([], down, capture())).rejects.toThrow(
      /Redis at redis:\/\/127\.0\.0\.1:\d+ did not answer/,
    );
  });
});
