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

/** Loads not stopped yet: a test that fails before it stops its load leaves it to the teardown. */
const registry = new Set<SteadyLoad>();

/**
 * Stops every load still running. The topology's stop calls it: a load left running after its test
 * failed would otherwise go on against stopped servers until the test process is killed.
 */
export async function stopAllLoads(): Promise<void> {
  await Promise.all([...registry].map((load) => load.stop()));
}

/** After a connection error, before the next try: no busy loop against a server that is gone. */
const ERROR_PAUSE_MS = 20;

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
        if (running) await new Promise((r) => setTimeout(r, ERROR_PAUSE_MS));
      }
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  const load: SteadyLoad = {
    samples,
    stop: async () => {
      running = false;
      registry.delete(load);
      await Promise.all(loops);
      return samples;
    },
  };
  registry.add(load);
  return load;
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
