import { CLIENT_TOKEN } from './topology';

export interface Sample {
  /** ms epoch when the request was sent / answered. */
  start: number;
  end: number;
  /** HTTP status, or -1 when no answer arrived (connection error). */
  status: number;
  /** x-rotor-error of Rotor's own answers. */
  rotorError?: string;
}

export interface SteadyLoad {
  samples: Sample[];
  stop(): Promise<Sample[]>;
}

const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'steady' }] });

/**
 * `concurrency` clients, each sending one chat completion after another to `baseUrl` (an OpenAI-style
 * route, e.g. `${lb}/pool`) until stopped. Every answer is recorded with its timing.
 */
export function steadyLoad(baseUrl: string, concurrency: number, pauseMs = 0): SteadyLoad {
  const samples: Sample[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      const start = Date.now();
      try {
        const res = await fetch(`${baseUrl}/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
          body: BODY,
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        const rotorError = res.headers.get('x-rotor-error');
        samples.push({ start, end: Date.now(), status: res.status, ...(rotorError ? { rotorError } : {}) });
      } catch {
        samples.push({ start, end: Date.now(), status: -1 });
      }
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    samples,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

/** Samples whose request started in [from, to). */
export function between(samples: Sample[], from: number, to: number): Sample[] {
  return samples.filter((s) => s.start >= from && s.start < to);
}

export function successRate(samples: Sample[]): number {
  return samples.length === 0 ? NaN : samples.filter((s) => s.status === 200).length / samples.length;
}

export function statuses(samples: Sample[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of samples) counts[s.status] = (counts[s.status] ?? 0) + 1;
  return counts;
}
