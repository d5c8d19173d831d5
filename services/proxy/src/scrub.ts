import type { IncomingHttpHeaders } from 'node:http';

const REDACTED = '[redacted]';

/**
 * What a secret is replaced with: `[redacted]` padded with `*` to the secret's own length, so a body
 * keeps its byte length and the provider's Content-Length stays true.
 */
export function redaction(secret: string): string {
  const length = Buffer.byteLength(secret);
  return length >= REDACTED.length ? REDACTED + '*'.repeat(length - REDACTED.length) : '*'.repeat(length);
}

/**
 * Providers echo keys in some error bodies (a wrong key, a key of the wrong project). Every answer
 * Rotor buffers before passing it on (error bodies, up to 64 KB) has every secret of the pool replaced,
 * byte for byte outside the secrets, so non-UTF-8 bodies pass unharmed, and at the same length.
 */
export function scrubBody(body: Buffer, secrets: Iterable<string>): Buffer {
  let out = body;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    const needle = Buffer.from(secret);
    if (out.indexOf(needle) >= 0) out = replaceAll(out, needle, Buffer.from(redaction(secret)));
  }
  return out;
}

/** `data` with every occurrence of `needle` replaced by `replacement`. */
export function replaceAll(data: Buffer, needle: Buffer, replacement: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = data.indexOf(needle); at >= 0; at = data.indexOf(needle, from)) {
    parts.push(data.subarray(from, at), replacement);
    from = at + needle.length;
  }
  parts.push(data.subarray(from));
  return Buffer.concat(parts);
}

/**
 * The same for response headers: every answer's (a success's too, with the key it was served with).
 * A header whose name holds a secret is dropped. Returns `headers` itself when nothing holds a secret
 * (the common case allocates nothing).
 */
export function scrubHeaders(headers: IncomingHttpHeaders, secrets: Iterable<string>): IncomingHttpHeaders {
  // Node lower-cases header names: compare names with the lower-cased secrets.
  const list = [...secrets].filter(Boolean);
  const lower = list.map((secret) => secret.toLowerCase());
  const holds = (value: string) => list.some((secret) => value.includes(secret));
  const namedBySecret = (name: string) => lower.some((secret) => name.includes(secret));
  const dirty = Object.entries(headers).some(
    ([name, v]) => namedBySecret(name) || (v !== undefined && (Array.isArray(v) ? v.some(holds) : holds(v))),
  );
  if (!dirty) return headers;
  const clean = (value: string) => list.reduce((text, secret) => text.split(secret).join(redaction(secret)), value);
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || namedBySecret(name)) continue;
    out[name] = Array.isArray(value) ? value.map(clean) : clean(value);
  }
  return out;
}
