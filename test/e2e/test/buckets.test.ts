import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import type { BucketStats } from '@rotor/sim-provider';
import { CLIENT_TOKEN, figures, startTopology, type Topology } from '../src';

/**
 * The buckets issue's "Done when" checks, end to end: the official SDKs against 3 replicas behind
 * nginx, the simulated provider limiting per (organization, model group), windows scaled down.
 * Every bound is read from the simulator's own counters: "at most 1 upstream 429 per bucket per
 * window" is its `maxRefusedInWindow <= 1`, what was served is what it admitted.
 */
const ADMIN_TOKEN = 'e2e-admin-token';
const WINDOW_MS = 2000;
/**
 * How long the provider takes to answer: requests overlap, so answers arrive after later requests
 * were handed out (what Rotor knows of a bucket is always behind what the provider counted).
 */
const LATENCY_MS = 200;
/**
 * Streamed answers last 5 chunks x this: a streamed answer is reported when its body ends, well after
 * its rate-limit headers were read, and the wait they name must still be anchored to the read.
 */
const STREAM_CHUNK_DELAY_MS = 40;
/**
 * An accurate Retry-After points at the end of the provider's window: never before it (a client that
 * honours it would meet a 429), and after it by no more than the time Rotor took to learn the reset
 * (an answer's headers are read when its report lands).
 */
const RETRY_EARLY_MS = 10;
const RETRY_LATE_MS = 100;

/** One client request as the test saw it. */
interface Answer {
  status: number;
  /** `x-rotor-error`: set when Rotor answered itself (e.g. `keys_exhausted`), absent for the provider's answers. */
  rotorError?: string;
  /** `retry-after-ms` of a 429. */
  retryAfterMs?: number;
  /** When the request was sent and its answer arrived (ms epoch): Rotor answered in between. */
  sent: number;
  at: number;
}

type ErrorWithHeaders = { status?: number; headers?: Headers };

const answerOf = async (call: () => Promise<unknown>): Promise<Answer> => {
  const sent = Date.now();
  return call().then(
    () => ({ status: 200, sent, at: Date.now() }),
    (error: ErrorWithHeaders) => {
      const retryAfterMs = error.headers?.get('retry-after-ms');
      const rotorError = error.headers?.get('x-rotor-error');
      return {
        status: error.status ?? -1,
        sent,
        at: Date.now(),
        ...(rotorError ? { rotorError } : {}),
        ...(retryAfterMs ? { retryAfterMs: Number(retryAfterMs) } : {}),
      };
    },
  );
};

const count = (answers: Answer[]) =>
  answers.reduce<Record<string, number>>((n, a) => {
    const label = a.rotorError ? `${a.status} ${a.rotorError}` : String(a.status);
    return { ...n, [label]: (n[label] ?? 0) + 1 };
  }, {});
const served = (answers: Answer[]) => answers.filter((a) => a.status === 200).length;
/** Reads a streamed answer to its end (an error in the stream rejects). */
const drain = async (events: AsyncIterable<unknown>) => {
  for await (const event of events) void event;
};

/** What Rotor's admin API says of a pool (the store's snapshot; only the fields read here). */
interface RotorPool {
  keys: { id: string; account?: string; accountDeclared?: boolean }[];
  buckets: { account: string; group: string; state: string; remainingRequests?: number; resetRequestsAt?: number }[];
}

