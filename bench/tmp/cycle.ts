// scratch: Redis CPU per acquire+report cycle
import { Redis } from 'ioredis';
import { RedisKeyStore } from '@rotor/redis-store';
import { spawnRedis } from '@rotor/testkit';

async function main() {
  const server = await spawnRedis();
  const redis = new Redis(server.url ?? `redis://127.0.0.1:${(server as any).port}`);
  const admin = new Redis(server.url ?? `redis://127.0.0.1:${(server as any).port}`);
  try {
    const store = new RedisKeyStore(redis, { prefix: 'rb' });
    await store.sync('p', Array.from({ length: 5 }, (_, i) => ({ id: `k${i}` })) as any);
    const N = Number(process.env.N ?? 20000), C = Number(process.env.C ?? 20);
    const cycle = async () => {
      const r = await store.acquire('p', { group: 'default', tokens: 40 });
      if (!r.ok) throw new Error('no key ' + JSON.stringify(r));
      await store.report(r.lease, { kind: 'success', status: 200, rateLimit: { limitRequests: 100000, remainingRequests: 99990, resetRequestsMs: 60000, limitTokens: 1e8, remainingTokens: 1e8 - 100, resetTokensMs: 60000 } } as any, 'org-1');
    };
    for (let i = 0; i < 2000; i++) await cycle();
    await admin.config('RESETSTAT');
    const cpu0 = await admin.info('cpu');
    const u0 = cpuOf(cpu0);
    const t0 = process.cpuUsage(); const w0 = Date.now();
    let n = 0;
    await Promise.all(Array.from({ length: C }, async () => { while (n < N) { n++; await cycle(); } }));
    const t1 = process.cpuUsage(t0); const w1 = Date.now() - w0;
    const u1 = cpuOf(await admin.info('cpu'));
    console.log(`cycles ${n} wall ${w1} ms; client cpu ${((t1.user + t1.system) / n).toFixed(1)} µs/cycle; redis cpu ${(((u1 - u0) * 1e6) / n).toFixed(1)} µs/cycle`);
    const stats = await admin.info('commandstats');
    const rows = [...stats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)].map((m) => [m[1], Number(m[2]) / n, Number(m[3]) / n] as const).sort((a, b) => b[2] - a[2]);
    for (const [c, calls, us] of rows) console.log(`${c.padEnd(18)} calls/cycle ${calls.toFixed(2).padStart(6)}  usec/cycle ${us.toFixed(1)}`);
  } finally { redis.disconnect(); admin.disconnect(); await server.kill(); }
}
function cpuOf(info: string) { const u = Number(/used_cpu_user:([\d.]+)/.exec(info)![1]); const s = Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]); return u + s; }
main().catch((e) => { console.error(e); process.exit(1); });
