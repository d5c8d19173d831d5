import type { RotorConfig } from '@rotor/core';
import { poolStatus } from '@rotor/proxy';
import { STATUS_COLUMNS, poolHeadline, statusRow } from '../inspect/format';
import type { SnapshotSource } from '../inspect/admin-snapshots';
import { EXIT, parseFlags, type Io } from '../inspect/io';
import { describeStore, openStore } from '../inspect/store-client';
import { renderTable } from '../inspect/table';

export const STATUS_USAGE = 'usage: rotor status [<pool>...] [--json]';

/**
 * `rotor status [<pool>...] [--json]`: every configured pool (or the ones named), read from the shared
 * store as the proxies see it: one table per pool (key id, label, state, until, reason, in-flight,
 * successes, failures, 429s), or the same snapshots as JSON (the admin API's GET /admin/pools shape).
 */
export async function statusCommand(
  args: readonly string[],
  config: RotorConfig,
  io: Io,
  open: (config: RotorConfig) => Promise<SnapshotSource> = redisSnapshots,
  /**
   * Where redis.url came from (`from REDIS_URL`, `from <file>`), for the line naming the Redis read in
   * text mode; undefined when the state is not in a Redis (a replica's memory, through its admin API).
   */
  origin?: string,
): Promise<number> {
  const { json, positional, unknown } = parseFlags(args);
  if (unknown.length) {
    io.err(`rotor status: unknown option ${unknown.join(' ')}\n${STATUS_USAGE}`);
    return EXIT.usage;
  }
  const configured = Object.keys(config.pools);
  const missing = positional.filter((p) => !config.pools[p]);
  if (missing.length) {
    io.err(
      `rotor status: no pool ${missing.map((p) => `"${p}"`).join(', ')} in the config (pools: ${configured.join(', ') || 'none'})`,
    );
    return EXIT.usage;
  }
  const pools = positional.length ? positional : configured;
  const client = await open(config);
  try {
    const snapshots = await Promise.all(pools.map((pool) => client.snapshot(pool)));
    if (json) {
      io.out(JSON.stringify({ pools: snapshots.map(poolStatus) }, null, 2));
      return EXIT.ok;
    }
    if (origin) io.err(describeStore(config, origin));
    const blocks = snapshots.map((snap) => {
      const headline = poolHeadline(snap, config.pools[snap.pool]?.provider);
      if (snap.keys.length === 0)
        return (
          `${headline}\n  (no keys under prefix ${config.redis.prefix} in this Redis: no proxy with this config has ` +
          'started against it yet, or the proxies use another Redis or prefix: set REDIS_URL / redis.prefix to theirs)'
        );
      return `${headline}\n${renderTable(
        STATUS_COLUMNS,
        snap.keys.map((k) => statusRow(k, snap.now)),
      )}`;
    });
    io.out(blocks.join('\n\n') || 'no pools in the config');
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

async function redisSnapshots(config: RotorConfig): Promise<SnapshotSource> {
  const client = await openStore(config);
  return { snapshot: (pool) => client.store.snapshot(pool), close: () => client.close() };
}
