import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import {
  CLIENT_TOKEN,
  COMPLETION,
  OK_HEADERS,
  figures,
  hgetall,
  httpText,
  metricValue,
  metricsText,
  rawRequest,
  sseChunk,
  startTopology,
  startUpstream,
  startWorkerProcess,
  waitUntil,
  type TestUpstream,
  type Topology,
  type WorkerProcess,
} from '../src';

/**
 * The hostile-clients issue, black-box: one `rotor proxy` process and one `rotor worker` process on a
 * private Redis, the simulated provider (which answers permission errors as the real APIs do) and a
 * capture server that records what reaches it and answers with what a client must never see.
 */
const OTHER_CLIENT = 'e2e-second-client-token';
const KEYS_OUT_PER_MINUTE = 2;
let topo: Topology;
let worker: WorkerProcess;
let capture: TestUpstream;
let port: number;

beforeAll(async () => {
  capture = await startUpstream(async (req, res, seen) => {
    // Scope-less endpoint on a valid key: an undocumented 401 body (a suspect the probe must refute).
    if (seen.url.startsWith('/v1/restricted')) {
      return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"Unauthorized"}');
    }
    const key = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (seen.url.startsWith('/v1/r302echo')) {
      return void res.writeHead(302, { location: 'https://elsewhere.test/', 'x-echo': key }).end(`redirecting with key ${key}`);
    }
    // A provider that echoes the key it was sent, in a 2xx header, a JSON body and an event stream,
    // and sets a cookie and a proxy challenge.
    const headers = { ...OK_HEADERS, 'x-echo-key': `used ${key}`, 'set-cookie': 'upstream_session=abc; Path=/', 'proxy-authenticate': 'Basic realm="upstream"' };
    if (seen.url.startsWith('/v1/stream')) {
      res.writeHead(200, { ...headers, 'content-type': 'text/event-stream' });
      // The key cut across two TCP writes (two chunks at Rotor): the scrubber must see it whole.
      const event = sseChunk(`the key is ${key} indeed`);
      const cut = event.indexOf(key) + 7;
      res.write(event.slice(0, cut));
      await new Promise((r) => setTimeout(r, 30));
      res.write(event.slice(cut));
      return void res.end('data: [DONE]\n\n');
    }
    if (seen.url.startsWith('/v1/echo')) return void res.writeHead(200, headers).end(JSON.stringify({ echoed: key }));
    res.writeHead(200, headers).end(COMPLETION);
  });
  topo = await startTopology({
    replicas: 1,
    windowMs: 60_000,
    providerRpm: 1000,
    sim: { forbiddenModels: ['o3-restricted', 'claude-restricted'] },
    config: {
      clientTokens: [CLIENT_TOKEN, OTHER_CLIENT],
      clientLimits: { keysOutPerMinute: KEYS_OUT_PER_MINUTE },
      worker: { probe: { suspendedAfterMs: 60_000, invalidAfterMs: 600_000 } },
      log: { level: 'info' },
    },
    pools: {
      bare: { keys: 2 },
      banth: { keys: 2, provider: 'anthropic' },
      perm: { keys: 1 },
      panth: { keys: 1, provider: 'anthropic' },
      revoked: { keys: 2 },
      restricted: { keys: 1, baseUrl: `${capture.url}/v1` },
      many: { keys: 6 },
      tokdos: { keys: 2 },
      toolarge: { keys: 1 },
      org: { keys: 1, headers: { 'OpenAI-Organization': 'org-configured' } },
      orgshown: { keys: 1, exposeAccountHeaders: true },
      capture: { keys: 1, baseUrl: `${capture.url}/v1` },
    },
  }).catch(async (error: unknown) => {
    await capture.close();
    throw error;
  });
  port = topo.proxies[0]!.port;
  for (const secret of [...topo.secrets.tokdos!, ...topo.secrets.toolarge!]) topo.sim.setLimits(secret, { rpm: 1000, tpm: 20_000 });
  worker = await startWorkerProcess(topo.configFile);
}, 90_000);

afterAll(async () => {
  await worker?.stop();
  await topo?.stop();
  await capture?.close();
});

const auth = { Authorization: `Bearer ${CLIENT_TOKEN}` };
const json = { 'Content-Type': 'application/json' };
const chatBody = (model = 'gpt-4o-mini') => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });
const states = async (pool: string) => Object.values(await hgetall(topo.redis.port, `rotor:{${pool}}:states`));
const upstreamCalls = () => topo.sim.requestLog.length;

