import { startSimProvider, type SimProvider } from '@rotor/sim-provider';
import { parseConfig, type RotorConfig } from '@rotor/core';
import type { ConfigSource } from './config-source';

export const DEMO_CLIENT_TOKEN = 'rotor-demo';
/** Three keys per pool, each pool its own: traffic on one route never spends another pool's budget. */
const demoKeys = (pool: string) => [1, 2, 3].map((i) => `demo-${pool}-key-${i}`);

/**
 * Demo mode: no config of the user's own (the shipped example) and no provider keys, so every pool is
 * pointed at the built-in simulated provider (real rate-limit headers and 429s, 20 requests per minute
 * per key) with three demo keys of its own, so a newcomer can send a request at once.
 */
export async function startDemo(source: ConfigSource, config: RotorConfig): Promise<{ config: RotorConfig; sim: SimProvider }> {
  const sim = await startSimProvider({ acceptAnyKey: true, defaultLimits: { rpm: 20 }, latencyMs: 20 });
  const raw = structuredClone(source.raw) as Record<string, unknown>;
  const pools = raw.pools as Record<string, Record<string, unknown>>;
  for (const [name, pool] of Object.entries(pools)) {
    const provider = config.pools[name]?.provider;
    pool.baseUrl = provider === 'anthropic' ? sim.url : `${sim.url}/v1`;
    pool.provider = provider === 'anthropic' ? 'anthropic' : 'openai';
    pool.keys = demoKeys(name);
  }
  if (config.clientTokens.length === 0) raw.clientTokens = [DEMO_CLIENT_TOKEN];
  return { config: parseConfig(raw, source.env), sim };
}
