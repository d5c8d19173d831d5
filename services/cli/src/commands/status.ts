import type { RotorConfig } from '@rotor/core';
import { poolStatus } from '@rotor/proxy';
import { BUCKET_COLUMNS, KEY_COLUMNS, bucketRow, keyRow, poolHeadline } from '../inspect/format';
import type { SnapshotSource } from '../inspect/admin-snapshots';
import { EXIT, parseFlags, type Io } from '../inspect/io';
import { describeStore, openStore } from '../inspect/store-client';
import { renderTable } from '../inspect/table';

export const STATUS_USAGE = 'usage: rotor status [<pool>...] [--json]';

/**
 * `rotor status [<pool>...] [--json]`: every configured pool (or the ones named), read from the shared
 * store as the proxies see it: per pool a table of its keys (key id, label, state, reason, account,
 * in-flight, successes, failures, 429s) and one of its buckets (model group, account, ready or cooling
 * and until when, requests and tokens left of their limits, in-flight), or the same snapshots as JSON
 * (the admin API's GET /admin/pools shape).
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
    const statuses = (await Promise.all(pools.map((pool) => client.snapshot(pool)))).map(poolStatus);
    if (json) {
      io.out(JSON.stringify({ pools: statuses }, null, 2));
      return EXIT.ok;
    }
    if (origin) io.err(describeStore(config, origin));
    const blocks = statuses.map((status) => {
      const headline = poolHeadline(status, config.pools[status.pool]?.provider);
      if (status.keys.length === 0)
        return (
          `${headline}\n  (no keys under prefix ${config.redis.prefix} in this Redis: no proxy with this config has ` +
          'started against it yet, or the proxies use another Redis or prefix: set REDIS_URL / redis.prefix to theirs)'
        );
      const keys = renderTable(KEY_COLUMNS, status.keys.map(keyRow));
      const buckets = status.buckets.length
        ? renderTable(
            BUCKET_COLUMNS,
            status.buckets.map((b) => bucketRow(b, status.now)),
          )
        : '(no buckets yet: a bucket appears with the first request of its account and model group)';
      return `${headline}\n${keys}\n\n${buckets}`;
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