describe('a request that never reached the provider acts on no key', () => {
  it('the bare route prefix, in every form, 100 times: every key stays active', async () => {
    const forms = [
      httpText('GET', '/bare', auth),
      httpText('GET', '/bare?x=1', auth),
      httpText('POST', '/bare?x=1', { ...auth, ...json }, chatBody()),
      httpText('POST', '/bare', { ...auth, ...json }, chatBody()),
      httpText('GET', '/banth?x=1', { ...auth, 'anthropic-version': '2023-06-01' }),
    ];
    const answers = new Map<number, number>();
    for (let i = 0; i < 100; i++) {
      const { status } = await rawRequest(port, forms[i % forms.length]!);
      answers.set(status, (answers.get(status) ?? 0) + 1);
    }
    figures('bare prefix x100', { answers: Object.fromEntries(answers) });
    expect(answers.has(503)).toBe(false);
    expect(await states('bare')).toEqual(['active', 'active']);
    expect(await states('banth')).toEqual(['active', 'active']);
  });
});

describe('paths are normalised before routing', () => {
  it.each([
    ['POST', '/bare/../../x'],
    ['POST', '/bare/%2e%2e/%2e%2e/x'],
    ['POST', '/bare/..%2f..%2fx'],
    ['POST', '/bare/chat/..%5c..%5c..%5cx'],
    ['GET', '/banth/../bare/models'],
    ['GET', '/bare/./../models'],
    ['GET', '/bare/..;/..;/x'],
    ['GET', '/bare/%252e%252e/%252e%252e/x'],
    ['GET', '/bare/%c0%ae%c0%ae/%c0%ae%c0%ae/x'],
    ['GET', '/bare/..%00/..%00/x'],
  ])('%s %s is refused with 400 and the provider receives nothing', async (method, target) => {
    const before = upstreamCalls();
    const answer = await rawRequest(port, httpText(method, target, { ...auth, ...json }, method === 'POST' ? chatBody() : ''));
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('leaves the route');
    expect(upstreamCalls()).toBe(before);
  });

  it('dot segments that stay inside the route are resolved before the request goes out', async () => {
    const before = upstreamCalls();
    const answer = await rawRequest(port, httpText('GET', '/bare/chat/../models', auth));
    expect(answer.status).toBe(200);
    expect(topo.sim.requestLog.slice(before).map((r) => r.path)).toEqual(['/v1/models']);
  });
});

