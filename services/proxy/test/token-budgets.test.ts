import { countStatuses as count, startRig, timedChat, type Rig } from './harness';

/**
 * Token-limited keys: each hand-out reserves the request's estimated tokens (prompt chars / 4 +
 * max_tokens, as the provider counts it on arrival), so a burst of large requests stops at what the
 * token limits allow instead of meeting the provider's 429s.
 */
const PROMPT = 'p'.repeat(1600); // 400 tokens
const MAX_TOKENS = 100; // + 100 = 500 tokens a request
const big = (rig: Rig) => async () =>
  (await timedChat(rig, { max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: PROMPT }] })).status;

describe('token budgets', () => {
  it('learned: a burst of 500-token requests on keys with 2,000 tokens a window serves 4 per key, <= 1 upstream 429 per key', async () => {
    const rig = await startRig({ keys: 2, rpm: 100, windowMs: 3000 });
    const sim = rig.sim;
    for (const secret of rig.secrets) sim.setLimits(secret, { rpm: 100, tpm: 2000 });
    try {
      const statuses = await Promise.all(Array.from({ length: 20 }, big(rig)));
      const served = statuses.filter((s) => s === 200).length;
      const refused = rig.secrets.map((s) => sim.stats(s).rateLimited);
      console.log(`tokens, learned: ${JSON.stringify(count(statuses))}, upstream 429s per key ${JSON.stringify(refused)}`);
      expect(served).toBeGreaterThanOrEqual(7); // 8 fit (2 keys x 2,000 / 500): within 10 %
      expect(served).toBeLessThanOrEqual(8);
      for (const n of refused) expect(n).toBeLessThanOrEqual(1);
    } finally {
      await rig.close();
    }
  });

  it('declared tpm: never more than the declared tokens in any window, 0 upstream 429s', async () => {
    const rig = await startRig({ keys: 1, rpm: 100, windowMs: 3000, pool: { limits: { tpm: 1500, windowMs: 3000 } } });
    try {
      const statuses = await Promise.all(Array.from({ length: 6 }, big(rig)));
      expect(count(statuses)).toEqual({ 200: 3, 429: 3 });
      expect(rig.sim.stats(rig.secrets[0]!).rateLimited).toBe(0);
      expect(rig.sim.stats(rig.secrets[0]!).ok).toBe(3);
    } finally {
      await rig.close();
    }
  });
});
