/**
 * What Rotor's Lua costs inside Redis, on a private redis-server:
 *   primitives   ns per Lua operation inside one EVALSHA (a loop of ITERATIONS of it, `INFO
 *                commandstats` usec per call ÷ ITERATIONS): the redis.call kinds the scripts use, with
 *                string and with number arguments (Lua formats numbers with %.14g), and the Lua itself
 *   scripts      the acquire + report pair as a replica runs them (RedisKeyStore, concurrent callers on
 *                one connection): µs of `evalsha` per call, Redis calls per pair, redis-server's and this
 *                client's CPU per pair
 * Redis's CPU is most of what a replica costs Redis per request (the rest is reading and answering the
 * calls: see cpu-cost); this says which part of a script to cut.
 *
 *   pnpm --filter @rotor/bench lua-cost     (env: ITERATIONS=2000 PAIRS=20000 PAIR_CONCURRENCY=20)
 */
import { Redis } from 'ioredis';
import type { Outcome } from '@rotor/core';
import { RedisKeyStore } from '@rotor/redis-store';
import { Group, runMain, startRedis } from './lib/processes';
import { fmt, printTable } from './lib/stats';

/** One Lua statement each, run ITERATIONS times in one script; KEYS[1] is a hash with fields a..h. */
const PRIMITIVES: [string, string][] = [
  ['empty loop', ''],
  ['table of 3', 'local t = { 1, 2, 3 }'],
  ['closure', 'local f = function(a) return a + x end'],
  ['concat of 5 strings', "local s = KEYS[1] .. 'bucket:' .. ARGV[1] .. '|' .. ARGV[2]"],
  ['tonumber (13 digits)', 'local n = tonumber(ARGV[3])'],
  ["string.format('%d')", "local s = string.format('%d', 1733140000123)"],
  ['tostring (number)', 'local s = tostring(1733140000123)'],
  ['TIME', "local t = redis.call('TIME')"],
  ['HGET', "local v = redis.call('HGET', KEYS[1], 'a')"],
  ['HMGET 3 fields', "local v = redis.call('HMGET', KEYS[1], 'a', 'b', 'c')"],
  ['HMGET 8 fields', "local v = redis.call('HMGET', KEYS[1], 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h')"],
  ['HSET, string value', "redis.call('HSET', KEYS[1], 'a', ARGV[3])"],
  ['HSET, number value', "redis.call('HSET', KEYS[1], 'a', 1733140000123)"],
  ['HSET 4 fields, strings', "redis.call('HSET', KEYS[1], 'a', ARGV[3], 'b', ARGV[3], 'c', ARGV[3], 'd', ARGV[3])"],
  ['HINCRBY', "redis.call('HINCRBY', KEYS[1], 'n', 1)"],
  ['ZADD, number score', "redis.call('ZADD', KEYS[1] .. 'z', 1733140000123, 'm')"],
  ['ZADD, string score', "redis.call('ZADD', KEYS[1] .. 'z', ARGV[3], 'm')"],
  ['ZSCORE', "local v = redis.call('ZSCORE', KEYS[1] .. 'z', 'm')"],
];

const SUCCESS: Outcome = {
  kind: 'success',
  status: 200,
  rateLimit: {
    limitRequests: 100_000,
    remainingRequests: 99_990,
    resetRequestsMs: 60_000,
    limitTokens: 100_000_000,
    remainingTokens: 99_999_900,
    resetTokensMs: 60_000,
  },
};

async function stats(redis: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const info = await redis.info('commandstats');
  const out = new Map<string, { calls: number; usec: number }>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    out.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return out;
}

async function cpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)![1]);
  return field('used_cpu_user') + field('used_cpu_sys');
}

async function primitives(redis: Redis, iterations: number): Promise<[string, string][]> {
  await redis.hset('lua-cost:h', { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8 });
  const rows: [string, string][] = [];
  for (const [name, statement] of PRIMITIVES) {
    const sha = (await redis.script('LOAD', `local x = 1 for i = 1, ${iterations} do ${statement} end return 1`)) as string;
    await redis.config('RESETSTAT');
    for (let i = 0; i < 100; i++) await redis.evalsha(sha, 1, 'lua-cost:h', 'org-1', 'gpt-4o', '1733140000123');
    const evalsha = (await stats(redis)).get('evalsha')!;
    rows.push([name, fmt(((evalsha.usec / evalsha.calls) * 1000) / iterations, 0)]);
  }
  return rows;
}

async function scripts(redis: Redis, admin: Redis, pairs: number, concurrency: number): Promise<[string, string][]> {
  const store = new RedisKeyStore(redis, { prefix: 'lua-cost' });
  await store.sync('p', Array.from({ length: 5 }, (_, i) => ({ id: `k${i}` })));
  const pair = async () => {
    const acquired = await store.acquire('p', { group: 'gpt-4o', tokens: 40 });
    if (!acquired.ok) throw new Error('lua-cost: no key handed out (the pool should never run out)');
    await store.report(acquired.lease, SUCCESS, 'org-1');
  };
  for (let i = 0; i < 1000; i++) await pair(); // warm-up: JIT, script cache, the account learned
  await admin.config('RESETSTAT');
  const redisCpu = await cpuSeconds(admin);
  const clientCpu = process.cpuUsage();
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < pairs) {
        started++;
        await pair();
      }
    }),
  );
  const client = process.cpuUsage(clientCpu);
  const redisUs = ((await cpuSeconds(admin)) - redisCpu) * 1e6;
  const all = await stats(admin);
  const evalsha = all.get('evalsha')!;
  const inner = [...all].filter(([name]) => !['evalsha', 'config|resetstat', 'info'].includes(name));
  const innerCalls = inner.reduce((sum, [, s]) => sum + s.calls, 0);
  const innerUsec = inner.reduce((sum, [, s]) => sum + s.usec, 0);
  return [
    ['evalsha µs per call (acquire and report alike)', fmt(evalsha.usec / evalsha.calls, 1)],
    ['  of which the Redis commands they call, µs', fmt(innerUsec / evalsha.calls, 1)],
    ['Redis calls per acquire + report', fmt(innerCalls / started, 1)],
    ['redis-server CPU µs per acquire + report', fmt(redisUs / started, 1)],
    ['client CPU µs per acquire + report (ioredis, RedisKeyStore)', fmt((client.user + client.system) / started, 1)],
  ];
}

export async function runLuaCost(): Promise<void> {
  const iterations = Number(process.env.ITERATIONS ?? 2000);
  const pairs = Number(process.env.PAIRS ?? 20_000);
  const concurrency = Number(process.env.PAIR_CONCURRENCY ?? 20);
  const group = new Group();
  const clients: Redis[] = [];
  try {
    const server = group.add(await startRedis());
    const redis = new Redis(server.url);
    const admin = new Redis(server.url);
    clients.push(redis, admin);
    console.log(`\nLua primitives inside one EVALSHA (ns each, ${iterations} per call, 100 calls):`);
    printTable(['operation', 'ns'], await primitives(admin, iterations));
    console.log(`\nacquire + report as a replica runs them (${pairs} pairs, ${concurrency} at a time, one connection):`);
    printTable(['figure', 'value'], await scripts(redis, admin, pairs, concurrency));
  } finally {
    for (const client of clients) client.disconnect();
    await group.stop();
  }
}

if (require.main === module) runMain(runLuaCost);