describe('401/403 take a key out only when they say the credential is bad', () => {
  it('a 403 permission error (OpenAI SDK, Anthropic SDK) reaches the client and leaves the key in rotation', async () => {
    const openai = new OpenAI({ apiKey: CLIENT_TOKEN, baseURL: `${topo.url}/perm`, maxRetries: 0 });
    for (let i = 0; i < 5; i++) {
      const call = openai.chat.completions.create({ model: 'o3-restricted', messages: [{ role: 'user', content: 'hi' }] });
      await expect(call).rejects.toMatchObject({ status: 403, error: { message: 'You are not allowed to sample from this model' } });
    }
    const anthropic = new Anthropic({ apiKey: CLIENT_TOKEN, baseURL: `${topo.url}/panth`, maxRetries: 0 });
    for (let i = 0; i < 5; i++) {
      const call = anthropic.messages.create({ model: 'claude-restricted', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      await expect(call).rejects.toMatchObject({ status: 403, error: { error: { type: 'permission_error' } } });
    }
    expect(await states('perm')).toEqual(['active']);
    expect(await states('panth')).toEqual(['active']);
    // The keys still serve.
    const ok = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(ok.choices[0]?.message.content).toBeTruthy();
  });

  it('a 401 on an admin endpoint ("missing scopes") reaches the client and leaves the key in rotation', async () => {
    for (let i = 0; i < 5; i++) {
      const answer = await rawRequest(port, httpText('GET', '/perm/organization/users', auth));
      expect(answer.status).toBe(401);
      expect(answer.body).toContain('Missing scopes');
    }
    expect(await states('perm')).toEqual(['active']);
  });

  it('a really invalid key is parked as a suspect, confirmed by the worker\'s free probe and disabled', async () => {
    const [bad, good] = topo.secrets.revoked!;
    topo.sim.setMode(bad!, 'invalid');
    const openai = new OpenAI({ apiKey: CLIENT_TOKEN, baseURL: `${topo.url}/revoked`, maxRetries: 0 });
    for (let i = 0; i < 4; i++) await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const probes = () => topo.sim.requestLog.filter((r) => r.secret === bad && r.headers['user-agent'] === 'rotor-worker');
    const took = await waitUntil(async () => (await states('revoked')).includes('disabled'), 15_000, 'the worker to confirm the suspect');
    const detail = Object.entries(await hgetall(topo.redis.port, 'rotor:{revoked}:states'));
    figures('suspect confirmed', { afterMs: took, states: detail.map(([, s]) => s), probes: probes().length });
    expect(probes().length).toBeGreaterThanOrEqual(1);
    expect(probes()[0]).toMatchObject({ method: 'GET', path: '/v1/models' });
    expect(detail.map(([, s]) => s).sort()).toEqual(['active', 'disabled']);
    expect(topo.sim.stats(good!).ok).toBe(4);
  });

  it('a suspect the probe finds valid comes back, and the log names the path that got it parked', async () => {
    const before = (await states('restricted'))[0];
    expect(before).toBe('active');
    const answer = await rawRequest(port, httpText('GET', '/restricted/restricted/thing', auth));
    expect(answer.status).toBe(503); // the pool's only key was refused: Rotor's own answer, no key material
    await waitUntil(async () => (await states('restricted'))[0] === 'active' && worker.output().includes('refuted'), 15_000, 'the probe to refute');
    expect(topo.logs()).toContain('GET /restricted/restricted/thing');
    expect(worker.output()).toContain('probe refuted the suspicion');
  });
});

describe('one client cannot cool a pool with one large request', () => {
  const ask = (pool: string, maxTokens: number) =>
    rawRequest(port, httpText('POST', `/${pool}/chat/completions`, { ...auth, ...json }, JSON.stringify({ model: 'gpt-4o-mini', max_tokens: maxTokens, messages: [{ role: 'user', content: 'hi' }] })));

  it('a request too large for what every key has left is refused by Rotor, and no key cools for it', async () => {
    for (let i = 0; i < 2; i++) expect((await ask('tokdos', 5)).status).toBe(200); // both keys learn 20,000
    const before = upstreamCalls();
    const big = await ask('tokdos', 19_995);
    expect(big.status).toBe(429);
    expect(upstreamCalls()).toBe(before);
    expect(await states('tokdos')).toEqual(['active', 'active']);
    expect((await ask('tokdos', 5)).status).toBe(200);
  });

  it('the provider\'s "Request too large" 429 goes to the client and cools no key', async () => {
    expect((await ask('toolarge', 5)).status).toBe(200);
    const huge = await ask('toolarge', 50_000); // over the whole limit: Rotor leaves it to the provider
    expect(huge.status).toBe(429);
    expect(huge.body).toContain('Request too large');
    expect(await states('toolarge')).toEqual(['active']);
    expect((await ask('toolarge', 5)).status).toBe(200);
  });
});

describe('one client cannot empty a pool', () => {
  it(`one client token takes at most ${KEYS_OUT_PER_MINUTE} keys out per minute; another client is not held back`, async () => {
    for (const secret of topo.secrets.many!) topo.sim.setMode(secret, 'invalid');
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      statuses.push((await rawRequest(port, httpText('POST', '/many/chat/completions', { ...auth, ...json }, chatBody()))).status);
    }
    const out = async () => (await states('many')).filter((s) => s !== 'active').length;
    const byMallory = await out();
    const refused = metricValue(await metricsText(topo.url), 'rotor_keys_out_refused_total', { pool: 'many' });
    await rawRequest(port, httpText('POST', '/many/chat/completions', { Authorization: `Bearer ${OTHER_CLIENT}`, ...json }, chatBody()));
    const afterOther = await out();
    figures('keys out per client', { statuses, byFirstClient: byMallory, refusedReports: refused, afterSecondClient: afterOther });
    expect(byMallory).toBe(KEYS_OUT_PER_MINUTE);
    expect(refused).toBeGreaterThan(0);
    expect(afterOther).toBeGreaterThan(byMallory);
    expect(afterOther).toBeLessThanOrEqual(2 * KEYS_OUT_PER_MINUTE);
    expect(topo.logs()).toMatch(/"client":"c_[0-9a-f]{12}".*keysOutPerMinute/);
    expect(topo.logs()).not.toContain(CLIENT_TOKEN);
  });
});

describe('headers that belong to the key owner or to the network', () => {
  const claims = {
    'OpenAI-Organization': 'org-chosen-by-client',
    'OpenAI-Project': 'proj-chosen-by-client',
    'X-Goog-User-Project': 'billing-chosen-by-client',
    'X-Forwarded-Port': '6666',
    'X-Forwarded-Prefix': '/admin',
    'X-Forwarded-Server': 'evil',
    'X-Host': 'evil.test',
    'X-Original-URL': '/admin',
    'X-Rewrite-URL': '/admin',
    Forwarded: 'for=6.6.6.6;host=evil.test',
    'True-Client-IP': '6.6.6.6',
    Via: '1.1 evil',
    'X-HTTP-Method-Override': 'DELETE',
    'X-Envoy-Original-Path': '/admin',
    Range: 'bytes=0-9',
  };

  it('client organization / project and routing claims never reach the provider; a configured organization does', async () => {
    const before = topo.sim.requestLog.length;
    expect((await rawRequest(port, httpText('POST', '/org/chat/completions', { ...auth, ...json, ...claims }, chatBody()))).status).toBe(200);
    expect((await rawRequest(port, httpText('POST', '/bare/chat/completions', { ...auth, ...json, ...claims }, chatBody()))).status).toBe(200);
    const [withOrg, without] = topo.sim.requestLog.slice(before).map((r) => r.headers);
    expect(withOrg!['openai-organization']).toBe('org-configured');
    expect(without!['openai-organization']).toBeUndefined();
    for (const seen of [withOrg!, without!]) {
      for (const name of Object.keys(claims)) if (name !== 'OpenAI-Organization') expect(seen[name.toLowerCase()]).toBeUndefined();
      expect(JSON.stringify(seen)).not.toMatch(/chosen-by-client|evil|6666|\/admin|DELETE|bytes=/);
    }
  });

  it('Rotor asks for an uncompressed answer (it must read it), and drops credential / billing query parameters', async () => {
    const before = capture.requests.length;
    const answer = await rawRequest(port, httpText('POST', '/capture/echo?keep=1&key=client-key&userProject=billing-evil&access_token=t', { ...auth, ...json, 'Accept-Encoding': 'gzip, br' }, chatBody()));
    expect(answer.status).toBe(200);
    const seen = capture.requests[before]!;
    expect(seen.headers['accept-encoding']).toBe('identity');
    expect(seen.url).toBe('/v1/echo?keep=1');
  });
});

describe('the provider\'s account headers', () => {
  it('openai-organization / anthropic-organization-id of answers reach clients only where the pool exposes them', async () => {
    const hidden = await rawRequest(port, httpText('POST', '/bare/chat/completions', { ...auth, ...json }, chatBody()));
    const hiddenAnthropic = await rawRequest(port, httpText('POST', '/banth/v1/messages', { ...auth, ...json, 'anthropic-version': '2023-06-01' }, JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })));
    const shown = await rawRequest(port, httpText('POST', '/orgshown/chat/completions', { ...auth, ...json }, chatBody()));
    for (const answer of [hidden, hiddenAnthropic, shown]) expect(answer.status).toBe(200);
    expect(hidden.head.toLowerCase()).not.toContain('openai-organization');
    expect(hiddenAnthropic.head.toLowerCase()).not.toContain('anthropic-organization-id');
    expect(shown.head.toLowerCase()).toContain(`openai-organization: ${topo.sim.organization(topo.secrets.orgshown![0]!)!.id}`.toLowerCase());
  });
});

