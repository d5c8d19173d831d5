/**
 * The Redis key schema: every key Rotor writes is named here (and, for the scripts, in
 * lua/includes/names.lua) and nowhere else.
 *
 * `<prefix>` is `redis.prefix` from the config (default `rotor`); `{<pool>}` is a Redis Cluster hash tag,
 * so all keys of one pool live in one slot and every script also runs on Redis Cluster. Scripts get the
 * pool's base `<prefix>:{<pool>}:` and derive the names below from it.
 *
 * A bucket is what a provider rate-limits: an account (organization) and a model group. `<account>` is
 * the key's declared or learned account, or `~<keyId>` for a key that is its own account; `<group>` is
 * the request's model group (`default` when it names none, `other` past the pool's bound).
 *
 *   <base>states                HASH  keyId -> active | suspended | disabled
 *   <base>groups                HASH  model group -> virtual clock while its ring is empty. The groups
 *                                     the pool tracks, at most meta max_groups.
 *   <base>ring:<group>          ZSET  keyId -> virtual time. Active keys whose bucket of this group is not
 *                                     cooling. Lowest score is handed out next; each hand-out adds
 *                                     1/weight (stride scheduling = exact weighted round robin, O(log n)).
 *   <base>cooling:<group>       ZSET  account -> ms epoch (Redis clock) when its bucket of this group
 *                                     returns by itself.
 *   <base>parked                ZSET  keyId -> ms epoch when the key was suspended/disabled (the worker
 *                                     probes these; they never return by themselves).
 *   <base>leases                ZSET  "<keyId>|<token>|<account>|<group>" -> ms epoch when the in-flight
 *                                     lease expires (a crashed replica's in-flight counts drain by themselves).
 *   <base>cold:<group>          SET   lease tokens in flight on keys whose account is not known yet (own
 *                                     account, bucket never answered): the provider may have counted them
 *                                     against any account, so named accounts' learned budgets leave room
 *                                     for them until their answers tell (released with the lease)
 *   <base>meta                  HASH  max_groups
 *   <base>key:<keyId>           HASH  per-key detail: state, reason, label, weight, account (declared or
 *                                     learned), account_decl, rpm, tpm, window_ms, rpm@<group>,
 *                                     tpm@<group>, fails, last_status, last_class, last_error, last_at,
 *                                     acquired, inflight, ok, rate_limited, quota, invalid, errors, parked_at
 *   <base>account:<account>     SET   keyIds of a declared or learned account
 *   <base>buckets               SET   "<account>|<group>" of every bucket used (for status)
 *   <base>bucket:<account>|<group>  HASH  until, reason, lim_req, rem_req, seen_req, rem_slack,
 *                                     reset_req_at, lim_tok, rem_tok, seen_tok, reset_tok_at, inflight_tok,
 *                                     tlog_sum, rl_streak, last_at
 *   <base>bucket:<account>|<group>:inflight  ZSET  lease token -> tokens it reserved (ZCARD = in flight)
 *   <base>bucket:<account>|<group>:log   LIST  ms epochs of the last `rpm` hand-outs (declared rpm)
 *   <base>bucket:<account>|<group>:tlog  LIST  "<ms>:<tokens>" of the hand-outs under a declared tpm
 *   <base>client:<clientId>:out ZSET  "<keyId>|<ms>" -> ms epoch: keys the answers to this client's
 *                                     requests took out of rotation in the last minute (the
 *                                     `clientLimits.keysOutPerMinute` log; expires by itself)
 *
 * Outside any pool (no hash tag needed: one key):
 *   <prefix>:replicas                ZSET  proxy replica id (random per process) -> ms epoch of its last
 *                                          heartbeat; how many replicas share the keys, for the fallback
 *
 * Key ids are keyed HMAC fingerprints (see @rotor/core keyId): no secret is ever part of a name or value.
 */
export interface PoolKeys {
  /** `<prefix>:{<pool>}:`: every name below starts with it. */
  base: string;
  states: string;
  groups: string;
  parked: string;
  leases: string;
  meta: string;
  buckets: string;
}

const POOL_NAME = /^[A-Za-z0-9_.-]+$/;

export function poolKeys(prefix: string, pool: string): PoolKeys {
  if (!POOL_NAME.test(pool)) throw new Error(`pool name "${pool}" may only contain letters, digits, _ . -`);
  const base = `${prefix}:{${pool}}:`;
  return {
    base,
    states: `${base}states`,
    groups: `${base}groups`,
    parked: `${base}parked`,
    leases: `${base}leases`,
    meta: `${base}meta`,
    buckets: `${base}buckets`,
  };
}

export function replicasKey(prefix: string): string {
  return `${prefix}:replicas`;
}

export const ringKey = (keys: PoolKeys, group: string) => `${keys.base}ring:${group}`;
export const coolingKey = (keys: PoolKeys, group: string) => `${keys.base}cooling:${group}`;
export const keyHash = (keys: PoolKeys, keyId: string) => `${keys.base}key:${keyId}`;
export const accountSet = (keys: PoolKeys, account: string) => `${keys.base}account:${account}`;
export const bucketHash = (keys: PoolKeys, account: string, group: string) => `${keys.base}bucket:${account}|${group}`;
export const bucketInflight = (keys: PoolKeys, account: string, group: string) => `${bucketHash(keys, account, group)}:inflight`;

/** A key with no declared or learned account is its own: `~<keyId>` (names.lua's accountOf). */
export const ownAccount = (keyId: string) => `~${keyId}`;


const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** `client` is a client id (`c_` + HMAC hex), never a token; '-' names the unused slot. */
export function clientKeysOut(keys: PoolKeys, client: string | undefined): string {
  const id = client !== undefined && CLIENT_ID.test(client) ? client : '-';
  return `${keys.base}client:${id}:out`;
}
