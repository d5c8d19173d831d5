import type { RotorConfig } from '@rotor/core';
import { OPERATOR_ACTIONS, type OperatorAction } from '@rotor/proxy';
import { StoreError, type RedisKeyStore } from '@rotor/redis-store';
import { EXIT, parseFlags, type Io } from '../inspect/io';
import { describeStore, openStore } from '../inspect/store-client';

export const KEYS_USAGE = `usage: rotor keys <disable|enable|clear> <pool> <keyId|label> [--json]
  disable   take the key out of rotation on every replica until enabled (reason operator; never probed)
  enable    put the key back in rotation from any state, forgetting its failures (and clear)
  clear     end the cooldowns of the key's account's buckets now, every model group (the account's
            other keys return too; no change unless one cools and the key is active)`;

const isAction = (value: string | undefined): value is OperatorAction =>
  (OPERATOR_ACTIONS as readonly string[]).includes(value ?? '');

/**
 * `rotor keys <action> <pool> <key> [--json]`: one operator action through the store's setState script,
 * the same call the admin API makes, so every replica sees it on its next acquire.
 */
export async function keysCommand(
  args: readonly string[],
  config: RotorConfig,
  io: Io,
  /** Where redis.url came from, for the line naming the Redis changed (text mode). */
  origin?: string,
): Promise<number> {
  const { json, positional, unknown } = parseFlags(args);
  const [action, pool, key] = positional;
  if (unknown.length || positional.length !== 3 || !isAction(action)) {
    io.err(KEYS_USAGE);
    return EXIT.usage;
  }
  if (!config.pools[pool!]) {
    io.err(
      `rotor keys: no pool "${pool}" in the config (pools: ${Object.keys(config.pools).join(', ') || 'none'})`,
    );
    return EXIT.usage;
  }
  const client = await openStore(config);
  if (!json && origin) io.err(describeStore(config, origin));
  try {
    const keyId = await resolveKey(client.store, pool!, key!);
    if (!keyId.ok) {
      io.err(`rotor keys: ${keyId.message}`);
      return EXIT.failed;
    }
    const result = await client.store.setState(pool!, keyId.id, action);
    if (json) {
      io.out(JSON.stringify({ pool, keyId: keyId.id, action, ...result }));
    } else {
      const note = result.changed
        ? ''
        : action !== 'clear'
          ? ' (unchanged)'
          : result.state === 'active'
            ? ' (unchanged: no bucket of its account was cooling)'
            : ' (unchanged: clear acts on an active key only)';
      io.out(`${pool}/${keyId.id}: ${result.state}${note}`);
    }
    return EXIT.ok;
  } catch (error) {
    if (error instanceof StoreError) {
      io.err(`rotor keys: ${error.message}`);
      return EXIT.failed;
    }
    throw error;
  } finally {
    await client.close();
  }
}

const KEY_ID = /^k_[0-9a-f]{12}$/;

/** A key id as given, or the id of the one key with that label. */
async function resolveKey(
  store: RedisKeyStore,
  pool: string,
  key: string,
): Promise<{ ok: true; id: string } | { ok: false; message: string }> {
  if (KEY_ID.test(key)) return { ok: true, id: key };
  const matches = (await store.snapshot(pool)).keys.filter((k) => k.label === key);
  if (matches.length === 1) return { ok: true, id: matches[0]!.id };
  if (matches.length > 1) {
    return {
      ok: false,
      message: `label "${key}" names ${matches.length} keys of pool ${pool}: use a key id (${matches.map((k) => k.id).join(', ')})`,
    };
  }
  return {
    ok: false,
    message: `no key "${key}" in pool ${pool} (a key id k_... or a label; see rotor status ${pool})`,
  };
}