describe('what a provider sends that a client must not see', () => {
  it('Set-Cookie / Proxy-Authenticate, and the key echoed in a 2xx header, JSON body or event stream', async () => {
    const secret = topo.secrets.capture![0]!;
    const json200 = await rawRequest(port, httpText('POST', '/capture/echo', { ...auth, ...json }, chatBody()));
    const sse = await rawRequest(port, httpText('POST', '/capture/stream', { ...auth, ...json }, chatBody()));
    for (const answer of [json200, sse]) {
      expect(answer.status).toBe(200);
      const head = answer.head.toLowerCase();
      expect(head).not.toContain('set-cookie');
      expect(head).not.toContain('proxy-authenticate');
      expect(answer.head).toContain('x-echo-key: used [redacted]');
      expect(answer.head + answer.body).not.toContain(secret);
    }
    const jsonText = json200.body.slice(json200.body.indexOf('{'), json200.body.lastIndexOf('}') + 1); // chunked framing around it
    expect(JSON.parse(jsonText)).toEqual({ echoed: expect.stringMatching(/^\[redacted\]\*+$/) });
    expect(sse.body).toContain('[redacted]');
    expect(sse.body).toContain('data: [DONE]');
    // A redirect answer is scrubbed too (it is returned, never followed).
    const redirect = await rawRequest(port, httpText('GET', '/capture/r302echo', auth));
    expect(redirect.status).toBe(302);
    expect(redirect.head + redirect.body).not.toContain(secret);
    expect(redirect.head.toLowerCase()).not.toContain('location:');
    // The capture server did get the key: the scrubbing is Rotor's.
    expect(capture.requests.some((r) => r.headers.authorization === `Bearer ${secret}`)).toBe(true);
  });
});
