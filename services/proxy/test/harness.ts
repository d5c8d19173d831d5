import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig, type LogLevel, type RotorConfig } from '@rotor/core';
import { startSimProvider, type SimOptions, type SimProvider } from '@rotor/sim-provider';
import { testRedisUrl, uniquePrefix } from '@rotor/testkit';
import { createLogger, type Logger } from '../src/logger';
import { startProxy, type ProxyHandle } from '../src/server';

export const CLIENT_TOKEN = 'client-token-for-tests';

export interface Rig {
  sim: SimProvider;
  proxy: ProxyHandle;
  config: RotorConfig;
  secrets: string[];
  close(): Promise<void>;
}

export interface RigOptions {
  keys?: number;
  rpm?: number;
  windowMs?: number;
  sim?: Partial<SimOptions>;
  /** Extra config laid over the defaults (plain YAML-shaped object). */
  config?: Record<string, unknown>;
  pool?: Record<string, unknown>;
  redisUrl?: string;
  /** The proxy's logger (default: silent). */
  logger?: Logger;
}

/** A simulated provider, a private Redis prefix and one proxy replica in this process. */
export async function startRig(options: RigOptions = {}): Promise<Rig> {
  const secrets = Array.from({ length: options.keys ?? 3 }, (_, i) => `sk-test-${uniquePrefix('key')}-${i}`);
  const sim = await startSimProvider({
    windowMs: options.windowMs ?? 1000,
    keys: Object.fromEntries(secrets.map((s) => [s, { rpm: options.rpm ?? 5 }])),
    ...options.sim,
  });
  const config = parseConfig(
    {
      port: 0,
      redis: { url: options.redisUrl ?? testRedisUrl(), prefix: uniquePrefix('px') },
      clientTokens: [CLIENT_TOKEN],
      log: { level: 'silent' },
      pools: {
        openai: { provider: 'openai', baseUrl: `${sim.url}/v1`, keys: secrets.join(','), ...options.pool },
        anthropic: { provider: 'anthropic', baseUrl: sim.url, keys: secrets.join(','), ...options.pool },
      },
      routes: { '/v1': 'openai', '/anthropic': 'anthropic' },
      ...options.config,
    },
    {},
  );
  const proxy = await startProxy(config, { port: 0, logger: options.logger ?? createLogger('silent') });
  return {
    sim,
    proxy,
    config,
    secrets,
    close: async () => {
      await proxy.close();
      await sim.close();
    },
  };
}

/** One chat completion through the rig's proxy: its status and how long it took (body read). */
export async function timedChat(rig: Rig, body: Record<string, unknown> = {}): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${rig.proxy.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...body }),
  });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - started };
}

/** How many answers had each status: `{ 200: 8, 429: 12 }`. */
export function countStatuses(statuses: number[]): Record<number, number> {
  return statuses.reduce<Record<number, number>>((n, s) => ({ ...n, [s]: (n[s] ?? 0) + 1 }), {});
}

/** A real (redacting) proxy logger whose JSON lines are kept in `lines` instead of going to stdout. */
export function captureLogs(level: LogLevel = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger(level, 'rotor-proxy', { write: (line: string) => void lines.push(line) }), lines };
}

/** The request header by which `upstreamKeys` finds one test request's attempts in the provider's log. */
export const TAG_HEADER = 'x-test-request';

/** The keys the provider saw the attempts of the request tagged `tag` with, in order. */
export function upstreamKeys(rig: Rig, tag: string): (string | undefined)[] {
  return rig.sim.requestLog.filter((entry) => entry.headers[TAG_HEADER] === tag).map((entry) => entry.secret);
}

export interface Upstream {
  url: string;
  /** Requests it received. */
  requests: number;
  close(): Promise<void>;
}

/** A stand-in provider for answers the simulator does not give (a reset, a huge error body, ...). */
export async function startUpstream(handle: http.RequestListener): Promise<Upstream> {
  const upstream: Upstream = { url: '', requests: 0, close: () => Promise.resolve() };
  const server = http.createServer((req, res) => {
    upstream.requests++;
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  upstream.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return upstream;
}
