/**
 * What reading a request's model and estimated tokens (readRequestCost: JSON.parse + a walk of the
 * prompt fields) costs per request, in CPU µs, for bodies of 1 kB, 10 kB and 100 kB, against
 * JSON.parse alone of the same body in the same run (interleaved rounds).
 *
 *   pnpm --filter @rotor/bench request-cost      (env: COST_ROUNDS=5, COST_CALLS=2000)
 */
import { readRequestCost } from '@rotor/core';
import { fmt, median, printTable } from './lib/stats';
import { runMain } from './lib/processes';

/** A chat body of about `bytes`: a system prompt and alternating turns, like an agent's long context. */
function chatBody(bytes: number): Buffer {
  const messages: { role: string; content: string }[] = [{ role: 'system', content: 'You are a careful assistant. '.repeat(10) }];
  let size = 300;
  for (let i = 0; size < bytes; i++) {
    const content = `Turn ${i}: ${'lorem ipsum dolor sit amet '.repeat(30)}`;
    messages.push({ role: i % 2 ? 'assistant' : 'user', content });
    size += content.length + 30;
  }
  return Buffer.from(JSON.stringify({ model: 'gpt-4o', max_tokens: 1024, stream: true, messages }));
}

function measure(calls: number, fn: () => unknown): number {
  const started = process.cpuUsage();
  for (let i = 0; i < calls; i++) fn();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / calls;
}

export async function runRequestCost(rounds: number, calls: number) {
  const rows: (string | number)[][] = [];
  const result: Record<string, { parseUs: number; costUs: number; tokens: number }> = {};
  for (const size of [1_000, 10_000, 100_000]) {
    const body = chatBody(size);
    const parse = () => JSON.parse(body.toString('utf8')) as unknown;
    const cost = () => readRequestCost('openai', '/chat/completions', body, 16);
    measure(200, cost); // warm-up
    const parsed: number[] = [];
    const costed: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const pair = i % 2 === 0 ? [parse, cost] : [cost, parse];
      for (const fn of pair) (fn === parse ? parsed : costed).push(measure(calls, fn));
    }
    const tokens = cost().tokens;
    result[`${size}`] = { parseUs: median(parsed), costUs: median(costed), tokens };
    rows.push([`${Math.round(body.length / 1000)} kB`, tokens, fmt(median(parsed), 1), fmt(median(costed), 1), fmt(median(costed) / median(parsed), 2)]);
  }
  printTable(['body', 'estimated tokens', 'JSON.parse µs', 'readRequestCost µs', 'ratio'], rows);
  return result;
}

if (require.main === module) {
  runMain(() => runRequestCost(Number(process.env.COST_ROUNDS ?? 5), Number(process.env.COST_CALLS ?? 2000)));
}
