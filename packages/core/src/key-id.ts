import { createHmac } from 'node:crypto';

/**
 * The default HMAC key for key ids. Fixed (not random) so every replica, the worker and the CLI derive
 * the same id for the same secret with no coordination; set `keyIdSecret` in the config so that an id
 * cannot be checked against a guessed secret by someone who does not know it.
 */
export const DEFAULT_KEY_ID_SECRET = 'rotor-key-id-v1';

/**
 * How Redis, logs and metrics name a key: `k_` + 12 hex chars (48 bits) of HMAC-SHA256(idSecret, secret).
 * One-way and keyed, so it reveals nothing of the secret; stable, so state survives restarts and reloads.
 */
export function keyId(secret: string, idSecret: string): string {
  return 'k_' + createHmac('sha256', idSecret).update(secret, 'utf8').digest('hex').slice(0, 12);
}

/**
 * How logs, metrics and Redis name a client token: `c_` + 12 hex chars of the same keyed HMAC. The
 * token never appears anywhere; the id is stable, so a client's keys-out count survives replicas.
 */
export function clientId(token: string, idSecret: string): string {
  return 'c_' + createHmac('sha256', idSecret).update(token, 'utf8').digest('hex').slice(0, 12);
}
