import { countStatuses, startRig, timedChat, type Rig } from './harness';

/**
 * Pools that may wait (`maxWaitMs`): a request is never answered 429 while its wait budget covers the
 * return of a key, and a cold burst at LLM latencies waits for the first answers instead of going out
 * whole before any rate-limit header was seen.
 */
const chat = (rig: Rig) => () => timedChat(rig);
const statuses = (answers: { status: number }[]) => countStatuses(answers.map((a) => a.status));
const upstream429s = (rig: Rig) => rig.secrets.reduce((sum, s) => sum + rig.sim.stats(s).rateLimited, 0);

describe('pools that may wait', () => {
  it('an upstream 429 (the key spent behind Rotor\'s back) sends the request to wait for the key, not to the client', async () => {
    const rig = await startRig({ keys: 1, rpm: 3, windowMs: 1500, pool: { maxWaitMs: 4000 } });
    try {
      expect((await chat(rig)()).status).toBe(200); // warm: Rotor learns 2 left
      rig.sim.consume(rig.secrets[0]!, 2); // another user of the key spends them
      const answers = await Promise.all(Array.from({ length: 3 }, chat(rig)));
      expect(statuses(answers)).toEqual({ 200: 3 });
      // Rotor believed 2 were left, so at most those 2 went out before the first 429 taught it the key
      // was spent; the third waited for the window instead of trying.
      expect(upstream429s(rig)).toBeLessThanOrEqual(2);
      expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(4000);
    } finally {
      await rig.close();
    }
  });

  it('a cold burst of twice the capacity at 1.5 s provider latency, maxWaitMs two windows: every request completes', async () => {
    // 2 keys x 3 requests per 2 s window: capacity 6, burst 12.
    const rig = await startRig({ keys: 2, rpm: 3, windowMs: 2000, sim: { latencyMs: 1500 }, pool: { maxWaitMs: 4000 } });
    try {
      const answers = await Promise.all(Array.from({ length: 12 }, chat(rig)));
      expect(statuses(answers)).toEqual({ 200: 12 });
      // The gate held the burst until the first answers (1.5 s), so the provider refused at most one
      // request per key (measured 0).
      expect(upstream429s(rig)).toBeLessThanOrEqual(2);
    } finally {
      await rig.close();
    }
  }, 20_000);

  it('a pool that may not wait still answers at once (429 with Retry-After) when every key is spent', async () => {
    const rig = await startRig({ keys: 1, rpm: 1, windowMs: 3000 });
    try {
      expect((await chat(rig)()).status).toBe(200);
      const second = await chat(rig)();
      expect(second.status).toBe(429);
      expect(second.ms).toBeLessThan(1500);
    } finally {
      await rig.close();
    }
  });
});
