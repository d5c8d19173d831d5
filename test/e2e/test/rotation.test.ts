import { burst, tally, warm, startTopology, type Topology } from '../src';

/**
 * The proxy issue's rotation scenarios, end to end: 3 `rotor proxy` processes behind nginx, a private
 * redis-server, the simulated provider (5 keys × 20 requests per 3 s window unless said otherwise) and
 * the official OpenAI SDK (maxRetries 0) as the client. Each scenario has its own pool of fresh keys.
 */
const WINDOW_MS = 3000;
const declared = { rpm: 20, windowMs: WINDOW_MS };
let topo: Topology;

beforeAll(async () => {
  topo = await startTopology({
    replicas: 3,
    loadBalancer: true,
    windowMs: WINDOW_MS,
    pools: {
      seed: { keys: 5 },
      overcold: { keys: 5 },
      overwarm: { keys: 5 },
      overwait: { keys: 5, maxWaitMs: 2 * WINDOW_MS + 1000 },
      onecold: { keys: 1 },
      onewarm: { keys: 1 },
      partial: { keys: 5 },
      dseed: { keys: 5, limits: declared },
      dover: { keys: 5, limits: declared },
      done: { keys: 1, limits: declared },
      dwarm: { keys: 5, limits: declared },
      single: { keys: 5 },
      triple: { keys: 5 },
    },
  });
}, 60_000);

afterAll(async () => {
  await topo?.stop();
});

const via = (pool: string, base = topo.url) => `${base}/${pool}`;

function log(name: string, figures: Record<string, unknown>): void {
  console.log(`${name}: ${JSON.stringify(figures)}`);
}

