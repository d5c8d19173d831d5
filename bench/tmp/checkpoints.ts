// scratch: where acquire's Lua time goes (early-return variants, no state change)
import { Redis } from 'ioredis';
import { RedisKeyStore, scriptSources } from '@rotor/redis-store';
import { spawnRedis } from '@rotor/testkit';
const OUT = { kind: 'success', status: 200, rateLimit: { limitRequests: 100000, remainingRequests: 99990, resetRequestsMs: 60000, limitTokens: 1e8, remainingTokens: 1e8 - 100, resetTokensMs: 60000 } } as any;
async function main() {
  const server = await spawnRedis();
  const redis = new Redis(server.url), admin = new Redis(server.url);
  try {
    const store = new RedisKeyStore(redis, { prefix: 'rb' });
    await store.sync('p', Array.from({ length: 5 }, (_, i) => ({ id: `k${i}` })) as any);
    for (let i = 0; i < 500; i++) { const r = await store.acquire('p', { tokens: 40, group: 'gpt-4o' }); if (!r.ok) throw 0; await store.report(r.lease, OUT, 'org-1'); }
    const src = scriptSources().get((process.env.SCRIPT ?? 'acquire') as any)!.lua;
    const lines = src.split('\n');
    const marks = (process.env.MARKS ?? '').split(';').filter(Boolean).map((m) => new RegExp(m));
    const args = process.env.SCRIPT === 'report' ? ['k1', 'tokx', 'org-1', 'gpt-4o', 'success', 200, '', 100000, 99990, 60000, 1e8, 1e8 - 100, 60000, 1000, 2, 60000, 0.2, 0.5, 5, '', 0, 'org-1'] : ['tok', 60000, '', 16, 50, '1', 40, 'gpt-4o'];
    for (const mark of [/^local rcall/, ...marks]) {
      const i = lines.findIndex((l) => mark.test(l));
      if (i < 0) { console.log('no mark', mark); continue; }
      const variant = [...lines.slice(0, i + 1), 'do return 0 end', ...lines.slice(i + 1)].join('\n');
      const sha = (await admin.script('LOAD', variant)) as string;
      await admin.config('RESETSTAT');
      const N = 10000; let n = 0;
      await Promise.all(Array.from({ length: 10 }, async () => { while (n < N) { n++; await redis.evalsha(sha, process.env.SCRIPT === 'report' ? 2 : 1, 'rb:{p}:', ...(process.env.SCRIPT === 'report' ? ['rb:{p}:client:x:out'] : []), ...(args as any)); } }));
      const st = await admin.info('commandstats');
      const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(st)!;
      console.log(`${String(mark).padEnd(50)} usec/call ${(Number(m[2]) / Number(m[1])).toFixed(2)}`);
    }
  } finally { redis.disconnect(); admin.disconnect(); await server.kill(); }
}
main().catch((e) => { console.error(String(e).slice(0, 300)); process.exit(1); });
