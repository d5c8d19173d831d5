import crypto from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { clientId, DEFAULT_KEY_ID_SECRET, type RotorConfig } from '@rotor/core';

/**
 * Client tokens are compared in constant time: both sides are hashed first, so neither the content
 * nor the length of a configured token leaks through timing.
 */
export class ClientAuth {
  private readonly digests: Buffer[];
  /** `c_…` per token, in the same order: what logs, metrics and Redis call the client. */
  private readonly ids: string[];

  constructor(tokens: readonly string[], idSecret: string = DEFAULT_KEY_ID_SECRET) {
    this.digests = tokens.map(digest);
    this.ids = tokens.map((token) => clientId(token, idSecret));
  }

  /** The presented token: `Authorization: Bearer <t>` or `x-api-key: <t>` (what the SDKs send). */
  static presented(headers: IncomingHttpHeaders): string | undefined {
    const auth = headers.authorization;
    if (auth && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim() || undefined;
    const apiKey = headers['x-api-key'];
    return (Array.isArray(apiKey) ? apiKey[0] : apiKey)?.trim() || undefined;
  }

  accepts(token: string | undefined): boolean {
    return this.identify(token) !== undefined;
  }

  /** The id of the client whose token this is, or undefined when no configured token matches. */
  identify(token: string | undefined): string | undefined {
    if (!token) return undefined;
    const candidate = digest(token);
    // Check every configured token, no early exit, so timing does not say which one matched.
    let matched = -1;
    for (let i = 0; i < this.digests.length; i++) {
      if (crypto.timingSafeEqual(candidate, this.digests[i]!)) matched = i;
    }
    return matched < 0 ? undefined : this.ids[matched];
  }
}

/**
 * The ClientAuth for the config in force: built again only when a reload swaps the client tokens
 * (routes, tokens and limits are read from the config per request).
 */
export function clientAuthInForce(config: () => RotorConfig): () => ClientAuth {
  let tokens = config().clientTokens;
  let auth = new ClientAuth(tokens, config().keyIdSecret);
  return () => {
    const current = config();
    if (current.clientTokens !== tokens) {
      tokens = current.clientTokens;
      auth = new ClientAuth(tokens, current.keyIdSecret);
    }
    return auth;
  };
}

/** One-shot hash (no Hash object per request: this runs on every proxied request). */
function digest(token: string): Buffer {
  return crypto.hash('sha256', token, 'buffer');
}
