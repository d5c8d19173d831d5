import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { ADMIN_PREFIX } from '../src/admin';
import { HEALTH_PATH, isControlPath, METRICS_PATH, READY_PATH } from '../src/control-paths';

/**
 * The oracle: Express's own matching, in the order the single Express app had before the planes were
 * split (health paths, /metrics, the admin prefix, then the pool routes' middleware).
 */
function referenceApp(serveMetrics: boolean): express.Express {
  const app = express();
  const control = (_req: express.Request, res: express.Response) => void res.set('x-plane', 'control').end();
  app.get(HEALTH_PATH, control);
  app.get(READY_PATH, control);
  if (serveMetrics) app.get(METRICS_PATH, control);
  app.use(ADMIN_PREFIX, control);
  app.use((_req, res) => void res.set('x-plane', 'data').end());
  return app;
}

/**
 * One request written by hand, so that targets fetch would normalise (`#`, `\`, `..`) arrive as they
 * are: which plane answered it (HEAD included: a header, not a body).
 */
function planeOf(port: number, method: string, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(Buffer.from(`${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 'latin1'));
    });
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(/\r\nx-plane: (\w+)/i.exec(answer)?.[1] ?? answer.split('\r\n')[0]!));
  });
}

const TARGETS = [
  '/healthz', '/HEALTHZ', '/Healthz/', '/healthz//', '/healthzx', '/healthz/x', '/healthz?x=1', '/healthz/?x',
  '/healthz#frag', '/healthz%2F', '/%68ealthz', '//healthz', '/readyz', '/READYZ/', '/readyz.json',
  '/metrics', '/Metrics/', '/metrics/x', '/admin', '/admin/', '/ADMIN/pools', '/admin//pools', '/adminx',
  '/admin?x', '/admin#x', '/admin\\pools', '/admin\\pools#x', '/admin%2Fpools', '/%61dmin', '/x/../admin',
  '/v1/admin', '/v1/chat/completions', '/', '/?x', '/a#b',
];
const METHODS = ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'];

describe.each([true, false])('control-plane paths (metrics on the main port: %s)', (serveMetrics) => {
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    server = http.createServer(referenceApp(serveMetrics));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('isControlPath answers as Express matches, for every method and tricky target', async () => {
    const mismatches: string[] = [];
    for (const method of METHODS) {
      for (const target of TARGETS) {
        const plane = await planeOf(port, method, target);
        if (isControlPath(method, target, serveMetrics) !== (plane === 'control')) mismatches.push(`${method} ${target}: ${plane}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('a target that is not a path (OPTIONS *, absolute form) is left to the control plane', () => {
    expect(isControlPath('OPTIONS', '*', serveMetrics)).toBe(true);
    expect(isControlPath('GET', 'http://evil.example/v1/models', serveMetrics)).toBe(true);
  });
});
