/**
 * The Redis key schema: every key Rotor writes is named here and nowhere else.
 *
 * `<prefix>` is `redis.prefix` from the config (default `rotor`); `{<pool>}` is a Redis Cluster hash tag,
 * so all keys of one pool live in one slot and every multi-key script also runs on Redis Cluster.
 *
 *   <prefix>:{<pool>}:ring           ZSET  keyId -> virtual time. Keys in rotation. Lowest score is handed
 *                                          out next; each hand-out adds 1/weight (stride scheduling =
 *                                          exact weighted round robin in O(log n)).
 *   <prefix>:{<pool>}:cooling        ZSET  keyId -> ms epoch (Redis clock) when the key returns by itself.
 *   <prefix>:{<pool>}:parked         ZSET  keyId -> ms epoch when the key was suspended/disabled (the worker
 *                                          probes these; they never return by themselves).
 *   <prefix>:{<pool>}:states         HASH  keyId -> active | cooling | suspended | disabled
 *   <prefix>:{<pool>}:leases         ZSET  "<keyId>|<token>" -> ms epoch when the in-flight lease expires
 *                                          (a crashed replica's in-flight counts drain by themselves).
 *   <prefix>:{<pool>}:meta           HASH  vt (virtual clock when the ring is empty), synced_at
 *   <prefix>:{<pool>}:key:<keyId>    HASH  per-key detail: state, reason, until, label, weight, rpm, tpm,
 *                                          window_ms, fails, rl_streak, last_status, last_class, last_error,
 *                                          last_at, lim_req, rem_req, seen_req, rem_slack, reset_req_at,
 *                                          lim_tok, rem_tok, seen_tok, reset_tok_at, inflight_tok, tlog_sum,
 *                                          acquired, ok, rate_limited, quota, invalid, errors, parked_at
 *   <prefix>:{<pool>}:key:<keyId>:log LIST  ms epochs of the last `rpm` hand-outs (declared rpm, sliding window)
 *   <prefix>:{<pool>}:key:<keyId>:tlog LIST  "<ms>:<tokens>" of the hand-outs under a declared tpm
 *   <prefix>:{<pool>}:key:<keyId>:inflight ZSET  lease token -> tokens it reserved, one per request in
 *                                          flight on this key: ZCARD = in-flight count
 *   <prefix>:{<pool>}:client:<clientId>:out ZSET  "<keyId>|<ms>" -> ms epoch: keys the answers to this
 *                                          client's requests took out of rotation in the last minute
 *                                          (the `clientLimits.keysOutPerMinute` log; expires by itself)
 *
 * Outside any pool (no hash tag needed: one key):
 *   <prefix>:replicas                ZSET  proxy replica id (random per process) -> ms epoch of its last
 *                                          heartbeat; how many replicas share the keys, for the fallback
 *
 * Key ids are keyed HMAC fingerprints (see @rotor/core keyId): no secret is ever part of a name or value.
 */
export interface PoolKeys {
  ring: string;
  cooling: string;
  parked: string;
  states: string;
  leases: string;
  meta: string;
  /** Prefix of the per-key HASH (`<keyPrefix><keyId>`); scripts derive per-key names from it. */
  keyPrefix: string;
  /** Prefix of the per-client keys (`<clientPrefix><clientId>:out`). */
  clientPrefix: string;
}

const POOL_NAME = /^[A-Za-z0-9_.-]+$/;

export function poolKeys(prefix: string, pool: string): PoolKeys {
  if (!POOL_NAME.test(pool)) throw new Error(`pool name "${pool}" may only contain letters, digits, _ . -`);
  const base = `${prefix}:{${pool}}:`;
  return {
    ring: `${base}ring`,
    cooling: `${base}cooling`,
    parked: `${base}parked`,
    states: `${base}states`,
    leases: `${base}leases`,
    meta: `${base}meta`,
    keyPrefix: `${base}key:`,
    clientPrefix: `${base}client:`,
  };
}

export function replicasKey(prefix: string): string {
  return `${prefix}:replicas`;
}

export function keyHash(keys: PoolKeys, keyId: string): string {
  return `${keys.keyPrefix}${keyId}`;
}

export function keyLog(keys: PoolKeys, keyId: string): string {
  return `${keys.keyPrefix}${keyId}:log`;
}

export function keyInflight(keys: PoolKeys, keyId: string): string {
  return `${keys.keyPrefix}${keyId}:inflight`;
}

const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** `client` is a client id (`c_` + HMAC hex), never a token; '-' names the unused slot. */
export function clientKeysOut(keys: PoolKeys, client: string | undefined): string {
  const id = client !== undefined && CLIENT_ID.test(client) ? client : '-';
  return `${keys.clientPrefix}${id}:out`;
}
