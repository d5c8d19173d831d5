import { sleep } from '@rotor/testkit';
import { startSimProvider, type SimProvider } from '../src';
import { call, chatBody, openaiHeaders } from './helpers';

const KEY = 'sk-sim-buckets-key-0001';
const MEMBER = 'sk-sim-buckets-org-0002';

/** The observing API a test uses to assert "at most 1 upstream 429 per bucket per window". */
describe('bucket statistics: admitted and refused per (organization, model) and per window', () => {
  let sim: SimProvider;
  const chat = (key: string, model: string) =>
    call(`${sim.url}/v1/chat/completions`, { headers: openaiHeaders(key), body: chatBody({ model }) });

  beforeAll(async () => {
    sim = await startSimProvider({
      windowMs: 1000,
      orgs: { 'org-sim-buckets': { rpm: 5 } },
      keys: {
        [KEY]: { rpm: 5, models: { 'gpt-4o': { rpm: 1, tpm: 100 } } },
        [MEMBER]: { org: 'org-sim-buckets' },
      },
    });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.reset());

  it('counts admitted and refused requests per bucket, and the most 429s any one window saw', async () => {
    await chat(KEY, 'gpt-4o');
    await chat(KEY, 'gpt-4o'); // 429
    await chat(KEY, 'gpt-4o'); // 429: two in this window
    await chat(KEY, 'gpt-4o-mini'); // default bucket
    await chat(MEMBER, 'gpt-4o');
    const keyOrg = sim.organization(KEY)?.id;

    const byName = Object.fromEntries(sim.buckets().map((b) => [`${b.org}/${b.model}`, b]));
    expect(Object.keys(byName).sort()).toEqual([`${keyOrg}/*`, `${keyOrg}/gpt-4o`, 'org-sim-buckets/*'].sort());
    expect(byName[`${keyOrg}/gpt-4o`]).toMatchObject({
      limits: { rpm: 1, tpm: 100 },
      admitted: 1,
      refused: 2,
      refusedOnTokens: 0,
      windows: 1,
      maxRefusedInWindow: 2,
      usedRequests: 1,
    });
    expect(byName[`${keyOrg}/*`]).toMatchObject({ admitted: 1, refused: 0, maxRefusedInWindow: 0 });
    expect(byName['org-sim-buckets/*']).toMatchObject({ admitted: 1, limits: { rpm: 5 } });
  });

  it('maxRefusedInWindow stays 1 when each window had one 429, however many windows', async () => {
    for (let window = 0; window < 2; window += 1) {
      expect((await chat(KEY, 'gpt-4o')).status).toBe(200);
      expect((await chat(KEY, 'gpt-4o')).status).toBe(429);
      await sleep(sim.windowEndsAt(KEY, 'gpt-4o') - Date.now() + 20);
    }
    const bucket = sim.bucket(KEY, 'gpt-4o');
    expect(bucket).toMatchObject({ admitted: 2, refused: 2, windows: 2, maxRefusedInWindow: 1, usedRequests: 0 });
    expect(bucket?.windowEndsAt).toBeLessThanOrEqual(Date.now()); // no window open now
  });

  it('consume() spends the window without counting an admitted request; probes count nothing', async () => {
    sim.consume(KEY, 1, 'gpt-4o');
    await call(`${sim.url}/v1/models`, { headers: openaiHeaders(KEY) });
    expect(sim.bucket(KEY, 'gpt-4o')).toMatchObject({ admitted: 0, refused: 0, usedRequests: 1, windows: 1 });
    expect(sim.bucket(KEY)).toMatchObject({ model: '*', admitted: 0, windows: 0 });
  });

  it('invented model names share the default bucket: a client cannot grow the number of buckets', async () => {
    for (let i = 0; i < 20; i += 1) await chat(MEMBER, `made-up-model-${i}`);
    expect(sim.buckets()).toHaveLength(1);
    expect(sim.buckets()[0]).toMatchObject({ org: 'org-sim-buckets', model: '*', admitted: 5, refused: 15, maxRefusedInWindow: 15 });
  });

  it('reset() forgets every bucket; an unknown key has none', async () => {
    await chat(KEY, 'gpt-4o');
    expect(sim.buckets()).toHaveLength(1);
    sim.reset();
    expect(sim.buckets()).toEqual([]);
    expect(sim.bucket(KEY, 'gpt-4o')).toMatchObject({ admitted: 0, windows: 0, limits: { rpm: 1, tpm: 100 } });
    expect(sim.bucket('sk-sim-not-a-key-9999')).toBeUndefined();
  });
});
