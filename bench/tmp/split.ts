import { Redis } from 'ioredis';
import { RedisKeyStore } from '@rotor/redis-store';
import { spawnRedis } from '@rotor/testkit';
const OUT = { kind: 'success', status: 200, rateLimit: { limitRequests: 100000, remainingRequests: 99990, resetRequestsMs: 60000, limitTokens: 1e8, remainingTokens: 1e8 - 100, resetTokensMs: 60000 } } as any;
async function main() {
  const server = await spawnRedis();
  const redis = new Redis(server.url), admin = new Redis(server.url);
  try {
    const store = new RedisKeyStore(redis, { prefix: 'rb', leaseTtlMs: 600000 });
    await store.sync('p', Array.from({ length: 5 }, (_, i) => ({ id: `k${i}` })) as any);
    for (let i = 0; i < 2000; i++) { const r = await store.acquire('p', { tokens: 40 }); if (!r.ok) throw 0; await store.report(r.lease, OUT, 'org-1'); }
    for (let round = 0; round < 3; round++) {
      const N = 5000; const leases: any[] = [];
      await admin.config('RESETSTAT');
      await Promise.all(Array.from({ length: 10 }, async () => { while (leases.length < N) { const r = await store.acquire('p', { tokens: 40 }); if (!r.ok) throw new Error(JSON.stringify(r)); leases.push(r.lease); } }));
      const a = ev(await admin.info('commandstats'));
      await admin.config('RESETSTAT');
      await Promise.all(Array.from({ length: 10 }, async (_, j) => { for (let i = j; i < leases.length; i += 10) await store.report(leases[i], OUT, 'org-1'); }));
      const b = ev(await admin.info('commandstats'));
      console.log(`acquire evalsha usec/call ${a.toFixed(1)}  report ${b.toFixed(1)}`);
    }
  } finally { redis.disconnect(); admin.disconnect(); await server.kill(); }
}
function ev(st: string) { const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(st)!; return Number(m[2]) / Number(m[1]); }
main().catch((e) => { console.error(String(e).slice(0, 500)); process.exit(1); });
