import { Redis } from 'ioredis';
import { spawnRedis } from '@rotor/testkit';
async function main() {
  const server = await spawnRedis();
  const r = new Redis(server.url);
  try {
    await r.hset('h', 'a', '1', 'b', '2');
    const make = (n: number) => `local x for i=1,${n} do x = redis.call('HGET', KEYS[1], 'a') end return x`;
    const big = Array.from({ length: 150 }, (_, i) => `local function f${i}(a) return a + ${i} end`).join('\n') + '\n' + make(1);
    for (const [name, lua, args] of [['1 call', make(1), 0], ['1 call 22 args', make(1), 22], ['1 call big chunk', big, 0], ['10 calls', make(10), 0], ['40 calls', make(40), 0], ['40 pcalls', make(40).replace('redis.call', 'redis.pcall'), 0]] as const) {
      const sha = (await r.script('LOAD', lua)) as string;
      const argv = Array.from({ length: args as number }, (_, i) => String(i * 1000));
      await r.config('RESETSTAT');
      const N = 20000;
      const c0 = cpu(await r.info('cpu'));
      let i = 0;
      await Promise.all(Array.from({ length: 20 }, async () => { while (i < N) { i++; await r.evalsha(sha, 1, 'h', ...argv); } }));
      const c1 = cpu(await r.info('cpu'));
      const st = await r.info('commandstats');
      const ev = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(st)!;
      const hg = /cmdstat_hget:calls=(\d+),usec=(\d+)/.exec(st)!;
      console.log(`${name.padEnd(18)} redis cpu ${((c1 - c0) * 1e6 / N).toFixed(1)} µs/call; evalsha usec/call ${(Number(ev[2]) / Number(ev[1])).toFixed(1)}; hget usec inside ${(Number(hg[2]) / N).toFixed(1)}`);
    }
  } finally { r.disconnect(); await server.kill(); }
}
function cpu(info: string) { return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]); }
main();
