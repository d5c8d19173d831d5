/**
 * Public types of the simulated provider. Kept apart from the implementation so that tests and
 * other packages can import them without pulling in the server.
 */

/**
 * How a key behaves, settable at any time with `setMode`:
 * - `ok`: normal, subject to its rpm/tpm window.
 * - `quota`: billing exhausted (OpenAI 429 `insufficient_quota`, Anthropic 400 "credit balance is too low").
 *   `GET /v1/models` still succeeds, like the real APIs, which is why a probe for a quota-suspended key
 *   must be a billed request.
 * - `invalid`: revoked key, 401 on every endpoint.
 * - `server_error`: OpenAI 500 `server_error`, Anthropic 529 `overloaded_error`.
 * - `hang`: the request is read and never answered (until the client or `close()` drops the socket).
 * - `hang_mid_stream`: admitted normally (counts against the window), 200 headers and the first SSE
 *   event (or the first half of the JSON body) are sent, then nothing more.
 */
export type KeyMode = 'ok' | 'quota' | 'invalid' | 'server_error' | 'hang' | 'hang_mid_stream';

export interface Limits {
  /** Requests per window. */
  rpm: number;
  /** Tokens per window; undefined = no token limit, and then no token rate-limit headers are sent. */
  tpm?: number;
}

export interface KeyOptions {
  rpm?: number;
  tpm?: number;
  mode?: KeyMode;
}

export interface SimOptions {
  /** Default 0 (a random free port). Always binds 127.0.0.1. */
  port?: number;
  /** Length of a rate-limit "minute" in ms (default 60000). */
  windowMs?: number;
  /** Limits of a key that is accepted but not listed, and the fallback for listed keys (default rpm 60, no tpm). */
  defaultLimits?: Limits;
  /** Known keys by secret. */
  keys?: Record<string, KeyOptions>;
  /** Demo mode: any non-empty key is valid with `defaultLimits` (default false: unlisted keys get 401). */
  acceptAnyKey?: boolean;
  /** Delay before the response headers of a successful request (default 0). Errors are answered at once. */
  latencyMs?: number;
  /** Shape of streamed responses: number of content chunks (default 5) and the pause between them (default 0). */
  stream?: { chunks?: number; chunkDelayMs?: number };
  /** Cap on `requestLog` and `aborted` entries; the oldest are dropped (default 10000) so benchmarks stay flat. */
  maxLogEntries?: number;
  /** Models no key may use: generate requests naming one get the dialect's 403 permission error. */
  forbiddenModels?: string[];
}

export interface KeyStats {
  /** Every authenticated request for this key, probes included. */
  calls: number;
  /** 2xx answers to billed requests (chat completions / messages). */
  ok: number;
  /** 429 for rpm or tpm. */
  rateLimited: number;
  /** Quota-mode refusals. */
  quota: number;
  /** Invalid-mode 401s to billed requests. */
  invalid: number;
  /** server_error-mode answers (500 / 529) to billed requests. */
  serverErrors: number;
  /** `GET /v1/models` calls. These are free and are counted ONLY here and in `calls`, never in the outcome counters above. */
  probes: number;
}

export interface Totals extends KeyStats {
  /** Requests with no key or an unknown key (401 before any per-key accounting). */
  unauthenticated: number;
}

export interface RequestLogEntry {
  secret?: string;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  at: number;
}

export interface AbortedEntry {
  secret?: string;
  path: string;
  at: number;
}

export interface SimProvider {
  /** http://127.0.0.1:<port>. OpenAI baseURL = url + '/v1'; Anthropic baseURL = url. */
  url: string;
  port: number;
  stats(secret: string): KeyStats;
  totals(): Totals;
  /** Epoch ms when this key's current window ends; `Date.now()` if it has no open window (nothing to wait for). */
  windowEndsAt(secret: string): number;
  /** Pre-spends n requests of the key's current window (opening one if needed): "used by someone else". */
  consume(secret: string, n: number): void;
  /** Also registers an unlisted secret as a known key. */
  setMode(secret: string, mode: KeyMode): void;
  /** Also registers an unlisted secret as a known key. Applies to the current window at once. */
  setLimits(secret: string, limits: Limits): void;
  readonly requestLog: RequestLogEntry[];
  readonly aborted: AbortedEntry[];
  /** Zeroes counters and windows and empties the logs. Modes and limits set at runtime are kept. */
  reset(): void;
  /** Stops listening and drops every open connection (hung requests included). */
  close(): Promise<void>;
}
