import OpenAI from 'openai';
import { CLIENT_TOKEN } from './topology';

export interface Answer {
  status: number;
  retryAfterS?: number;
  /** ms epoch when the answer arrived. */
  at: number;
}

export function openaiClient(baseURL: string): OpenAI {
  return new OpenAI({ baseURL, apiKey: CLIENT_TOKEN, maxRetries: 0, timeout: 60_000 });
}

/** `n` concurrent chat completions through the official SDK; every outcome as status (+ Retry-After). */
export async function burst(baseURL: string, n: number): Promise<Answer[]> {
  const client = openaiClient(baseURL);
  return Promise.all(
    Array.from({ length: n }, async (): Promise<Answer> => {
      try {
        await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
        return { status: 200, at: Date.now() };
      } catch (error) {
        if (error instanceof OpenAI.APIError && error.status !== undefined) {
          const retryAfter = error.headers?.get('retry-after');
          return { status: error.status, ...(retryAfter ? { retryAfterS: Number(retryAfter) } : {}), at: Date.now() };
        }
        return { status: -1, at: Date.now() };
      }
    }),
  );
}

export function tally(answers: Answer[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
}

/** One request per key of the pool, so Rotor learns every key's budget ("warm"). */
export async function warm(baseURL: string, keys: number): Promise<void> {
  const answers = await burst(baseURL, keys);
  if (answers.some((a) => a.status !== 200)) throw new Error(`warm-up failed: ${JSON.stringify(tally(answers))}`);
}