describe('rotation through nginx and 3 replicas', () => {
  it('seed: 5 keys x 20, 100 concurrent completions -> 100 succeed, 0 errors', async () => {
    const answers = await burst(via('seed'), 100);
    log('seed', { answers: tally(answers), calls: topo.poolStat('seed', 'calls'), upstream429: topo.poolStat('seed', 'rateLimited') });
    expect(tally(answers)).toEqual({ 200: 100 });
  });

  it('overload, cold: 200 concurrent -> 100 succeed, 100 get 429 + Retry-After, provider sees <= 210 calls', async () => {
    const started = Date.now();
    const answers = await burst(via('overcold'), 200);
    const calls = topo.poolStat('overcold', 'calls');
    log('overload cold', { answers: tally(answers), calls, upstream429: topo.poolStat('overcold', 'rateLimited') });
    expect(tally(answers)).toEqual({ 200: 100, 429: 100 });
    const windowEnd = Math.max(...topo.secrets.overcold!.map((s) => topo.sim.windowEndsAt(s)));
    for (const a of answers.filter((x) => x.status === 429)) {
      expect(a.retryAfterS).toBeGreaterThanOrEqual(1);
      expect(a.at + a.retryAfterS! * 1000).toBeLessThanOrEqual(windowEnd + 1000 + 50);
      expect(a.at + a.retryAfterS! * 1000).toBeGreaterThanOrEqual(started);
    }
    expect(calls).toBeLessThanOrEqual(210);
  });

  it('overload, warm: at most 5 upstream 429s and about 105 calls; Rotor answers the excess itself', async () => {
    await warm(via('overwarm'), 5);
    const answers = await burst(via('overwarm'), 200);
    const calls = topo.poolStat('overwarm', 'calls');
    const upstream429 = topo.poolStat('overwarm', 'rateLimited');
    log('overload warm', { answers: tally(answers), calls, upstream429 });
    expect(tally(answers)[200]).toBe(95);
    expect(upstream429).toBeLessThanOrEqual(5);
    expect(calls).toBeLessThanOrEqual(105);
  });

  it('overload with maxWaitMs above the window: all 200 succeed within two windows plus latency', async () => {
    const started = Date.now();
    const answers = await burst(via('overwait'), 200);
    const elapsed = Date.now() - started;
    log('overload maxWait', { answers: tally(answers), elapsedMs: elapsed, calls: topo.poolStat('overwait', 'calls') });
    expect(tally(answers)).toEqual({ 200: 200 });
    expect(elapsed).toBeLessThanOrEqual(2 * WINDOW_MS + 1500);
  });

  it('one key, 100 concurrent, cold: 20 succeed, 80 get 429 with Retry-After near the window end, <= 100 calls', async () => {
    const answers = await burst(via('onecold'), 100);
    const secret = topo.secrets.onecold![0]!;
    const windowEnd = topo.sim.windowEndsAt(secret);
    const calls = topo.sim.stats(secret).calls;
    log('one key cold', { answers: tally(answers), calls });
    expect(tally(answers)).toEqual({ 200: 20, 429: 80 });
    for (const a of answers.filter((x) => x.status === 429)) {
      expect(Math.abs(a.at + a.retryAfterS! * 1000 - windowEnd)).toBeLessThanOrEqual(1000);
    }
    expect(calls).toBeLessThanOrEqual(100);
  });

  it('one key, 100 concurrent, warm: 19 more succeed, the rest get 429 from Rotor, <= 21 calls', async () => {
    await warm(via('onewarm'), 1);
    const answers = await burst(via('onewarm'), 100);
    const secret = topo.secrets.onewarm![0]!;
    const windowEnd = topo.sim.windowEndsAt(secret);
    log('one key warm', { answers: tally(answers), calls: topo.sim.stats(secret).calls });
    expect(tally(answers)).toEqual({ 200: 19, 429: 81 });
    for (const a of answers.filter((x) => x.status === 429)) {
      expect(Math.abs(a.at + a.retryAfterS! * 1000 - windowEnd)).toBeLessThanOrEqual(1000);
    }
    expect(topo.sim.stats(secret).calls).toBeLessThanOrEqual(21);
  });

  it('keys partly used by someone else: what fits succeeds, <= 5 upstream 429s, the rest 429 + Retry-After', async () => {
    const secrets = topo.secrets.partial!;
    await warm(via('partial'), 5);
    for (const s of secrets.slice(0, 3)) topo.sim.consume(s, 15);
    // Rotor learns the others' use from the next answers' headers: warm it once more.
    await warm(via('partial'), 5);
    const capacity = secrets.reduce((sum, s) => sum + (20 - topo.sim.stats(s).ok - (secrets.indexOf(s) < 3 ? 15 : 0)), 0);
    const before429 = topo.poolStat('partial', 'rateLimited');
    const answers = await burst(via('partial'), 100);
    const upstream429 = topo.poolStat('partial', 'rateLimited') - before429;
    log('partly used', { capacity, answers: tally(answers), upstream429 });
    expect(tally(answers)[200]).toBe(capacity);
    expect(tally(answers)[429]).toBe(100 - capacity);
    expect(answers.filter((a) => a.status === 429).every((a) => a.retryAfterS! >= 1)).toBe(true);
    expect(upstream429).toBeLessThanOrEqual(5);
  });

  it('declared rpm 20: 0 upstream 429s in the seed, overload and one-key scenarios, cold and warm', async () => {
    const seed = await burst(via('dseed'), 100);
    const over = await burst(via('dover'), 200);
    const one = await burst(via('done'), 100);
    await warm(via('dwarm'), 5);
    const warmOver = await burst(via('dwarm'), 200);
    const figures = {
      seed: tally(seed),
      overload: tally(over),
      oneKey: tally(one),
      warmOverload: tally(warmOver),
      upstream429: ['dseed', 'dover', 'done', 'dwarm'].map((p) => topo.poolStat(p, 'rateLimited')),
    };
    log('declared rpm', figures);
    expect(figures.upstream429).toEqual([0, 0, 0, 0]);
    expect(tally(seed)).toEqual({ 200: 100 });
    expect(tally(over)).toEqual({ 200: 100, 429: 100 });
    expect(tally(one)).toEqual({ 200: 20, 429: 80 });
    expect(tally(warmOver)).toEqual({ 200: 95, 429: 105 });
  });

  it('3 replicas together send no more upstream 429s than 1 replica on the same load', async () => {
    // Warm: one replica learns the budgets, the others must use them (shared state in Redis).
    await warm(via('single', topo.proxies[0]!.url), 5);
    const one = await burst(via('single', topo.proxies[0]!.url), 200);
    await warm(via('triple', topo.proxies[0]!.url), 5);
    const three = await burst(via('triple'), 200);
    const figures = {
      oneReplica: { answers: tally(one), upstream429: topo.poolStat('single', 'rateLimited') },
      threeReplicas: { answers: tally(three), upstream429: topo.poolStat('triple', 'rateLimited') },
    };
    log('1 vs 3 replicas (warm)', figures);
    expect(figures.threeReplicas.upstream429).toBeLessThanOrEqual(figures.oneReplica.upstream429);
    expect(tally(three)[200]).toBe(tally(one)[200]);
  });
});
