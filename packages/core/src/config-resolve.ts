import { ConfigError, formatPath, type ConfigIssue } from './config-error';
import { normalizePrefix, type RawConfig, type RawLimits, type RawPool } from './config-schema';
import type { KeyLimits, PoolConfig, PoolKey, RotorConfig } from './config-types';
import { keyId } from './key-id';
import { providers } from './providers';

/** From the validated raw tree to the RotorConfig services use: key ids, provider defaults, sorted routes. */
export function resolve(raw: RawConfig): RotorConfig {
  const pools: Record<string, PoolConfig> = {};
  const issues: ConfigIssue[] = [];
  for (const [name, pool] of Object.entries(raw.pools)) {
    pools[name] = resolvePool(name, pool, raw.keyIdSecret, issues);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const routes = Object.entries(raw.routes)
    .map(([prefix, pool]) => ({ prefix: normalizePrefix(prefix), pool }))
    .sort((a, b) => b.prefix.length - a.prefix.length || a.prefix.localeCompare(b.prefix));
  const config: RotorConfig = { ...raw, pools, routes };
  if (config.adminToken === undefined) delete config.adminToken;
  if (config.metricsPort === undefined) delete config.metricsPort;
  return config;
}

function resolvePool(name: string, raw: RawPool, keyIdSecret: string, issues: ConfigIssue[]): PoolConfig {
  const provider = providers[raw.provider];
  // The schema has already required baseUrl where the provider has no default.
  const baseUrl = raw.baseUrl ?? provider.defaultBaseUrl ?? '';
  const limits = raw.limits && mergeLimits(raw.limits, undefined);
  const idOwner = new Map<string, number>();
  const keys = raw.keys.map((entry, i): PoolKey => {
    const id = keyId(entry.key, keyIdSecret);
    const owner = idOwner.get(id);
    if (owner !== undefined) {
      // 48-bit ids: practically never, but two keys sharing state would be a silent disaster.
      issues.push({
        path: formatPath(['pools', name, 'keys', i]),
        message: `key id collides with keys[${owner}]; set a different keyIdSecret`,
      });
    }
    idOwner.set(id, i);
    const key: PoolKey = Object.defineProperty({ id, weight: entry.weight } as PoolKey, 'secret', {
      value: entry.key,
      enumerable: false,
      writable: false,
    });
    if (entry.label !== undefined) key.label = entry.label;
    const keyLimits = entry.limits || raw.limits ? mergeLimits(raw.limits, entry.limits) : undefined;
    if (keyLimits) key.limits = keyLimits;
    if (raw.headers || entry.headers) key.headers = { ...raw.headers, ...entry.headers };
    return key;
  });
  const pool: PoolConfig = {
    name,
    provider: raw.provider,
    baseUrl,
    keys,
    maxWaitMs: raw.maxWaitMs,
    defaultOutputTokens: raw.defaultOutputTokens,
    exposeAccountHeaders: raw.exposeAccountHeaders,
    probeModel: raw.probeModel ?? provider.probe.defaultModel,
    optional: raw.optional,
  };
  if (limits) pool.limits = limits;
  return pool;
}

/** A key's own limits laid over its pool's; the window defaults to one minute. */
function mergeLimits(pool: RawLimits | undefined, own: RawLimits | undefined): KeyLimits {
  const merged: KeyLimits = { windowMs: own?.windowMs ?? pool?.windowMs ?? 60_000 };
  const rpm = own?.rpm ?? pool?.rpm;
  const tpm = own?.tpm ?? pool?.tpm;
  if (rpm !== undefined) merged.rpm = rpm;
  if (tpm !== undefined) merged.tpm = tpm;
  return merged;
}
