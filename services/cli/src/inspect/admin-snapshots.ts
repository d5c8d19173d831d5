import type { PoolSnapshot } from '@rotor/redis-store';

/** What `rotor status` reads: pool snapshots, from Redis or from a running replica. */
export interface SnapshotSource {
  snapshot(pool: string): Promise<PoolSnapshot>;
  close(): Promise<void>;
}

/**
 * Pool snapshots from a running replica's admin API (GET /admin/pools/:pool, the same snapshot the
 * store returns), for a Rotor whose key state lives in its own memory. Needs the config's adminToken.
 */
export function adminSnapshots(baseUrl: string, adminToken: string | undefined): SnapshotSource {
  return {
    snapshot: async (pool) => {
      if (!adminToken) {
        throw new Error(
          `the key state lives in that process only; set adminToken (ROTOR_ADMIN_TOKEN) for it and for this command to read it through its admin API (${baseUrl}/admin/pools)`,
        );
      }
      const res = await fetch(`${baseUrl}/admin/pools/${encodeURIComponent(pool)}`, {
        headers: { authorization: `Bearer ${adminToken}` },
        signal: AbortSignal.timeout(5000),
      });
      if (!res.ok) throw new Error(`${baseUrl}/admin/pools/${pool} answered ${res.status}`);
      return (await res.json()) as PoolSnapshot;
    },
    close: async () => {},
  };
}
