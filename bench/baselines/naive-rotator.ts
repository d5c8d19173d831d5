/**
 * Baseline "the naive rotator": what a key rotator without shared state or rate-limit awareness does.
 * One process, in-memory round robin over each pool's keys; on a 429 it retries at once with the next
 * key, until every key of the pool was tried once for this request; then the last 429 goes to the
 * client. No cooldowns, no Retry-After, no budgets learned from headers.
 *
 *   node --require tsx/cjs bench/baselines/naive-rotator.ts --pools pools.json [--port 0]
 *
 * pools.json: { "<pool>": { "baseUrl": "http://127.0.0.1:9999/v1", "keys": ["sk-a", "sk-b"] } };
 * a request to /<pool>/<rest> goes to <baseUrl>/<rest>. Prints its URL on the first stdout line.
 */
import fs from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

interface Pool {
  url: URL;
  keys: string[];
  cursor: number;
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];

const { values } = parseArgs({ options: { pools: { type: 'string' }, port: { type: 'string', default: '0' } } });
if (!values.pools) throw new Error('--pools <file.json> is required');
const spec = JSON.parse(fs.readFileSync(values.pools, 'utf8')) as Record<string, { baseUrl: string; keys: string[] }>;
const pools = new Map<string, Pool>(
  Object.entries(spec).map(([name, p]) => [name, { url: new URL(p.baseUrl), keys: p.keys, cursor: 0 }]),
);
const agent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(pool: Pool, req: IncomingMessage, rest: string, key: string, body: Buffer): Promise<IncomingMessage> {
  const headers: http.OutgoingHttpHeaders = { ...req.headers, host: pool.url.host, authorization: `Bearer ${key}`, 'content-length': body.length };
  for (const name of HOP_BY_HOP) delete headers[name];
  delete headers['x-api-key'];
  return new Promise((resolve, reject) => {
    const upstream = http.request(
      { host: pool.url.hostname, port: pool.url.port, method: req.method, path: pool.url.pathname.replace(/\/$/, '') + rest, headers, agent },
      resolve,
    );
    upstream.on('error', reject);
    upstream.end(body);
  });
}

const server = http.createServer(async (req, res) => {
  const match = /^\/([^/?]+)(.*)$/.exec(req.url ?? '/');
  const pool = match ? pools.get(match[1]!) : undefined;
  if (!match || !pool) {
    res.writeHead(404).end();
    return;
  }
  try {
    const body = await readBody(req);
    for (let tried = 1; ; tried++) {
      const key = pool.keys[pool.cursor++ % pool.keys.length]!;
      const answer = await send(pool, req, match[2]!, key, body);
      if (answer.statusCode === 429 && tried < pool.keys.length) {
        answer.resume(); // drop the 429 and try the next key at once
        continue;
      }
      const out = { ...answer.headers };
      for (const name of HOP_BY_HOP) delete out[name];
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
      return;
    }
  } catch {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  }
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => process.exit(0));
process.once('SIGINT', () => process.exit(0));
