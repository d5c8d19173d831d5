import { CHAT_BODY } from '../lib/load';
import { BENCH_TOKEN, Group, startRotor, startSim, writeRotorConfig } from '../lib/processes';
async function main() {
  const group = new Group();
  try {
    const sim = group.add(await startSim());
    const pool = { cost: { baseUrl: `${sim.url}/v1`, keys: Array.from({ length: 5 }, (_, i) => `sk-cpu-${i}`) } };
    for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++) {
      const rotor = group.add(await startRotor(writeRotorConfig(process.env.URL ?? 'memory://', pool)));
      const counts: Record<string, number> = {}; const bodies: string[] = [];
      let n = 0;
      await Promise.all(Array.from({ length: 20 }, async () => {
        while (n < 1000) { n++;
          const r = await fetch(`${rotor.url}/cost/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${BENCH_TOKEN}`, 'content-type': 'application/json' }, body: CHAT_BODY });
          const t = await r.text(); counts[r.status] = (counts[r.status] ?? 0) + 1; if (r.status !== 200 && bodies.length < 3) bodies.push(r.status + ' ' + JSON.stringify(Object.fromEntries(r.headers)) + ' ' + t.slice(0, 300));
        }
      }));
      console.log(JSON.stringify(counts), bodies);
      await rotor.stop();
    }
  } finally { await group.stop(); }
}
main().catch((e) => { console.error(e); process.exit(1); });
