/**
 * Baseline "the floor": the least a forwarding hop can do in Node. node:http in, node:http out over a
 * keep-alive agent, one fixed key put on every request, bodies and answers piped both ways (SSE
 * included). No auth, no routing, no state, no retries, no metrics.
 *
 *   node --require tsx/cjs bench/baselines/bare-proxy.ts --target http://127.0.0.1:9999 --key sk-x [--port 0]
 *
 * Prints its URL on the first stdout line.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    key: { type: 'string', default: 'sk-bare-hop' },
    port: { type: 'string', default: '0' },
  },
});
if (!values.target) throw new Error('--target <url> is required');
const target = new URL(values.target);
const agent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });
const authorization = `Bearer ${values.key}`;

const server = http.createServer((req, res) => {
  const headers: http.OutgoingHttpHeaders = { ...req.headers, host: target.host, authorization };
  for (const name of HOP_BY_HOP) delete headers[name];
  const upstream = http.request(
    { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
    (answer) => {
      const out = { ...answer.headers };
      for (const name of HOP_BY_HOP) delete out[name];
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
const stop = () => process.exit(0);
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
