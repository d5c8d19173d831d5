import { groupLimits, type PoolKey, type RotorConfig } from '@rotor/core';
import type { KeySpec, KeyStore, SyncOptions } from '@rotor/redis-store';
import type { PoolSync } from './resilient-store';

/** What the store keeps of each configured key: its id and declared settings, never the secret. */
export function keySpecs(config: RotorConfig, pool: string): KeySpec[] {
  const poolConfig = config.pools[pool];
  return (poolConfig?.keys ?? []).map((key) => {
    const groups = groupLimits(poolConfig!, key.limits);
    return {
      id: key.id,
      ...(key.label ? { label: key.label } : {}),
      weight: key.weight,
      ...(key.limits ? { windowMs: key.limits.windowMs } : {}),
      ...(key.limits?.rpm ? { rpm: key.limits.rpm } : {}),
      ...(key.limits?.tpm ? { tpm: key.limits.tpm } : {}),
      ...(Object.keys(groups).length > 0 ? { groups } : {}),
      ...(key.account ? { account: key.account } : {}),
    };
  });
}

/** The pool's model groups as the store tracks them: those configured, and the bound on the rest. */
export function syncOptions(config: RotorConfig, pool: string): SyncOptions {
  const poolConfig = config.pools[pool];
  if (!poolConfig) return {};
  return { modelGroups: Object.keys(poolConfig.modelGroups), maxModelGroups: poolConfig.maxModelGroups };
}

/** Every pool of the config as the store is synced to it. */
export function poolSyncs(config: RotorConfig): PoolSync[] {
  return Object.keys(config.pools).map((pool) => ({ pool, keys: keySpecs(config, pool), options: syncOptions(config, pool) }));
}

/** Brings Redis in line with the config: new keys join, removed keys go, the rest keep their state. */
export async function syncPools(config: RotorConfig, store: KeyStore): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { pool, keys, options } of poolSyncs(config)) {
    counts[pool] = (await store.sync(pool, keys, options)).total;
  }
  return counts;
}

/** keyId -> secret per pool, held only in this process's memory. */
export function keysByPool(config: RotorConfig): Map<string, Map<string, PoolKey>> {
  return new Map(Object.values(config.pools).map((pool) => [pool.name, new Map(pool.keys.map((key) => [key.id, key]))]));
}
