import { ConfigError, formatPath, type ConfigIssue } from './config-error';
import { normalizePrefix, type RawConfig, type RawLimits, type RawPool } from './config-schema';
import type { KeyLimits, ModelLimit, PoolConfig, PoolKey, RotorConfig } from './config-types';
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
    if (entry.account !== undefined) key.account = entry.account;
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
    modelGroups: Object.fromEntries(
      Object.entries(raw.modelGroups).map(([group, models]) => [group, [...new Set(models)]]),
    ),
    maxModelGroups: raw.maxModelGroups,
    accountScope: raw.accountScope,
    optional: raw.optional,
  };
  if (limits) pool.limits = limits;
  return pool;
}

/**
 * A key's own limits laid over its pool's; the window defaults to one minute. Per model, the key's
 * entry is laid over the pool's field by field, and pool entries the key does not name are kept.
 */
function mergeLimits(pool: RawLimits | undefined, own: RawLimits | undefined): KeyLimits {
  const merged: KeyLimits = { windowMs: own?.windowMs ?? pool?.windowMs ?? 60_000, ...rpmTpm(pool, own) };
  if (pool?.models || own?.models) {
    const models: Record<string, ModelLimit> = {};
    for (const name of new Set([...Object.keys(pool?.models ?? {}), ...Object.keys(own?.models ?? {})])) {
      models[name] = rpmTpm(pool?.models?.[name], own?.models?.[name]);
    }
    merged.models = models;
  }
  return merged;
}

/** `own`'s rpm and tpm, else `base`'s; absent when neither has one. */
function rpmTpm(base: ModelLimit | undefined, own: ModelLimit | undefined): ModelLimit {
  const limit: ModelLimit = {};
  const rpm = own?.rpm ?? base?.rpm;
  const tpm = own?.tpm ?? base?.tpm;
  if (rpm !== undefined) limit.rpm = rpm;
  if (tpm !== undefined) limit.tpm = tpm;
  return limit;
}
