import {
  CLIENT_TOKEN,
  COMPLETION,
  OK_HEADERS,
  figures,
  httpText,
  metricValue,
  metricsText,
  rawRequest,
  rssBytes,
  startTopology,
  startUpstream,
  trickle,
  MB,
  type TestUpstream,
  type Topology,
} from '../src';

/**
 * Cases 11, 12, 14, 15: a hostile client against one `rotor proxy` process, every byte sent raw.
 * The "provider" is a capture server (it records exactly what reached it); a canary listener on
 * another loopback port must never see a connection.
 */
const MAX_BODY = 1024 * 1024;
const CLIENT_HEADERS_MS = 2000;
const CLIENT_REQUEST_MS = 4000;
let canary: TestUpstream;
let capture: TestUpstream;
let topo: Topology;
let port: number;
let canaryHost: string;

beforeAll(async () => {
  canary = await startUpstream((_req, res) => void res.writeHead(200).end('canary'));
  canaryHost = `127.0.0.1:${canary.port}`;
  capture = await startUpstream((_req, res, seen) => {
    if (seen.url.includes('/redirect302')) return void res.writeHead(302, { location: `${canary.url}/stolen` }).end();
    if (seen.url.includes('/redirect307')) return void res.writeHead(307, { location: `http://${canaryHost}/v1/chat/completions` }).end();
    res.writeHead(200, OK_HEADERS).end(COMPLETION);
  });
  topo = await startTopology({
    replicas: 1,
    windowMs: 60_000,
    config: {
      maxBodyBytes: MAX_BODY,
      timeouts: { clientHeadersMs: CLIENT_HEADERS_MS, clientRequestMs: CLIENT_REQUEST_MS },
      log: { level: 'warn' },
    },
    pools: {
      ssrf: { keys: 2, baseUrl: `${capture.url}/v1` },
      hopenai: { keys: 1, baseUrl: `${capture.url}/v1` },
      hanthropic: { keys: 1, provider: 'anthropic', baseUrl: capture.url },
      hgemini: { keys: 1, provider: 'gemini', baseUrl: `${capture.url}/v1beta` },
      hazure: { keys: 1, provider: 'azure-openai', baseUrl: `${capture.url}/openai/deployments/d` },
    },
  });
  port = topo.proxies[0]!.port;
}, 60_000);

afterAll(async () => {
  await topo?.stop();
  await capture?.close();
  await canary?.close();
});

const auth = { Authorization: `Bearer ${CLIENT_TOKEN}` };
const json = { 'Content-Type': 'application/json' };
const chatBody = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

