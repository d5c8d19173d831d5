/** Load generation: autocannon for throughput/latency, a plain concurrent burst for rotation scenarios. */
import autocannon from 'autocannon';
import { percentile } from './stats';

export const CHAT_BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
export const STREAM_BODY = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'hello' }],
  stream: true,
});

export interface LoadSpec {
  url: string;
  token: string;
  body: string;
  connections: number;
  seconds?: number;
  /** Stop after this many requests instead of after `seconds`. */
  amount?: number;
}

export interface LoadFigures {
  /** 2xx answers per second. */
  rps: number;
  /** Latency of 2xx answers, request sent → last byte of the answer (ms, sub-ms resolution). */
  p50: number;
  p99: number;
  ok: number;
  /** Connection errors, timeouts and non-2xx answers. */
  errors: number;
  /** What the errors were, and the statuses of the non-2xx answers (for the message when a run fails). */
  errorDetail: string;
}

/**
 * One autocannon run. Latencies are recorded from autocannon's per-response event (a float in ms):
 * its own histogram keeps whole milliseconds, too coarse for a 1 ms target.
 */
export function loadTest(spec: LoadSpec): Promise<LoadFigures> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const statuses: Record<number, number> = {};
    const started = process.hrtime.bigint();
    const instance = autocannon(
      {
        url: spec.url,
        method: 'POST',
        connections: spec.connections,
        ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.seconds ?? 5 }),
        headers: { authorization: `Bearer ${spec.token}`, 'content-type': 'application/json' },
        body: spec.body,
        timeout: 30,
      },
      (error, result) => {
        if (error) return reject(error instanceof Error ? error : new Error(String(error)));
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        latencies.sort((a, b) => a - b);
        resolve({
          rps: latencies.length / seconds,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
          ok: latencies.length,
          errors: result.errors + result.timeouts + result.non2xx,
          errorDetail: `${result.errors} connection errors, ${result.timeouts} timeouts, non-2xx ${JSON.stringify(statuses)}`,
        });
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
      else statuses[status] = (statuses[status] ?? 0) + 1;
    });
  });
}

export interface Answer {
  status: number;
  /** Retry-After of a 429, in seconds. */
  retryAfterS?: number;
}

/** `n` chat completions at once (fetch, one connection each), every answer read to the end. */
export async function burst(url: string, token: string, n: number): Promise<Answer[]> {
  return Promise.all(
    Array.from({ length: n }, async (): Promise<Answer> => {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: CHAT_BODY,
        });
        await res.arrayBuffer();
        const retryAfter = res.headers.get('retry-after');
        return { status: res.status, ...(retryAfter ? { retryAfterS: Number(retryAfter) } : {}) };
      } catch {
        return { status: -1 };
      }
    }),
  );
}

export function tally(answers: Answer[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
}
