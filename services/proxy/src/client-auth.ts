import crypto from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Client tokens are compared in constant time: both sides are hashed first, so neither the content
 * nor the length of a configured token leaks through timing.
 */
export class ClientAuth {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
  }

  /** The presented token: `Authorization: Bearer <t>` or `x-api-key: <t>` (what the SDKs send). */
  static presented(headers: IncomingHttpHeaders): string | undefined {
    const auth = headers.authorization;
    if (auth && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim() || undefined;
    const apiKey = headers['x-api-key'];
    return (Array.isArray(apiKey) ? apiKey[0] : apiKey)?.trim() || undefined;
  }

  accepts(token: string | undefined): boolean {
    if (!token) return false;
    const candidate = digest(token);
    // Check every configured token, no early exit, so timing does not say which one matched.
    let ok = false;
    for (const d of this.digests) ok = crypto.timingSafeEqual(candidate, d) || ok;
    return ok;
  }
}

/** One-shot hash (no Hash object per request: this runs on every proxied request). */
function digest(token: string): Buffer {
  return crypto.hash('sha256', token, 'buffer');
}
