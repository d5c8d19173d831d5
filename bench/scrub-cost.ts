/**
 * What scanning every 2xx answer for the key it was served with (StreamScrubber) costs, in CPU µs per
 * response, against a pass-through of the same chunks measured in the same run (interleaved rounds).
 * Workloads: a 1 KB JSON completion, a 200-event SSE stream, a 100 kB JSON body in 16 KB chunks, and
 * the SSE stream with the key echoed in it.
 *
 *   pnpm --filter @rotor/bench scrub-cost      (env: SCRUB_ROUNDS=5, SCRUB_RESPONSES=2000)
 */
import { StreamScrubber } from '@rotor/proxy';
import { fmt, median, printTable } from './lib/stats';
import { runMain } from './lib/processes';

const SECRET = 'sk-bench-0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCD'; // 56 chars, like a real key

function sseEvent(content: string): string {
  return `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 0, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
}

const workloads: Record<string, Buffer[]> = {
  'json 1 KB': [Buffer.from(JSON.stringify({ id: 'chatcmpl-bench', choices: [{ message: { content: 'x'.repeat(900) } }] }))],
  'sse 200 events': Array.from({ length: 200 }, (_, i) => Buffer.from(sseEvent(`token ${i} `))),
  'json 100 kB (16 KB chunks)': Array.from({ length: 7 }, (_, i) => Buffer.alloc(i < 6 ? 16_384 : 3_696, 'y')),
  'sse 200 events, key echoed': Array.from({ length: 200 }, (_, i) => Buffer.from(sseEvent(i === 100 ? SECRET : `token ${i} `))),
};

/** CPU µs per response for `responses` responses of `chunks`. */
function measure(chunks: Buffer[], responses: number, scrub: boolean): number {
  let sink = 0;
  const started = process.cpuUsage();
  for (let r = 0; r < responses; r++) {
    if (scrub) {
      const scrubber = new StreamScrubber(SECRET);
      for (const chunk of chunks) sink += scrubber.push(chunk).length;
      sink += scrubber.end().length;
    } else {
      for (const chunk of chunks) sink += chunk.length;
    }
  }
  const used = process.cpuUsage(started);
  if (sink < 0) throw new Error('unreachable');
  return (used.user + used.system) / responses;
}

export async function runScrubCost(rounds: number, responses: number) {
  const rows: (string | number)[][] = [];
  const result: Record<string, { passUs: number; scrubUs: number }> = {};
  for (const [name, chunks] of Object.entries(workloads)) {
    measure(chunks, responses, true); // warm-up
    const pass: number[] = [];
    const scrub: number[] = [];
    for (let i = 0; i < rounds; i++) {
      // Alternate the order per round, so drift does not favour either side.
      if (i % 2 === 0) {
        pass.push(measure(chunks, responses, false));
        scrub.push(measure(chunks, responses, true));
      } else {
        scrub.push(measure(chunks, responses, true));
        pass.push(measure(chunks, responses, false));
      }
    }
    result[name] = { passUs: median(pass), scrubUs: median(scrub) };
    const bytes = chunks.reduce((n, c) => n + c.length, 0);
    rows.push([name, bytes, fmt(median(pass), 2), fmt(median(scrub), 2), fmt(median(scrub) - median(pass), 2)]);
  }
  printTable(['workload', 'bytes', 'pass-through µs', 'scrubbed µs', 'scrub cost µs / response'], rows);
  return result;
}

if (require.main === module) {
  runMain(() => runScrubCost(Number(process.env.SCRUB_ROUNDS ?? 5), Number(process.env.SCRUB_RESPONSES ?? 2000)));
}
