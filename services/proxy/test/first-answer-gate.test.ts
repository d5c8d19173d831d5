import { countStatuses, startRig, timedChat, type Rig } from './harness';

/**
 * The first-answer gate through the whole request path: on a cold pool (no key answered yet, no budget
 * known) a burst must not reach the provider before its rate-limit headers have been seen, and a slow
 * provider must delay the burst, never refuse it.
 */
const chat = (rig: Rig) => () => timedChat(rig);

const upstream429s = (rig: Rig) => rig.secrets.reduce((sum, s) => sum + rig.sim.stats(s).rateLimited, 0);
const upstreamOk = (rig: Rig) => rig.secrets.reduce((sum, s) => sum + rig.sim.stats(s).ok, 0);

describe('first-answer gate (cold pool)', () => {
  it('a burst of 3x the capacity at 150 ms provider latency: the capacity served, 0 upstream 429s', async () => {
    // 2 keys x 5 requests per 2 s window: capacity 10, burst 30.
    const rig = await startRig({ keys: 2, rpm: 5, windowMs: 2000, sim: { latencyMs: 150 } });
    try {
      const answers = await Promise.all(Array.from({ length: 30 }, chat(rig)));
      expect(countStatuses(answers.map((a) => a.status))).toEqual({ 200: 10, 429: 20 });
      expect(upstreamOk(rig)).toBe(10);
      // Without the gate the burst leaves before any answer and the provider answers the excess with
      // 429s (6 in a run with the gate switched off).
      expect(upstream429s(rig)).toBe(0);
    } finally {
      await rig.close();
    }
  });

  it('a slow provider (2 s): the requests beyond one per key wait ~0.75 s, then go anyway; none is refused', async () => {
    const rig = await startRig({ keys: 2, rpm: 100, sim: { latencyMs: 2000 } });
    try {
      const answers = await Promise.all(Array.from({ length: 6 }, chat(rig)));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
      const times = answers.map((a) => a.ms).sort((a, b) => a - b);
      // Two left at once (one per key) ...
      expect(times[1]!).toBeLessThan(2600);
      // ... the other four after the gate's wait, not after the first answers (which come at 2 s).
      expect(times[2]!).toBeGreaterThan(2500);
      expect(times[5]!).toBeLessThan(3700);
    } finally {
      await rig.close();
    }
  });
});