describe('11. the client cannot choose the upstream', () => {
  it('absolute URLs, Host, body fields, custom headers, path tricks, CONNECT and provider redirects: 0 connections reach the canary', async () => {
    const attacks: [string, string][] = [
      ['absolute-form request line', httpText('GET', `http://${canaryHost}/ssrf/models`, { ...auth, Host: canaryHost })],
      ['absolute-form, no route', httpText('GET', `http://${canaryHost}/v1/models`, auth)],
      ['spoofed Host', httpText('GET', '/ssrf/models', { ...auth, Host: canaryHost })],
      ['api_base / base_url in the body', httpText('POST', '/ssrf/chat/completions', { ...auth, ...json }, JSON.stringify({ model: 'gpt-4o-mini', api_base: canary.url, base_url: `${canary.url}/v1`, baseURL: canary.url, messages: [] }))],
      ['custom host headers', httpText('GET', '/ssrf/models', { ...auth, 'X-Forwarded-Host': canaryHost, Forwarded: `host=${canaryHost}`, 'X-Original-URL': `${canary.url}/x`, 'X-Rewrite-URL': `${canary.url}/x`, 'X-Target-URL': canary.url, 'X-Upstream': canaryHost, 'X-Rotor-Upstream': canary.url, 'X-Host': canaryHost })],
      ['//host in the path', httpText('GET', `/ssrf//${canaryHost}/models`, auth)],
      ['@host in the path', httpText('GET', `/ssrf@${canaryHost}/models`, auth)],
      ['/@host in the path', httpText('GET', `/ssrf/@${canaryHost}/models`, auth)],
      ['encoded //', httpText('GET', `/ssrf/%2F%2F${canaryHost}/models`, auth)],
      ['encoded @', httpText('GET', `/ssrf%40${canaryHost}/models`, auth)],
      ['dot segments', httpText('GET', `/ssrf/../../${canaryHost}/models`, auth)],
      ['encoded dot segments', httpText('GET', `/ssrf/..%2F..%2F..%2F${canaryHost}`, auth)],
      ['backslashes', httpText('GET', `/ssrf\\\\${canaryHost}\\models`, auth)],
      ['fragment', httpText('GET', `/ssrf/models#@${canaryHost}`, auth)],
      ['full URL in the path', httpText('GET', `/ssrf/http://${canaryHost}/models`, auth)],
      ['URL in the query', httpText('GET', `/ssrf/models?url=http://${canaryHost}/&base_url=http://${canaryHost}`, auth)],
      ['CONNECT tunnel', `CONNECT ${canaryHost} HTTP/1.1\r\nHost: ${canaryHost}\r\n${`Authorization: Bearer ${CLIENT_TOKEN}`}\r\n\r\n`],
      ['provider answers 302 to the canary', httpText('POST', '/ssrf/redirect302', { ...auth, ...json }, chatBody)],
      ['provider answers 307 to the canary', httpText('POST', '/ssrf/redirect307', { ...auth, ...json }, chatBody)],
    ];
    const answers: Record<string, number> = {};
    for (const [name, request] of attacks) answers[name] = (await rawRequest(port, request)).status;
    // A client (fetch, like the SDKs) that would follow a redirect it were given.
    const followed = await fetch(`${topo.url}/ssrf/redirect302`, { method: 'POST', headers: { ...auth, ...json }, body: chatBody, redirect: 'follow' });
    const followedBody = await followed.text();
    const upstreamPaths = capture.requests.map((r) => r.url);
    figures('SSRF attempts', { attempts: attacks.length + 1, answers, followedRedirect: followed.status, canaryConnections: canary.connections });

    expect(canary.connections).toBe(0);
    // The redirect is returned as the provider's answer, never followed, and without its Location.
    expect(followed.status).toBe(302);
    expect(followed.headers.get('location')).toBeNull();
    expect(followed.headers.get('x-rotor-redirect')).toBe('not-followed');
    expect(followedBody).not.toContain(canary.url);
    expect(answers['provider answers 302 to the canary']).toBe(302);
    expect(answers['provider answers 307 to the canary']).toBe(307);
    expect(answers['absolute-form, no route']).toBe(404);
    expect(answers['CONNECT tunnel']).not.toBe(200);
    // What did reach the provider stayed under its base path, on its host.
    for (const r of capture.requests) expect(r.headers.host).toBe(`127.0.0.1:${capture.port}`);
    expect(upstreamPaths.every((p) => p.startsWith('/v1/') || p.startsWith('/openai/') || p.startsWith('/v1beta/'))).toBe(true);
  });
});

