import crypto from 'node:crypto';
import type { Organization } from './types';

/**
 * Organization ids as the real APIs show them. OpenAI names organizations `org-` + 24 letters and
 * digits (`org-uOtiSEwvUnroadaOnJJquBEC` in its 429 messages); Anthropic's `anthropic-organization-id`
 * is a UUID. A key that belongs to no declared organization is its own: its id is a hash of the key,
 * so it is stable across runs and replicas yet never contains (or reveals) the key.
 */

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function digest(label: string, text: string): Buffer {
  return crypto.createHash('sha256').update(label).update('\0').update(text).digest();
}

/** `org-` + 24 base62 characters from a hash of the key (24 × ~6 bits: collisions are not a concern in tests). */
export function derivedOrgId(secret: string): string {
  const bytes = digest('rotor-sim-org', secret);
  let id = 'org-';
  for (let i = 0; i < 24; i += 1) id += BASE62[(bytes[i] ?? 0) % BASE62.length];
  return id;
}

/** A version-4-shaped UUID from a hash of the organization id: the same organization, the same UUID. */
export function anthropicOrgId(orgId: string): string {
  const hex = digest('rotor-sim-anthropic-org', orgId).toString('hex');
  // Version nibble 4 and variant bits 10xx, so the value parses as a regular v4 UUID.
  const variant = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The organization of a key: the declared one, or the key's own. */
export function organizationOf(secret: string, declaredOrg: string | undefined): Organization {
  const id = declaredOrg ?? derivedOrgId(secret);
  return { id, anthropicId: anthropicOrgId(id) };
}
