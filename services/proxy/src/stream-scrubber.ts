import { redaction, replaceAll } from './scrub';

const EMPTY = Buffer.alloc(0);

/**
 * Replaces one secret in a byte stream that arrives in chunks, across chunk boundaries, at bounded
 * cost: each chunk is searched once (Buffer.indexOf) and only a tail that could be the start of the
 * secret is held back until the next chunk, so an SSE event that ends a chunk is never delayed
 * (its "\n\n" cannot start a key). Used for the key a response was served with: a provider can only
 * echo the key it was sent. The replacement has the secret's length (see `redaction`).
 */
export class StreamScrubber {
  private held: Buffer = EMPTY;
  private readonly needle: Buffer;
  private readonly replacement: Buffer;
  /** Bytes that can end a proper start of the secret: a chunk ending in any other byte holds nothing back. */
  private readonly canEndStart = new Uint8Array(256);

  constructor(secret: string) {
    this.needle = Buffer.from(secret);
    this.replacement = Buffer.from(redaction(secret));
    for (let i = 0; i < this.needle.length - 1; i++) this.canEndStart[this.needle[i]!] = 1;
  }

  /** The bytes of `chunk` (after what was held) that can go out now. */
  push(chunk: Buffer): Buffer {
    let data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    if (data.indexOf(this.needle) >= 0) data = replaceAll(data, this.needle, this.replacement);
    // An SSE chunk ends in "\n", which no key contains: the common case costs one table look-up.
    const keep = data.length > 0 && this.canEndStart[data[data.length - 1]!] === 1 ? partialTail(data, this.needle) : 0;
    this.held = keep > 0 ? Buffer.from(data.subarray(data.length - keep)) : EMPTY;
    return keep > 0 ? data.subarray(0, data.length - keep) : data;
  }

  /** What is still held at the end of the stream (shorter than the secret, so never the secret). */
  end(): Buffer {
    const rest = this.held;
    this.held = EMPTY;
    return rest;
  }
}

/** The length of the longest end of `data` that is a proper start of `needle` (0 when none). */
function partialTail(data: Buffer, needle: Buffer): number {
  const first = needle[0]!;
  const from = Math.max(0, data.length - needle.length + 1);
  for (let at = data.indexOf(first, from); at >= 0; at = data.indexOf(first, at + 1)) {
    if (data.compare(needle, 0, data.length - at, at) === 0) return data.length - at;
  }
  return 0;
}
