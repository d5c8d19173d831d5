import { parseConfig, type RotorConfig } from '@rotor/core';
import { startSimProvider, type SimOptions, type SimProvider } from '@rotor/sim-provider';
import { testRedisUrl, uniquePrefix } from '@rotor/testkit';
import { createLogger } from '../src/logger';
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
  const proxy = await startProxy(config, { port: 0, logger: createLogger('silent') });
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
