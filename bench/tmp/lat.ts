// scratch: where a request waits at 50 ms upstream, 50 connections
import { CHAT_BODY, loadTest } from '../lib/load';
import { BENCH_TOKEN, Group, startRedis, startRotor, startSim, writeRotorConfig } from '../lib/processes';
async function main() {
  const group = new Group();
  try {
    const redis = group.add(await startRedis());
    const sim = group.add(await startSim({ latencyMs: 50 }));
    const pool = { cost: { baseUrl: `${sim.url}/v1`, keys: Array.from({ length: 5 }, (_, i) => `sk-cpu-${i}`) } };
    const stores = (process.env.STORES ?? 'redis,memory').split(',');
    for (const store of stores) {
      const rotor = group.add(await startRotor(writeRotorConfig(store === 'memory' ? 'memory://' : redis.url, pool)));
      const url = `${rotor.url}/cost/chat/completions`;
      await loadTest({ url, token: BENCH_TOKEN, body: CHAT_BODY, connections: 50, seconds: 2 });
      const m0 = await (await fetch(`${rotor.url}/metrics`)).text();
      const f = await loadTest({ url, token: BENCH_TOKEN, body: CHAT_BODY, connections: 50, seconds: Number(process.env.SECS ?? 4) });
      const m1 = await (await fetch(`${rotor.url}/metrics`)).text();
      const d = (name: string) => val(m1, name) - val(m0, name);
      const acq = d('rotor_redis_duration_seconds_sum{op="acquire"') / d('rotor_redis_duration_seconds_count{op="acquire"');
      const rep = d('rotor_redis_duration_seconds_sum{op="report"') / d('rotor_redis_duration_seconds_count{op="report"');
      console.log(`${store}: ${f.rps.toFixed(0)} req/s p50 ${f.p50.toFixed(2)} p99 ${f.p99.toFixed(2)}; acquire mean ${(acq * 1000).toFixed(2)} ms, report mean ${(rep * 1000).toFixed(2)} ms`);
      const lines = m1.split('\n').filter((l) => /^rotor_.*(added|overhead|duration).*_(sum|count)/.test(l)).slice(0, 12);
      if (process.env.SHOW) console.log(lines.join('\n'));
    }
  } finally { await group.stop(); }
}
function val(text: string, prefix: string) { let s = 0; for (const l of text.split('\n')) if (l.startsWith(prefix)) s += Number(l.split(' ').pop()); return s; }
main().catch((e) => { console.error(e); process.exit(1); });
