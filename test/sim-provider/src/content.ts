/**
 * What a simulated model "says" and how many tokens a request is charged. Both APIs use the same
 * text so that a streamed and a non-streamed answer of the same request agree.
 */

const WORDS = ['This', 'is', 'a', 'simulated', 'reply', 'from', 'the', 'Rotor', 'sim', 'provider.'];

/** The reply split into `n` stream pieces; joined they form the non-streamed text. */
export function replyPieces(n: number): string[] {
  const count = Math.max(1, Math.floor(n));
  return Array.from({ length: count }, (_, i) => (i === 0 ? '' : ' ') + WORDS[i % WORDS.length]);
}

/** The rough rule of thumb real providers document: about 4 characters per token. */
export function tokensForChars(chars: number): number {
  return Math.ceil(chars / 4);
}

/** Characters of text in a message `content` (a string or an array of `{ type: 'text', text }` parts). */
export function contentChars(content: unknown): number {
  if (typeof content === 'string') return content.length;
  if (!Array.isArray(content)) return 0;
  let chars = 0;
  for (const part of content) {
    if (typeof part === 'string') chars += part.length;
    else if (isRecord(part) && typeof part.text === 'string') chars += part.text.length;
  }
  return chars;
}

/** Characters of text over a `messages` array. */
export function messagesChars(messages: unknown[]): number {
  let chars = 0;
  for (const message of messages) if (isRecord(message)) chars += contentChars(message.content);
  return chars;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Mirrors real providers' key masking in error messages: only the last 4 characters, and only of a long key. */
export function maskKey(secret: string): string {
  return secret.length > 8 ? `...${secret.slice(-4)}` : '***';
}