describe('12. header hygiene', () => {
  const hostile = {
    Authorization: `Bearer ${CLIENT_TOKEN}`,
    'X-Api-Key': CLIENT_TOKEN,
    'X-Goog-Api-Key': 'client-goog-credential',
    'Api-Key': 'client-azure-credential',
    Cookie: 'session=client-cookie-value',
    'Proxy-Authorization': 'Basic Y2xpZW50OnNlY3JldA==',
    'X-Hop-Secret': 'named-in-connection',
    'X-Another-Hop': 'also-named',
    'Keep-Alive': 'timeout=5',
    TE: 'trailers',
    Trailer: 'X-Checksum',
    'Proxy-Connection': 'keep-alive',
    Upgrade: 'h2c',
    'X-Forwarded-For': '6.6.6.6',
    'X-Real-IP': '6.6.6.6',
    'X-Client-Request-Id': 'kept-123',
    ...json,
  };
  const request = (path: string, extra: Record<string, string> = {}) =>
    [`POST ${path} HTTP/1.1`, 'Host: rotor.test', 'Connection: close, X-Hop-Secret,x-another-hop', ...Object.entries({ ...hostile, ...extra }).map(([k, v]) => `${k}: ${v}`), `Content-Length: ${Buffer.byteLength(chatBody)}`, '', chatBody].join('\r\n');

  it.each([
    ['openai', '/hopenai/chat/completions', 'authorization', (s: string) => `Bearer ${s}`],
    ['anthropic', '/hanthropic/v1/messages', 'x-api-key', (s: string) => s],
    ['gemini', '/hgemini/models/gemini-2.0-flash:generateContent', 'x-goog-api-key', (s: string) => s],
    ['azure-openai', '/hazure/chat/completions?api-version=2024-10-21', 'api-key', (s: string) => s],
  ])('%s: upstream gets exactly the pool key, none of the client credentials, cookies or hop-by-hop headers', async (name, path, credential, format) => {
    const before = capture.requests.length;
    const answer = await rawRequest(port, request(path, name === 'anthropic' ? { 'anthropic-version': '2023-06-01' } : {}));
    expect(answer.status).toBe(200);
    expect(capture.requests.length).toBe(before + 1);
    const seen = capture.requests[before]!;
    const pool = path.split('/')[1]!;
    const secret = topo.secrets[pool]![0]!;
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
    const credentials = names.filter((h) => ['authorization', 'x-api-key', 'x-goog-api-key', 'api-key', 'proxy-authorization'].includes(h));
    const forbidden = ['cookie', 'x-hop-secret', 'x-another-hop', 'keep-alive', 'te', 'trailer', 'proxy-connection', 'upgrade', 'x-forwarded-for', 'x-real-ip', 'proxy-authorization'];
    figures(`header hygiene (${name})`, { upstreamHeaders: names });
    expect(credentials).toEqual([credential]);
    expect(seen.headers[credential]).toBe(format(secret));
    for (const h of forbidden) expect(names).not.toContain(h);
    expect(String(seen.headers.connection ?? '')).not.toMatch(/hop/i);
    expect(seen.rawHeaders.join('\n')).not.toContain(CLIENT_TOKEN);
    expect(seen.rawHeaders.join('\n')).not.toMatch(/client-(goog|azure)-credential|client-cookie-value/);
    expect(seen.headers['x-client-request-id']).toBe('kept-123');
  });
});

