import { spawn, execSync } from 'node:child_process';
import { CHAT_BODY, loadTest } from '../lib/load';
import { BENCH_TOKEN, Group, startRedis, startRotor, startSim, writeRotorConfig, startBareProxy } from '../lib/processes';
async function main() {
  const group = new Group();
  try {
    const redis = group.add(await startRedis());
    const sim = group.add(await startSim());
    const bare = group.add(await startBareProxy(sim.url));
    const pool = { cost: { baseUrl: `${sim.url}/v1`, keys: Array.from({ length: 5 }, (_, i) => `sk-cpu-${i}`) } };
    const store = process.env.STORE ?? 'redis';
    const rotor = group.add(await startRotor(writeRotorConfig(store === 'memory' ? 'memory://' : redis.url, pool)));
    const targets: Record<string, { pid: number; url: string }> = {
      rotor: { pid: rotor.pid, url: `${rotor.url}/cost/chat/completions` },
      bare: { pid: bare.pid, url: `${bare.url}/v1/chat/completions` },
      redis: { pid: redis.pid, url: `${rotor.url}/cost/chat/completions` },
    };
    const t = targets[process.env.TARGET ?? 'rotor']!;
    await loadTest({ url: t.url, token: BENCH_TOKEN, body: CHAT_BODY, connections: 20, amount: 2000 });
    const st = spawn('strace', ['-c', '-f', '-p', String(t.pid), '-o', '/tmp/strace.out'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 500));
    const N = 3000;
    const f = await loadTest({ url: t.url, token: BENCH_TOKEN, body: CHAT_BODY, connections: 20, amount: N });
    st.kill('SIGINT');
    await new Promise((r) => st.on('exit', r));
    console.log('ok', f.ok);
    console.log(execSync('head -25 /tmp/strace.out').toString());
  } finally { await group.stop(); }
}
main().catch((e) => { console.error(e); process.exit(1); });
