import { parseConfig, type RotorConfig } from '@rotor/core';
import { testRedisUrl, uniquePrefix } from '@rotor/testkit';
import type { Redis } from 'ioredis';
import { MemoryKeyStore } from '../src/memory-key-store';
import { openKeyStore, storePolicyFromConfig } from '../src/open-key-store';
import { RedisKeyStore } from '../src/redis-key-store';

function config(redis: Record<string, unknown>, extra: Record<string, unknown> = {}): RotorConfig {
  return parseConfig(
    {
      redis: { prefix: uniquePrefix('open'), ...redis },
      clientTokens: ['t'],
      pools: { openai: { provider: 'openai', keys: 'sk-open-a' } },
      routes: { '/v1': 'openai' },
      ...extra,
    },
    {},
  );
}

/** One opener for the proxy, the worker and the CLI: the policy and the client both come from config. */
describe('openKeyStore', () => {
  it('storePolicyFromConfig: prefix, lease TTL, backoff, breaker and a client keys-out limit from the config', () => {
    const c = config(
      { url: testRedisUrl(), prefix: 'mine' },
      {
        leaseTtlMs: 30_000,
        backoff: { baseMs: 250, factor: 3, maxMs: 9000, jitter: 0 },
        circuitBreaker: { failures: 2 },
        clientLimits: { keysOutPerMinute: 4 },
      },
    );
    expect(storePolicyFromConfig(c)).toMatchObject({
      prefix: 'mine',
      leaseTtlMs: 30_000,
      backoff: { baseMs: 250, factor: 3, maxMs: 9000, jitter: 0 },
      breakerFailures: 2,
      clientKeysOutPerMinute: 4,
      returnBatch: 16,
      settleMs: 100,
    });
  });

  it('fail-fast (proxy): redis.commandTimeoutMs, no offline queue; patient (worker, CLI): at least 5 s, queued while away', async () => {
    const c = config({ url: testRedisUrl(), commandTimeoutMs: 300 });
    const fast = await openKeyStore(c, { failFast: true });
    const patient = await openKeyStore(c, { failFast: false });
    try {
      expect(fast.kind).toBe('redis');
      expect(fast.store).toBeInstanceOf(RedisKeyStore);
      expect(fast.store.policy).toEqual(storePolicyFromConfig(c));
      const options = (opened: typeof fast) => (opened.redis as Redis).options;
      expect(options(fast)).toMatchObject({ commandTimeout: 300, enableOfflineQueue: false, enableAutoPipelining: false });
      expect(options(patient)).toMatchObject({ commandTimeout: 5000, enableOfflineQueue: true, enableAutoPipelining: false });
      // Connected, scripts loaded: a script call answers.
      await expect(fast.store.sync('openai', [{ id: 'k1' }])).resolves.toMatchObject({ added: 1, total: 1 });
      await expect(patient.store.snapshot('openai')).resolves.toMatchObject({ keys: [{ id: 'k1' }] });
    } finally {
      await fast.store.sync('openai', []);
      await fast.close();
      await patient.close();
    }
  });

  it('memory:// opens a MemoryKeyStore only where allowed (a single proxy); elsewhere it says why not', async () => {
    const c = config({ url: 'memory://' });
    const memory = await openKeyStore(c, { failFast: true, allowMemory: true });
    expect(memory.kind).toBe('memory');
    expect(memory.store).toBeInstanceOf(MemoryKeyStore);
    await expect(openKeyStore(c, { failFast: false })).rejects.toThrow('memory:// means no Redis');
  });

  it('a Redis that does not answer: a message naming the URL without its password, and the hint', async () => {
    const c = config({ url: 'redis://:s3cret@127.0.0.1:1', connectTimeoutMs: 300 });
    const failed = openKeyStore(c, { failFast: false, hint: 'Point REDIS_URL at it.' });
    await expect(failed).rejects.toThrow(/^Redis at redis:\/\/127\.0\.0\.1:1 did not answer \(.*\)\. Point REDIS_URL at it\.$/);
    await expect(failed).rejects.not.toThrow('s3cret');
  });
});
