import { parseConfig, providers } from '@rotor/core';
import { closeAll, connect, newStore } from './helpers';

afterAll(closeAll);

/** Every string stored anywhere in the server: key names, and every value of every type. */
async function everything(redis: ReturnType<typeof connect>): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.get(key)) ?? '');
      if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES')));
      if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

describe('secrets', () => {
  it('no key secret appears anywhere in Redis after acquires, reports of every kind and operator actions', async () => {
    const secrets = ['fake-openai-secret-aaaaaaaaaaaaaaaa', 'fake-openai-secret-bbbbbbbbbbbbbbbb', 'fake-anthropic-secret-cccccccccc'];
    const config = parseConfig(
      {
        pools: { main: { provider: 'openai', baseUrl: 'https://api.openai.com/v1', keys: secrets.join(','), limits: { rpm: 50 } } },
        routes: { '/v1': 'main' },
      },
      {},
    );
    const redis = connect();
    const store = newStore({}, redis);
    const pool = config.pools.main!;
    await store.sync('main', pool.keys.map((k) => ({ id: k.id, label: k.label, weight: k.weight, rpm: k.limits?.rpm })));
    const openai = providers.openai;
    // Provider bodies echo part of a key; errorCode must never carry it into Redis.
    const bodies = [
      { status: 200, body: '' },
      { status: 429, body: JSON.stringify({ error: { code: 'rate_limit_exceeded', message: `Rate limit for ${secrets[0]}` } }) },
      { status: 429, body: JSON.stringify({ error: { code: 'insufficient_quota', type: 'insufficient_quota' } }) },
      { status: 401, body: JSON.stringify({ error: { code: 'invalid_api_key', message: `Incorrect API key provided: ${secrets[1]}` } }) },
      { status: 500, body: `upstream failed for key ${secrets[2]}` },
    ];
    for (const { status, body } of bodies) {
      const got = await store.acquire('main');
      if (!got.ok) break;
      const outcome = openai.classify({ status, headers: { 'x-ratelimit-remaining-requests': '7', 'retry-after': '1' }, body, nowMs: Date.now() });
      await store.report(got.lease, outcome);
    }
    await store.setState('main', pool.keys[0]!.id, 'disable');
    await store.setState('main', pool.keys[0]!.id, 'enable');
    const dump = await everything(redis);
    expect(dump).toContain(pool.keys[0]!.id); // the scan does see the pool
    for (const secret of secrets) {
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(secret.slice(-10));
    }
  });
});