async function rotorPool(topo: Topology, pool: string): Promise<RotorPool> {
  const res = await fetch(`${topo.proxies[0]!.url}/admin/pools/${pool}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return (await res.json()) as RotorPool;
}

/** The simulator's bucket of each key for a model (keys of one organization share one). */
function simBuckets(topo: Topology, pool: string, model?: string): BucketStats[] {
  const byId = new Map<string, BucketStats>();
  for (const secret of topo.secrets[pool]!) {
    const bucket = topo.sim.bucket(secret, model)!;
    byId.set(`${bucket.org}|${bucket.model}`, bucket);
  }
  return [...byId.values()];
}

const refusedPerBucket = (buckets: BucketStats[]) => buckets.map((b) => b.maxRefusedInWindow);

/** Runs `check`; on failure prints what Rotor and the simulator knew, then fails. */
async function explained(topo: Topology, pool: string, check: () => void): Promise<void> {
  try {
    check();
  } catch (error) {
    console.log(`${pool}: rotor buckets ${JSON.stringify((await rotorPool(topo, pool)).buckets)}`);
    console.log(`${pool}: sim buckets ${JSON.stringify(topo.sim.buckets())}`);
    throw error;
  }
}

describe('mixed models: a tight model exhausted, a roomy one on the same keys (3 keys, one organization each)', () => {
  const KEYS = 3;
  const TIGHT = 3; // requests per window per key
  const ROOMY = 30;
  let topo: Topology;
  beforeAll(async () => {
    topo = await startTopology({
      replicas: 3,
      loadBalancer: true,
      windowMs: WINDOW_MS,
      providerRpm: 60,
      sim: {
        latencyMs: LATENCY_MS,
        stream: { chunks: 5, chunkDelayMs: STREAM_CHUNK_DELAY_MS },
        defaultLimits: {
          rpm: 60,
          models: {
            'gpt-4o': { rpm: TIGHT },
            'gpt-4o-mini': { rpm: ROOMY },
            'claude-opus-4-5': { rpm: TIGHT },
            'claude-haiku-4-5': { rpm: ROOMY },
          },
        },
        modelGroups: { 'gpt-4o': ['gpt-4o', 'gpt-4o-2024-08-06'], 'claude-opus-4-5': ['claude-opus-4-5', 'claude-opus-4-5-20251101'] },
      },
      config: { adminToken: ADMIN_TOKEN },
      pools: {
        openai: { keys: KEYS, modelGroups: { 'gpt-4o': ['gpt-4o', 'gpt-4o-2024-08-06'] } },
        anthropic: { keys: KEYS, provider: 'anthropic', modelGroups: { 'claude-opus-4-5': ['claude-opus-4-5', 'claude-opus-4-5-20251101'] } },
      },
    });
  }, 60_000);
  afterAll(() => topo?.stop());

  /**
   * Warm-up (one request per key and model: every bucket answered once in the window), then a burst
   * of twice the tight model's room, then the roomy model's whole room together with more tight
   * requests, all within one window of the tight model. The tight model's answers are streamed (the
   * resets Rotor learns from them are checked through the Retry-After of its excess), the roomy one's not.
   */
  async function mixedModels(
    name: string,
    pool: string,
    tight: [string, string],
    roomy: string,
    call: (model: string, stream: boolean) => Promise<unknown>,
  ) {
    // Together, so that the whole check fits in one window: the first-answer gate gives each cold
    // bucket one request, so the ring hands every key one of each model.
    await Promise.all(
      [tight[0], roomy].flatMap((model) => Array.from({ length: KEYS }, () => answerOf(() => call(model, model !== roomy)))),
    );
    const warm = [...simBuckets(topo, pool, tight[0]), ...simBuckets(topo, pool, roomy)];
    expect(warm.map((b) => b.admitted)).toEqual(Array(2 * KEYS).fill(1));

    const tightRoom = KEYS * (TIGHT - 1);
    const burst = await Promise.all(Array.from({ length: 2 * tightRoom }, (_, i) => answerOf(() => call(tight[i % 2]!, true))));
    const tightEnds = Math.min(...simBuckets(topo, pool, tight[0]).map((b) => b.windowEndsAt));

    const roomyRoom = KEYS * (ROOMY - 1);
    const started = Date.now();
    const [excess, roomyAnswers] = await Promise.all([
      Promise.all(Array.from({ length: tightRoom }, (_, i) => answerOf(() => call(tight[i % 2]!, true)))),
      Promise.all(Array.from({ length: roomyRoom }, () => answerOf(() => call(roomy, false)))),
    ]);
    const roomyMs = Date.now() - started;

    const tightBuckets = simBuckets(topo, pool, tight[0]);
    const roomyBuckets = simBuckets(topo, pool, roomy);
    const refusedByRotor = [...burst, ...excess].filter((a) => a.status !== 200);
    // Where each Retry-After points, from the end of the tight model's windows (the earliest returns
    // first): Rotor answered between sending and arrival, so it points within [sent, at] + Retry-After.
    const retryAt = refusedByRotor.map((a) => ({ earliest: a.sent + (a.retryAfterMs ?? NaN) - tightEnds, latest: a.at + (a.retryAfterMs ?? NaN) - tightEnds }));
    figures(name, {
      tight: { served: served(burst) + served(excess), room: tightRoom, answers: count([...burst, ...excess]) },
      roomy: { served: served(roomyAnswers), room: roomyRoom, answers: count(roomyAnswers), ms: roomyMs },
      upstream429PerBucket: { tight: refusedPerBucket(tightBuckets), roomy: refusedPerBucket(roomyBuckets) },
      // Each error as the middle of its interval, and the widest interval (the client's round trip).
      retryAfterErrorMs: {
        min: Math.min(...retryAt.map((r) => Math.round((r.earliest + r.latest) / 2))),
        max: Math.max(...retryAt.map((r) => Math.round((r.earliest + r.latest) / 2))),
        roundTrip: Math.max(...retryAt.map((r) => r.latest - r.earliest)),
      },
    });

    await explained(topo, pool, () => {
      // The test ran within one window of the tight model (else "its excess" would be another window's room).
      expect(tightBuckets.map((b) => b.windows)).toEqual(Array(KEYS).fill(1));
      expect(served(burst) + served(excess)).toBe(tightRoom);
      expect(count(roomyAnswers)).toEqual({ 200: roomyRoom });
      for (const b of [...tightBuckets, ...roomyBuckets]) expect(b.maxRefusedInWindow).toBeLessThanOrEqual(1);
      // The tight model's excess is answered by Rotor, with the wait the provider's window has left.
      for (const a of refusedByRotor) expect(a).toMatchObject({ status: 429, rotorError: 'keys_exhausted' });
      for (const r of retryAt) {
        expect(r.latest).toBeGreaterThanOrEqual(-RETRY_EARLY_MS);
        expect(r.earliest).toBeLessThanOrEqual(RETRY_LATE_MS);
      }
    });
  }

  it('OpenAI SDK: the roomy model is served in full, the tight one costs <= 1 upstream 429 per bucket, its excess gets Rotor 429s with an accurate Retry-After', async () => {
    const client = new OpenAI({ apiKey: CLIENT_TOKEN, baseURL: `${topo.url}/openai`, maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'hi' }];
    await mixedModels('mixed models (openai)', 'openai', ['gpt-4o', 'gpt-4o-2024-08-06'], 'gpt-4o-mini', (model, stream) =>
      stream
        ? client.chat.completions.create({ model, max_tokens: 16, messages, stream }).then(drain)
        : client.chat.completions.create({ model, max_tokens: 16, messages }),
    );
  });

  it('Anthropic SDK on the /anthropic route: the same', async () => {
    const client = new Anthropic({ apiKey: CLIENT_TOKEN, baseURL: `${topo.url}/anthropic`, maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'hi' }];
    await mixedModels('mixed models (anthropic)', 'anthropic', ['claude-opus-4-5', 'claude-opus-4-5-20251101'], 'claude-haiku-4-5', (model, stream) =>
      stream
        ? client.messages.create({ model, max_tokens: 16, messages, stream }).then(drain)
        : client.messages.create({ model, max_tokens: 16, messages }),
    );
  });
});

describe('organizations: keys of one organization share its budget (2 organizations x 3 keys)', () => {
  const ORG_RPM = 20;
  const CAPACITY = 2 * ORG_RPM;
  const MODEL = 'gpt-4o-mini';
  let topo: Topology;
  beforeAll(async () => {
    topo = await startTopology({
      replicas: 3,
      loadBalancer: true,
      windowMs: WINDOW_MS,
      sim: { latencyMs: LATENCY_MS, orgs: { 'org-la': { rpm: ORG_RPM }, 'org-lb': { rpm: ORG_RPM }, 'org-da': { rpm: ORG_RPM }, 'org-db': { rpm: ORG_RPM } } },
      config: { adminToken: ADMIN_TOKEN },
      pools: {
        learned: { keys: 6, orgs: ['org-la', 'org-la', 'org-la', 'org-lb', 'org-lb', 'org-lb'] },
        declared: {
          keys: 6,
          orgs: ['org-da', 'org-da', 'org-da', 'org-db', 'org-db', 'org-db'],
          accounts: ['team-a', 'team-a', 'team-a', 'team-b', 'team-b', 'team-b'],
        },
      },
    });
  }, 60_000);
  afterAll(() => topo?.stop());

  /**
   * A burst of twice the capacity on cold keys, then (windows over, accounts known) another. Rotor
   * must end up with the keys in `accounts` (3 each) and one bucket per account.
   */
  async function twoBursts(name: string, pool: string, accounts: [string, string], declared: boolean) {
    const client = new OpenAI({ apiKey: CLIENT_TOKEN, baseURL: `${topo.url}/${pool}`, maxRetries: 0 });
    const burst = () =>
      Promise.all(
        Array.from({ length: 2 * CAPACITY }, () =>
          answerOf(() => client.chat.completions.create({ model: MODEL, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] })),
        ),
      );
    for (const round of ['cold', 'warm']) {
      if (round === 'warm') {
        const ends = Math.max(...simBuckets(topo, pool).map((b) => b.windowEndsAt));
        await new Promise((r) => setTimeout(r, Math.max(0, ends - Date.now()) + 50));
      }
      const before = simBuckets(topo, pool).map((b) => b.admitted);
      const answers = await burst();
      const buckets = simBuckets(topo, pool);
      const admitted = buckets.map((b, i) => b.admitted - (before[i] ?? 0));
      const rotor = await rotorPool(topo, pool);
      figures(`${name}, ${round}`, {
        served: served(answers),
        capacity: CAPACITY,
        answers: count(answers),
        admittedPerAccount: admitted,
        upstream429PerAccount: refusedPerBucket(buckets),
        windows: buckets.map((b) => b.windows),
      });
      await explained(topo, pool, () => {
        expect(buckets).toHaveLength(2);
        expect(admitted.reduce((a, b) => a + b, 0)).toBe(served(answers));
        expect(served(answers)).toBeGreaterThanOrEqual(Math.ceil(CAPACITY * 0.95));
        expect(served(answers)).toBeLessThanOrEqual(CAPACITY);
        for (const b of buckets) expect(b.maxRefusedInWindow).toBeLessThanOrEqual(1);
        expect(answers.every((a) => a.status === 200 || a.status === 429)).toBe(true);
        // Rotor counted the burst in the organizations' buckets, not in one bucket per key.
        expect(rotor.keys.map((k) => `${k.account}${k.accountDeclared ? ' (declared)' : ''}`).sort()).toEqual(
          accounts.flatMap((a) => Array(3).fill(declared ? `${a} (declared)` : a)),
        );
        expect(rotor.buckets.filter((b) => b.group === MODEL).map((b) => b.account)).toEqual(accounts);
      });
    }
  }

  it('learned from answers (openai-organization): <= 1 upstream 429 per account per window, serves within 5 % of capacity', async () => {
    await twoBursts('organizations learned', 'learned', ['org-la', 'org-lb'], false);
  });

  it('declared in config (keys[].account), from the very first request: the same', async () => {
    await twoBursts('organizations declared', 'declared', ['team-a', 'team-b'], true);
  });
});
