/** What a replica says about itself: /readyz and /metrics. */
export interface Ready {
  code: number;
  status: string;
  detail: string;
}

export async function readyz(url: string): Promise<Ready> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; detail: string };
    return { code: res.status, status: body.status, detail: body.detail };
  } catch (error) {
    return { code: -1, status: 'no answer', detail: (error as Error).message };
  }
}

export async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
}

/** Sum of a metric's samples whose labels include every pair in `labels` (Prometheus text format). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const set = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(match[3]);
  }
  return sum;
}

/** Polls `check` every 50 ms until it holds; the time it took, or throws after `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what = 'condition'): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}

/** Prints the figures a test measured, one line, so CI logs carry them. */
export function figures(name: string, values: Record<string, unknown>): void {
  console.log(`${name}: ${JSON.stringify(values)}`);
}