describe('14. size and shape limits', () => {
  it('oversized body (with and without Content-Length), oversized headers, slowloris: refused before any upstream call; the process stays healthy', async () => {
    const pid = topo.proxies[0]!.child.pid!;
    const rssBefore = rssBytes(pid);
    const callsBefore = capture.requests.length;
    const big = 'x'.repeat(MAX_BODY + 1);
    const oversized = await rawRequest(port, httpText('POST', '/hopenai/chat/completions', { ...auth, ...json }, big));
    const chunked = await rawRequest(
      port,
      `POST /hopenai/chat/completions HTTP/1.1\r\nHost: rotor.test\r\nConnection: close\r\nAuthorization: Bearer ${CLIENT_TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${(MAX_BODY + 1).toString(16)}\r\n${big}\r\n0\r\n\r\n`,
    );
    const hugeHeader = await rawRequest(port, httpText('GET', '/hopenai/models', { ...auth, 'X-Padding': 'p'.repeat(20 * 1024) }));
    const manyHeaders = await rawRequest(port, httpText('GET', '/hopenai/models', { ...auth, ...Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`X-H${i}`, 'v'.repeat(20)])) }));

    // Slowloris: 40 connections sending their headers a byte every 200 ms, 2 sending a body that slowly.
    const headerTrickles = Array.from({ length: 40 }, () => trickle(port, httpText('GET', '/hopenai/models', auth), 200, CLIENT_HEADERS_MS + 5000));
    const bodyTrickles = Array.from({ length: 2 }, () =>
      trickle(port, `POST /hopenai/chat/completions HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer ${CLIENT_TOKEN}\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(2000)}`, 1, CLIENT_REQUEST_MS + 5000),
    );
    // Meanwhile real clients are served at once.
    await new Promise((r) => setTimeout(r, 500));
    const during: number[] = [];
    for (let i = 0; i < 10; i++) {
      const started = Date.now();
      const res = await fetch(`${topo.url}/hopenai/chat/completions`, { method: 'POST', headers: { ...auth, ...json }, body: chatBody });
      await res.text();
      if (res.status === 200) during.push(Date.now() - started);
    }
    const headerClosed = await Promise.all(headerTrickles);
    const bodyClosed = await Promise.all(bodyTrickles);
    const healthy = await fetch(`${topo.url}/healthz`);
    const servedAfter = await fetch(`${topo.url}/hopenai/chat/completions`, { method: 'POST', headers: { ...auth, ...json }, body: chatBody });
    const upstreamCalls = capture.requests.length - callsBefore;
    const figuresOut = {
      bodyOverLimit: oversized.status,
      chunkedOverLimit: chunked.status,
      headers20KB: hugeHeader.status,
      thousandHeaders: manyHeaders.status,
      slowHeadersClosedAfterMs: { max: Math.max(...headerClosed.map((c) => c.closedAfterMs)), answer: headerClosed[0]!.answer },
      slowBodyClosedAfterMs: { max: Math.max(...bodyClosed.map((c) => c.closedAfterMs)), answer: bodyClosed[0]!.answer },
      realClientsDuringMs: { served: during.length, max: Math.max(...during) },
      upstreamCallsFromTheAbuse: upstreamCalls - during.length - 1,
      rssGrowthMB: Number(((rssBytes(pid) - rssBefore) / MB).toFixed(1)),
      healthz: healthy.status,
    };
    figures('size and shape limits', figuresOut);
    expect(oversized.status).toBe(413);
    expect(chunked.status).toBe(413);
    expect(hugeHeader.status).toBe(431);
    expect([200, 431]).toContain(manyHeaders.status); // Node keeps the first 2000 header lines; within 16 KB it is a request
    expect(figuresOut.slowHeadersClosedAfterMs.max).toBeLessThanOrEqual(CLIENT_HEADERS_MS + 1500);
    expect(figuresOut.slowBodyClosedAfterMs.max).toBeLessThanOrEqual(CLIENT_REQUEST_MS + 1500);
    expect(during).toHaveLength(10);
    expect(Math.max(...during)).toBeLessThan(500);
    expect(figuresOut.upstreamCallsFromTheAbuse).toBe(manyHeaders.status === 200 ? 1 : 0);
    expect(healthy.status).toBe(200);
    expect(servedAfter.status).toBe(200);
  }, 30_000);
});

describe('15. client tokens', () => {
  it('failed attempts are counted in rotor_client_auth_failures_total; none reaches upstream', async () => {
    const metricsBefore = metricValue(await metricsText(topo.url), 'rotor_client_auth_failures_total');
    const callsBefore = capture.requests.length;
    const wrong: Record<string, string>[] = [
      {},
      { Authorization: 'Bearer ' },
      { Authorization: `Bearer ${CLIENT_TOKEN.slice(0, -1)}` },
      { Authorization: `Bearer ${CLIENT_TOKEN}x` },
      { Authorization: `Basic ${Buffer.from(`u:${CLIENT_TOKEN}`).toString('base64')}` },
      { 'X-Api-Key': 'nope' },
      { Authorization: `bearer ${CLIENT_TOKEN.toUpperCase()}` },
    ];
    const statuses: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (const headers of wrong) statuses.push((await fetch(`${topo.url}/hopenai/models`, { headers })).status);
    }
    const counted = metricValue(await metricsText(topo.url), 'rotor_client_auth_failures_total') - metricsBefore;
    figures('client auth failures', { attempts: statuses.length, answered401: statuses.filter((s) => s === 401).length, counted, upstreamCalls: capture.requests.length - callsBefore });
    expect(statuses.every((s) => s === 401)).toBe(true);
    expect(counted).toBe(statuses.length);
    expect(capture.requests.length).toBe(callsBefore);
  });
});
