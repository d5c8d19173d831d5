import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '@rotor/core';
import { testRedisUrl, uniquePrefix } from '@rotor/testkit';
import { createLogger } from '../src/logger';
import { startProxy, type ProxyHandle } from '../src/server';
import { CLIENT_TOKEN } from './harness';

/**
 * A client that stops reading a large answer holds the provider's stream back (backpressure). When
 * that lasts `timeouts.idleMs` the stream is cut, but the provider was not silent: no key is charged
 * with a timeout, so no client can open the circuit breaker of a healthy pool this way.
 */
describe('a client that stops reading', () => {
  let upstream: http.Server;
  let proxy: ProxyHandle;
  beforeAll(async () => {
    upstream = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-remaining-requests': '999', 'x-ratelimit-reset-requests': '60s' });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const pump = () => {
        while (sent < 32 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as AddressInfo;
    const config = parseConfig(
      {
        port: 0,
        redis: { url: testRedisUrl(), prefix: uniquePrefix('stall') },
        clientTokens: [CLIENT_TOKEN],
        log: { level: 'silent' },
        timeouts: { idleMs: 400 },
        circuitBreaker: { failures: 2 },
        pools: { big: { provider: 'openai', baseUrl: `http://127.0.0.1:${port}/v1`, keys: 'sk-test-stall-only-key' } },
        routes: { '/v1': 'big' },
      },
      {},
    );
    proxy = await startProxy(config, { port: 0, logger: createLogger('silent') });
  });
  afterAll(async () => {
    await proxy?.close();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('3 clients read 1 KB of a 32 MB answer and stall past idleMs: the key stays active, no failure counted', async () => {
    for (let i = 0; i < 3; i++) {
      const socket = net.connect(proxy.port, '127.0.0.1');
      socket.write(`GET /v1/files/big/content HTTP/1.1\r\nHost: r\r\nAuthorization: Bearer ${CLIENT_TOKEN}\r\n\r\n`);
      await new Promise<void>((resolve) => socket.once('data', () => resolve()));
      socket.pause(); // stop reading: the proxy's writes back up
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 1500);
      });
    }
    await new Promise((r) => setTimeout(r, 200)); // reports are off the response path
    const key = (await proxy.store.snapshot('big')).keys[0]!;
    expect(key).toMatchObject({ state: 'active', consecutiveFailures: 0, failures: 0 });
    expect(key.lastClass).toBe('success');
  }, 20_000);
});
