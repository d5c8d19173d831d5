/**
 * Baseline "the floor of the prescribed stack": an Express app with one http-proxy-middleware
 * (v3, keep-alive agent, changeOrigin), one fixed key put on every request, nothing else: no auth,
 * no routing of pools, no state, no body buffering, no retries, no metrics. What a replica's request
 * path would cost if Rotor's own work were free (bench/cpu-cost.ts).
 *
 *   node --require tsx/cjs bench/baselines/express-hpm-proxy.ts --target http://127.0.0.1:9999 --key sk-x [--port 0]
 *
 * Prints its URL on the first stdout line.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    key: { type: 'string', default: 'sk-express-hpm' },
    port: { type: 'string', default: '0' },
  },
});
if (!values.target) throw new Error('--target <url> is required');
const authorization = `Bearer ${values.key}`;

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.use(
  createProxyMiddleware({
    target: values.target,
    changeOrigin: true,
    xfwd: false,
    agent: new http.Agent({ keepAlive: true, scheduling: 'lifo' }),
    // As Rotor's upstream.ts: no default plugins (logging, error pages), events wired by a plugin.
    ejectPlugins: true,
    plugins: [
      (proxyServer) => {
        proxyServer.on('proxyReq', (proxyReq) => proxyReq.setHeader('authorization', authorization));
        proxyServer.on('error', (_error, _req, res) => {
          if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
          else res.destroy();
        });
      },
    ],
  }),
);
const server = app.listen(Number(values.port), '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
server.keepAliveTimeout = 65_000;
const stop = () => process.exit(0);
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
