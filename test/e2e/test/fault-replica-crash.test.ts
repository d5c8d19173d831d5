import http from 'node:http';
import {
  CLIENT_TOKEN,
  COMPLETION,
  OK_HEADERS,
  figures,
  hgetall,
  startTopology,
  startUpstream,
  statuses,
  steadyLoad,
  successRate,
  waitUntil,
  type TestUpstream,
  type Topology,
} from '../src';

/**
 * Case 7: one of 3 replicas SIGKILLed while it holds requests waiting for upstream headers and
 * streams half sent. The other replicas keep serving; the dead replica's in-flight leases expire after
 * `leaseTtlMs` (3 s here) and every key's in-flight count returns to its true value; no key stays out.
 */
const LEASE_TTL_MS = 3000;
let slow: TestUpstream;
let topo: Topology;

beforeAll(async () => {
  // Answers after 3 s: requests wait for their headers ("mid-request").
  slow = await startUpstream((_req, res) => {
    const timer = setTimeout(() => res.writeHead(200, OK_HEADERS).end(COMPLETION), 3000);
    res.once('close', () => clearTimeout(timer));
  });
  topo = await startTopology({
    replicas: 3,
    windowMs: 60_000,
    providerRpm: 100_000,
    sim: { stream: { chunks: 40, chunkDelayMs: 100 } },
    config: { leaseTtlMs: LEASE_TTL_MS, log: { level: 'warn' } },
    pools: { streams: { keys: 3 }, waits: { keys: 3, baseUrl: `${slow.url}/v1` }, others: { keys: 3 } },
  });
}, 60_000);

afterAll(async () => {
  await topo?.stop();
  await slow?.close();
});

/** A request to `url` that we only start: resolves once it is under way (first byte, or sent). */
function startRequest(url: string, stream: boolean): { ended: Promise<string> } {
  const body = JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'x' }] });
  const ended = new Promise<string>((resolve) => {
    const req = http.request(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.complete ? 'complete' : 'cut'));
      res.on('error', () => resolve('cut'));
    });
    req.on('error', (e) => resolve(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    req.end(body);
  });
  return { ended };
}

const inflight = async (pool: string) => {
  const ids = Object.keys(await hgetall(topo.redis.port, `rotor:{${pool}}:states`));
  // The key's in-flight count (the `inflight` field of its HASH; absent: none).
  return Promise.all(ids.map(async (id) => Number((await hgetall(topo.redis.port, `rotor:{${pool}}:key:${id}`)).inflight ?? 0)));
};
const states = async (pool: string) => Object.values(await hgetall(topo.redis.port, `rotor:{${pool}}:states`));

it('SIGKILL mid-request and mid-stream: others unaffected, in-flight counts drain after the lease TTL, no key stuck', async () => {
  const [victim, ...survivors] = topo.proxies;
  const loads = survivors.map((p) => steadyLoad(`${p.url}/others`, 3));
  const streams = Array.from({ length: 3 }, () => startRequest(`${victim!.url}/streams/chat/completions`, true));
  const waits = Array.from({ length: 3 }, () => startRequest(`${victim!.url}/waits/chat/completions`, false));
  await waitUntil(async () => (await inflight('streams')).reduce((a, b) => a + b, 0) === 3 && slow.requests.length === 3, 5000, 'requests under way');
  await new Promise((r) => setTimeout(r, 400)); // the streams are a few chunks in

  const abortedBefore = topo.sim.aborted.length;
  const killedAt = Date.now();
  victim!.child.kill('SIGKILL');
  const clientSide = await Promise.all([...streams, ...waits].map((r) => r.ended));
  const leaked = { streams: await inflight('streams'), waits: await inflight('waits') };
  await new Promise((r) => setTimeout(r, 1000));
  const providerSawClose = topo.sim.aborted.length - abortedBefore;

  // After the TTL, any acquire on the pool drains expired leases (a bounded batch per call).
  await new Promise((r) => setTimeout(r, Math.max(0, killedAt + LEASE_TTL_MS + 200 - Date.now())));
  const after = await Promise.all(
    ['streams', 'streams', 'streams', 'waits', 'waits', 'waits'].map((pool) =>
      fetch(`${survivors[0]!.url}/${pool}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'after' }] }),
      }).then(async (r) => ({ status: r.status, key: r.headers.get('x-rotor-key-id'), body: await r.text() })),
    ),
  );
  const drained = { streams: await inflight('streams'), waits: await inflight('waits') };
  const samples = (await Promise.all(loads.map((l) => l.stop()))).flat();
  const duringAndAfter = samples.filter((s) => s.start >= killedAt);

  figures('replica SIGKILL', {
    victimClients: clientSide,
    providerSawStreamSocketsClose: providerSawClose,
    inflightRightAfterKill: leaked,
    inflightAfterLeaseTtl: drained,
    otherReplicas: { requestsFromKill: duringAndAfter.length, statuses: statuses(duringAndAfter) },
    afterTtl: after.map((a) => `${a.status} ${a.key}`),
  });

  expect(clientSide.every((c) => c !== 'complete')).toBe(true); // the victim's own clients were cut
  expect(successRate(duringAndAfter)).toBe(1);
  expect(duringAndAfter.length).toBeGreaterThan(50);
  expect(leaked.streams.reduce((a, b) => a + b, 0)).toBe(3); // the dead replica's leases are still counted...
  expect(leaked.waits.reduce((a, b) => a + b, 0)).toBe(3);
  expect(drained).toEqual({ streams: [0, 0, 0], waits: [0, 0, 0] }); // ...until their TTL
  expect(after.every((a) => a.status === 200)).toBe(true);
  expect(new Set(after.slice(0, 3).map((a) => a.key)).size).toBe(3); // every key of the pool in rotation
  expect(new Set(after.slice(3).map((a) => a.key)).size).toBe(3);
  expect([...(await states('streams')), ...(await states('waits'))].every((s) => s === 'active')).toBe(true);
  expect(providerSawClose).toBeGreaterThanOrEqual(3);
}, 60_000);
