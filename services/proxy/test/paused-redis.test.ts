import { isRotorError, parseConfig, type FailurePolicy, type RotorConfig } from '@rotor/core';
import { MemoryKeyStore, RedisKeyStore, closeRedis, createRedisClient, type RedisConnection } from '@rotor/redis-store';
import { spawnRedis, uniquePrefix, type RedisProcess } from '@rotor/testkit';
import { createLogger } from '../src/logger';
import { poolSyncs, syncPools } from '../src/pool-sync';
import { ResilientKeyStore } from '../src/resilient-store';
import { startRig, type Rig } from './harness';

/**
 * A hung Redis (SIGSTOP: the port stays open, nothing answers). Every store call, not only acquire and
 * report, comes back within its deadline: fail-open from this replica's fallback, fail-closed with a
 * 503 redis_unavailable; a key action (which must reach every replica) is refused under either policy.
 */
const COMMAND_TIMEOUT_MS = 200;
/** Past the deadline: a busy 2-core machine's timer and event-loop lag. */
const LAG_MS = 400;

async function timed<T>(call: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await call;
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

const refusedWith = (error: unknown) => (isRotorError(error) ? { code: error.code, status: error.httpStatus, retryAfterMs: error.retryAfterMs } : error);

function configFor(url: string, failurePolicy: FailurePolicy): RotorConfig {
  return parseConfig(
    {
      redis: { url, prefix: uniquePrefix('pause'), commandTimeoutMs: COMMAND_TIMEOUT_MS, failurePolicy, fallback: { recoverEveryMs: 60_000 } },
      clientTokens: ['t'],
      log: { level: 'silent' },
      pools: { openai: { provider: 'openai', keys: 'sk-pause-a,sk-pause-b' } },
      routes: { '/v1': 'openai' },
    },
    {},
  );
}

describe.each(['fail-open', 'fail-closed'] as const)('a paused Redis, %s', (failurePolicy) => {
  let redis: RedisProcess;
  beforeEach(async () => {
    redis = await spawnRedis();
  });
  afterEach(async () => {
    redis.resume();
    await redis.kill();
  });

  /**
   * The deadline alone: the Redis client here has no command timeout of its own, so only the store's
   * guard (round trips × redis.commandTimeoutMs + slack) can give up on the call.
   */
  describe('the guard, with a client that never times out', () => {
    let connection: RedisConnection;
    let store: ResilientKeyStore;
    let config: RotorConfig;
    beforeEach(async () => {
      config = configFor(redis.url, failurePolicy);
      connection = createRedisClient({ url: redis.url, offlineQueue: false, lazyConnect: true });
      await connection.connect();
      const redisStore = new RedisKeyStore(connection, { prefix: config.redis.prefix });
      await syncPools(config, redisStore);
      const fallback = new MemoryKeyStore({ prefix: config.redis.prefix });
      await syncPools(config, fallback);
      store = new ResilientKeyStore({
        redis: redisStore,
        shared: redisStore,
        fallback,
        config: config.redis,
        pools: () => poolSyncs(config),
        logger: createLogger('silent'),
      });
      redis.pause();
    });
    afterEach(async () => {
      store.close();
      redis.resume();
      await closeRedis(connection);
    });

    it('snapshot: two round trips (500 ms), then the fallback view or a 503', async () => {
      const r = await timed(store.snapshot('openai'));
      expect(r.ms).toBeGreaterThanOrEqual(2 * COMMAND_TIMEOUT_MS + 100 - 5);
      expect(r.ms).toBeLessThan(2 * COMMAND_TIMEOUT_MS + 100 + LAG_MS);
      expect(store.status().reason).toBe('snapshot: no answer from Redis in 500 ms');
      if (failurePolicy === 'fail-open') {
        expect(r.value?.keys.map((k) => k.id).sort()).toEqual(config.pools.openai!.keys.map((k) => k.id).sort());
      } else {
        expect(refusedWith(r.error)).toEqual({ code: 'redis_unavailable', status: 503, retryAfterMs: 60_000 });
      }
    });

    it('sync: its batches (700 ms), then what the fallback was synced to, under either policy', async () => {
      const [{ pool, keys, options }] = poolSyncs(config) as [ReturnType<typeof poolSyncs>[number]];
      const r = await timed(store.sync(pool, keys.slice(1), options));
      expect(r.ms).toBeGreaterThanOrEqual(3 * COMMAND_TIMEOUT_MS + 100 - 5);
      expect(r.ms).toBeLessThan(3 * COMMAND_TIMEOUT_MS + 100 + LAG_MS);
      expect(store.status().reason).toBe('sync: no answer from Redis in 700 ms');
      // The reload is not refused: this replica's fallback has it now, Redis gets it on the return.
      expect(r.value).toEqual({ added: 0, removed: 1, total: 1 });
    });

    it('a key action: one round trip (300 ms), then refused under either policy', async () => {
      const r = await timed(store.setState('openai', config.pools.openai!.keys[0]!.id, 'disable'));
      expect(r.ms).toBeLessThan(COMMAND_TIMEOUT_MS + 100 + LAG_MS);
      expect(store.status().reason).toBe('setState: no answer from Redis in 300 ms');
      expect(refusedWith(r.error)).toEqual({ code: 'redis_unavailable', status: 503, retryAfterMs: 60_000 });
      expect((r.error as Error).message).toContain('key actions need the shared state');
    });

    it('once away, the next calls do not wait for Redis at all', async () => {
      await timed(store.acquire('openai'));
      expect(store.mode).toBe(failurePolicy === 'fail-open' ? 'fallback' : 'unavailable');
      const again = await timed(store.snapshot('openai'));
      expect(again.ms).toBeLessThan(50);
    });
  });

  /** The same through a whole replica, as the proxy opens its store from config. */
  describe('a replica', () => {
    let rig: Rig;
    beforeEach(async () => {
      const { redis: redisConfig } = configFor(redis.url, failurePolicy);
      rig = await startRig({
        keys: 2,
        redisUrl: redis.url,
        config: { redis: { ...redisConfig, prefix: uniquePrefix('pause') } },
      });
      redis.pause();
    });
    afterEach(async () => {
      redis.resume();
      await rig.close();
    });

    it('snapshot, sync and a key action each come back within their deadline', async () => {
      const { pool, keys, options } = poolSyncs(rig.config)[0]!;
      const snapshot = await timed(rig.proxy.store.snapshot(pool));
      const sync = await timed(rig.proxy.store.sync(pool, keys, options));
      const action = await timed(rig.proxy.store.setState(pool, keys[0]!.id, 'disable'));
      for (const r of [snapshot, sync, action]) expect(r.ms).toBeLessThan(2 * COMMAND_TIMEOUT_MS + 100 + LAG_MS);
      expect(rig.proxy.storeMode()).toBe(failurePolicy === 'fail-open' ? 'fallback' : 'unavailable');
      if (failurePolicy === 'fail-open') expect(snapshot.value?.keys).toHaveLength(2);
      else expect(refusedWith(snapshot.error)).toMatchObject({ code: 'redis_unavailable', status: 503 });
      expect(sync.value).toEqual({ added: 0, removed: 0, total: 2 });
      expect(refusedWith(action.error)).toMatchObject({ code: 'redis_unavailable', status: 503 });
    });
  });
});
