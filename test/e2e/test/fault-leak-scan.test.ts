import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '@rotor/testkit';
import {
  CLIENT_TOKEN,
  COMPLETION,
  OK_HEADERS,
  configVariant,
  figures,
  metricValue,
  metricsText,
  openaiClient,
  redisCli,
  runRotor,
  startProxyProcess,
  startTopology,
  startUpstream,
  startWorkerProcess,
  waitUntil,
  type TestUpstream,
  type Topology,
  type WorkerProcess,
} from '../src';

/**
 * Case 13: every error path driven (401 from upstream, quota, connection refused, timeouts, bad
 * config, provider error bodies and headers that quote the key in full, a 429 that does, a large error
 * body, probes of keys the provider refuses), then every output searched for every key secret:
 * the logs of 2 proxies and a worker (debug level), /metrics of each, the admin API, `rotor status`
 * and `rotor keys` output, every answer the clients got, BullMQ job data and every Redis key and value.
 */
const ADMIN_TOKEN = 'leak-scan-admin-token';
let echo: TestUpstream;
let topo: Topology;
let worker: WorkerProcess;
const seen: string[] = [];

beforeAll(async () => {
  // A provider that quotes the key it was given, in full, in its error body and a header.
  echo = await startUpstream((req, res, request) => {
    const key = String(req.headers.authorization ?? req.headers['x-api-key'] ?? '').replace(/^Bearer /, '');
    const status = Number(/\/e(\d{3})\b/.exec(request.url)?.[1] ?? 401);
    if (status === 200) return void res.writeHead(200, OK_HEADERS).end(COMPLETION);
    const message = `Incorrect API key provided: ${key}. You can find your API key at https://example.invalid.`;
    const padding = request.url.includes('/big') ? 'p'.repeat(100 * 1024) : '';
    res.writeHead(status, { 'content-type': 'application/json', 'x-debug-key': key, ...(status === 429 ? { 'retry-after': '30' } : {}) });
    res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', code: status === 401 ? 'invalid_api_key' : 'echo', key }, padding }));
  });
  const closedPort = await freePort();
  topo = await startTopology({
    replicas: 2,
    windowMs: 60_000,
    providerRpm: 1000,
    config: {
      adminToken: ADMIN_TOKEN,
      timeouts: { headersMs: 800 },
      log: { level: 'debug' },
      worker: { probe: { suspendedAfterMs: 1500, quotaAfterMs: 1500, invalidAfterMs: 1500 }, reconcileEveryMs: 2000 },
    },
    pools: {
      ok: { keys: 2 },
      revoked: { keys: 1 },
      quota: { keys: 1 },
      hang: { keys: 1 },
      refused: { keys: 1, baseUrl: `http://127.0.0.1:${closedPort}/v1` },
      echo: { keys: 3, baseUrl: `${echo.url}/v1` },
      echo429: { keys: 2, baseUrl: `${echo.url}/v1` },
      echo401: { keys: 2, baseUrl: `${echo.url}/v1` },
      claudeecho: { keys: 2, provider: 'anthropic', baseUrl: echo.url },
    },
  });
  topo.sim.setMode(topo.secrets.revoked![0]!, 'invalid');
  topo.sim.setMode(topo.secrets.quota![0]!, 'quota');
  topo.sim.setMode(topo.secrets.hang![0]!, 'hang');
  worker = await startWorkerProcess(topo.configFile);
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await topo?.stop();
  await echo?.close();
});

async function call(url: string, init: RequestInit = {}): Promise<number> {
  const res = await fetch(url, init);
  const body = await res.text();
  seen.push(`${res.status} ${JSON.stringify([...res.headers])}\n${body}`);
  return res.status;
}

const post = (url: string, extra: Record<string, string> = {}) =>
  call(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json', ...extra },
    body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 8, messages: [{ role: 'user', content: 'leak?' }] }),
  });

/** Every key name and every value of every type, in the whole Redis. */
async function dumpRedis(port: number): Promise<string> {
  const names = await redisCli(port, '--scan');
  const parts: string[] = [];
  for (const name of names) {
    const [type] = await redisCli(port, 'TYPE', name);
    const read: Record<string, string[]> = {
      string: ['GET', name],
      hash: ['HGETALL', name],
      zset: ['ZRANGE', name, '0', '-1', 'WITHSCORES'],
      list: ['LRANGE', name, '0', '-1'],
      set: ['SMEMBERS', name],
      stream: ['XRANGE', name, '-', '+'],
    };
    parts.push(name, ...(read[type!] ? await redisCli(port, ...read[type!]!) : []));
  }
  return parts.join('\n');
}

