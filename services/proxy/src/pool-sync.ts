import type { PoolKey, RotorConfig } from '@rotor/core';
import type { KeySpec, KeyStore } from '@rotor/redis-store';

/** What the store keeps of each configured key: its id and declared settings, never the secret. */
export function keySpecs(config: RotorConfig, pool: string): KeySpec[] {
  return (config.pools[pool]?.keys ?? []).map((key) => ({
    id: key.id,
    ...(key.label ? { label: key.label } : {}),
    weight: key.weight,
    ...(key.limits?.rpm ? { rpm: key.limits.rpm, windowMs: key.limits.windowMs } : {}),
    ...(key.limits?.tpm ? { tpm: key.limits.tpm } : {}),
  }));
}

/** Brings Redis in line with the config: new keys join, removed keys go, the rest keep their state. */
export async function syncPools(config: RotorConfig, store: KeyStore): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const pool of Object.keys(config.pools)) {
    counts[pool] = (await store.sync(pool, keySpecs(config, pool))).total;
  }
  return counts;
}

/** keyId -> secret per pool, held only in this process's memory. */
export function keysByPool(config: RotorConfig): Map<string, Map<string, PoolKey>> {
  return new Map(Object.values(config.pools).map((pool) => [pool.name, new Map(pool.keys.map((key) => [key.id, key]))]));
}
