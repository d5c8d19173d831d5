import type { IncomingHttpHeaders } from 'node:http';

const REDACTED = Buffer.from('[redacted]');

/**
 * Providers echo keys in some error bodies (a wrong key, a key of the wrong project). Every answer
 * Rotor buffers before passing it on (error bodies, up to 64 KB) has every secret of the pool replaced,
 * byte for byte outside the secrets, so non-UTF-8 bodies pass unharmed.
 */
export function scrubBody(body: Buffer, secrets: Iterable<string>): Buffer {
  let out = body;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    const needle = Buffer.from(secret);
    let at = out.indexOf(needle);
    if (at < 0) continue;
    const parts: Buffer[] = [];
    let from = 0;
    while (at >= 0) {
      parts.push(out.subarray(from, at), REDACTED);
      from = at + needle.length;
      at = out.indexOf(needle, from);
    }
    parts.push(out.subarray(from));
    out = Buffer.concat(parts);
  }
  return out;
}

/** The same for the response headers of such an answer. */
export function scrubHeaders(headers: IncomingHttpHeaders, secrets: Iterable<string>): IncomingHttpHeaders {
  const list = [...secrets].filter(Boolean);
  const clean = (value: string) => list.reduce((text, secret) => text.split(secret).join('[redacted]'), value);
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.map(clean) : clean(value);
  }
  return out;
}