it('drives every error path, then finds 0 key secrets in logs, metrics, admin API, CLI, answers, job data and Redis', async () => {
  const p0 = topo.proxies[0]!.url;
  const p1 = topo.proxies[1]!.url;
  // Successes, streamed and not.
  await post(`${p0}/ok/chat/completions`);
  const stream = await openaiClient(`${p1}/ok`).chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  for await (const chunk of stream) seen.push(JSON.stringify(chunk));
  // 401 from upstream (the provider quotes part of the key), quota, a hang, a refused connection.
  const statuses: Record<string, number> = {
    revoked: await post(`${p0}/revoked/chat/completions`),
    revokedAgain: await post(`${p1}/revoked/chat/completions`),
    quota: await post(`${p0}/quota/chat/completions`),
    timeout: await post(`${p1}/hang/chat/completions`),
    refused: await post(`${p0}/refused/chat/completions`),
  };
  // Bodies and headers that quote the whole key: 400, 500, a 100 KB body, 429s, 401 / 403 (OpenAI and
  // Anthropic shapes). Key problems are retried on the pool's other keys, which quote theirs too.
  for (const [i, target] of ['echo/e400', 'echo/e500', 'echo/e400/big', 'echo429/e429', 'echo401/e401', 'echo401/e403'].entries()) {
    statuses[target] = await post(`${[p0, p1][i % 2]}/${target}/chat/completions`);
  }
  statuses['anthropic echo 400'] = await post(`${p0}/claudeecho/e400/v1/messages`, { 'anthropic-version': '2023-06-01', 'x-api-key': CLIENT_TOKEN });
  statuses['anthropic echo 401'] = await post(`${p1}/claudeecho/v1/messages`, { 'anthropic-version': '2023-06-01' });
  // Wrong client tokens.
  statuses['bad token'] = await call(`${p0}/ok/models`, { headers: { authorization: 'Bearer wrong' } });

  // Probes are queued (BullMQ job data in Redis now), then run by the worker against the refusing provider.
  const redisWithJobs = await dumpRedis(topo.redis.port);
  const jobsQueued = (redisWithJobs.match(/probe\.[a-z]+\.k_[0-9a-f]{12}/g) ?? []).length;
  await waitUntil(async () => metricValue(await metricsText(worker.url), 'rotor_probes_total') >= 3, 20_000, 'worker probes');

  // Operator surfaces: admin API and CLI.
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const okId = JSON.parse(await (await fetch(`${p0}/admin/pools/ok`, { headers: admin })).text()).keys[0].id as string;
  await call(`${p0}/admin/pools`, { headers: admin });
  await call(`${p0}/admin/pools/echo`, { headers: admin });
  await call(`${p1}/admin/pools/ok/keys/${okId}/disable`, { method: 'POST', headers: admin });
  await call(`${p1}/admin/pools/ok/keys/${okId}/enable`, { method: 'POST', headers: admin });
  await call(`${p0}/admin/pools`, { headers: { authorization: `Bearer ${CLIENT_TOKEN}` } });
  const env = { ROTOR_CONFIG: topo.configFile };
  const cli = [
    await runRotor(['status'], env),
    await runRotor(['status', '--json'], env),
    await runRotor(['keys', 'disable', 'ok', okId], env),
    await runRotor(['keys', 'enable', 'ok', okId, '--json'], env),
  ];
  // A bad config that holds keys: the process stops naming the field, quoting no key.
  const bad = configVariant(topo.configFile, 'bad', (c) => {
    c.pools.echo!.baseUrl = 'not a url';
    c.pools.revoked!.keys = [...(c.pools.revoked!.keys as string[]), 'bad key with spaces'];
  });
  const badProxy = await startProxyProcess(bad).then(
    () => 'started',
    (error: Error) => error.message,
  );
  const badWorker = await runRotor(['worker'], { ROTOR_CONFIG: bad });

  const metrics = [await metricsText(p0), await metricsText(p1), await metricsText(worker.url)];
  const redisAfter = await dumpRedis(topo.redis.port);
  const sources: Record<string, string> = {
    'proxy logs': topo.logs(),
    'worker logs': worker.output(),
    '/metrics (2 proxies, worker)': metrics.join('\n'),
    'client answers + admin API': seen.join('\n'),
    'CLI output': cli.map((c) => c.output).join('\n'),
    'bad config output': `${badProxy}\n${badWorker.output}`,
    'Redis (with queued probe jobs)': redisWithJobs,
    'Redis (after probes)': redisAfter,
  };
  const secrets = Object.values(topo.secrets).flat();
  // The full key, and its random middle part (any fragment of the key long enough to matter).
  const needles = secrets.flatMap((s) => [s, /s-[0-9a-f]{8}-\d+$/.exec(s)![0]]);
  const hits: Record<string, number> = {};
  for (const [name, text] of Object.entries(sources)) {
    hits[name] = needles.filter((n) => text.includes(n)).length;
  }
  figures('leak scan', {
    secrets: secrets.length,
    errorPaths: statuses,
    probeJobsQueued: jobsQueued,
    probesRun: metricValue(metrics[2]!, 'rotor_probes_total'),
    cliExitCodes: cli.map((c) => c.code),
    badConfigRefused: badProxy !== 'started' && badWorker.code !== 0,
    bytesScanned: Object.fromEntries(Object.entries(sources).map(([k, v]) => [k, v.length])),
    hits,
  });

  expect(statuses).toMatchObject({ revoked: 503, quota: 503, timeout: 504, 'echo/e400': 400, 'echo/e500': 500, 'echo/e400/big': 400 });
  expect([502, 503]).toContain(statuses.refused);
  expect(jobsQueued).toBeGreaterThan(0);
  expect(cli.map((c) => c.code)).toEqual([0, 0, 0, 0]);
  expect(badProxy).toContain('pools.echo.baseUrl');
  expect(badWorker.code).not.toBe(0);
  for (const [name, text] of Object.entries(sources)) expect(text.length).toBeGreaterThan(name.startsWith('bad') ? 50 : 500);
  expect(Object.values(hits)).toEqual(Object.values(sources).map(() => 0));
  // Keep the evidence where CI can find it.
  fs.writeFileSync(path.join(path.dirname(topo.configFile), 'leak-scan-sources.txt'), Object.entries(sources).map(([k, v]) => `### ${k}\n${v}`).join('\n\n'));
}, 90_000);
