import http from 'node:http';

/** Long enough to look like a real key, so error messages mask it the way they would a real one. */
export const OPENAI_KEY = 'sk-sim-openai-key-0001';
export const ANTHROPIC_KEY = 'sk-ant-sim-key-0001';

export interface RawResponse {
  status: number;
  headers: Headers;
  json: unknown;
}

/** A plain fetch, for what the SDKs hide (exact headers, error bodies of odd requests). */
export async function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<RawResponse> {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as unknown) : undefined };
}

export const openaiHeaders = (key = OPENAI_KEY) => ({ authorization: `Bearer ${key}` });
export const anthropicHeaders = (key = ANTHROPIC_KEY) => ({ 'x-api-key': key, 'anthropic-version': '2023-06-01' });

export const chatBody = (extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Say hello' }],
  ...extra,
});

export const messagesBody = (extra: Record<string, unknown> = {}) => ({
  model: 'claude-haiku-4-5-20251001',
  max_tokens: 32,
  messages: [{ role: 'user', content: 'Say hello' }],
  ...extra,
});

/**
 * Starts a streaming POST with node:http (which, unlike fetch, lets a test drop the socket at an
 * exact moment) and resolves with the response once the first body bytes arrived.
 */
export function openStream(
  url: string,
  path: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<{ res: http.IncomingMessage; req: http.ClientRequest; first: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(`${url}${path}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.setEncoding('utf8');
      res.once('data', (first: string) => {
        res.pause();
        resolve({ res, req, first });
      });
    });
    req.end(payload);
  });
}

/** Polls until `check` holds (or fails the test after `timeoutMs`). */
export async function waitFor(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** OpenAI-style duration ("1m30.5s", "20ms", "6m0s") to ms: written independently of the formatter under test. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(re)) {
    const value = Number(match[1]);
    const unit = match[2];
    total += unit === 'h' ? value * 3_600_000 : unit === 'm' ? value * 60_000 : unit === 's' ? value * 1000 : value;
    consumed += match[0].length;
  }
  if (consumed !== text.length || consumed === 0) throw new Error(`not a duration: "${text}"`);
  return total;
}

export const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
