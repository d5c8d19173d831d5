import { Redis } from 'ioredis';
import { spawnRedis } from '@rotor/testkit';
const ITER = 2000;
const cases: Record<string, string> = {
  hset_str: `redis.call('HSET', KEYS[1], 'a', ARGV[3])`,
  hset_int: `redis.call('HSET', KEYS[1], 'a', 1733140000123)`,
  hset_fmt: `redis.call('HSET', KEYS[1], 'a', string.format('%d', 1733140000123))`,
  tostring: `local s = tostring(1733140000123)`,
  fmt_d: `local s = string.format('%d', 1733140000123)`,
  fmt_d_small: `local s = string.format('%d', 42)`,
  concat_num: `local s = 1733140000123 .. ''`,
  hmget8: `local v = redis.call('HMGET', KEYS[1], 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h')`,
  hmget8_nil: `local v = redis.call('HMGET', KEYS[1], 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8')`,
  hmget3: `local v = redis.call('HMGET', KEYS[1], 'a', 'b', 'c')`,
  hgetall8: `local v = redis.call('HGETALL', KEYS[1])`,
  unpackF: `local v = redis.call('HMGET', KEYS[1], unpack(F))`,
  hincrby_str: `redis.call('HINCRBY', KEYS[1], 'n', '1')`,
  zadd_str: `redis.call('ZADD', KEYS[1] .. 'z', ARGV[3], 'm')`,
  append_direct: `local w = {} w[#w + 1] = 'a' w[#w + 1] = 1 w[#w + 1] = 'b' w[#w + 1] = 2`,
};
async function main() {
  const server = await spawnRedis();
  const r = new Redis(server.url);
  try {
    await r.hset('h', 'a', '1', 'b', '2', 'c', '3', 'd', '4', 'e', '5', 'f', '6', 'g', '7', 'h', '8');
    const base: number[] = [];
    for (const [name, body] of Object.entries(cases)) {
      const lua = `local F = {'a','b','c','d','e','f','g','h'} local x = 1 for i = 1, ${ITER} do ${body} end return 1`;
      const sha = (await r.script('LOAD', lua)) as string;
      await r.config('RESETSTAT');
      for (let i = 0; i < 200; i++) await r.evalsha(sha, 1, 'h', 'org-1', 'gpt-4o', '1733140000123');
      const st = await r.info('commandstats');
      const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(st)!;
      const per = (Number(m[2]) / Number(m[1])) / ITER * 1000;
      console.log(`${name.padEnd(14)} ${per.toFixed(0).padStart(6)} ns`);
    }
  } finally { r.disconnect(); await server.kill(); }
}
main().catch((e) => { console.error(String(e).slice(0, 300)); process.exit(1); });
