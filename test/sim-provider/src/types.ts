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

/** Per-model limits by model (or model-group) name. A model not listed draws on the owner's `rpm`/`tpm`. */
export type ModelLimits = Record<string, Limits>;

/**
 * The budget of a rate-limit owner (an organization, or a key that belongs to none). Fields left out
 * fall back to `SimOptions.defaultLimits` (and `models` entries merge over its `models`).
 */
export interface BudgetOptions {
  rpm?: number;
  tpm?: number;
  /** Limits per model or model group, each with its own window (the default bucket is shared by every model not listed). */
  models?: ModelLimits;
}

export interface KeyOptions extends BudgetOptions {
  mode?: KeyMode;
  /**
   * The organization the key belongs to: all its keys draw on the organization's budget
   * (`SimOptions.orgs[org]`), so a key with `org` must not declare rpm/tpm/models itself.
   * Without it the key is its own organization, with an id derived from the key.
   */
  org?: string;
  /** OpenAI project (`proj_...`): sent as `openai-project`; it shares the organization's limits. */
  project?: string;
}

/** Limits of an organization, shared by every key that names it. */
export type OrgOptions = BudgetOptions;

/** Who a key's answers say it belongs to. */
export interface Organization {
  /** `openai-organization` and OpenAI 429 messages: the declared name, or `org-` + 24 chars derived from the key. */
  id: string;
  /** `anthropic-organization-id` and Anthropic 429 messages: a UUID derived from `id`. */
  anthropicId: string;
}

export interface SimOptions {
  /** Default 0 (a random free port). Always binds 127.0.0.1. */
  port?: number;
  /** Length of a rate-limit "minute" in ms (default 60000). */
  windowMs?: number;
  /**
   * Limits of a key that is accepted but not listed, and the fallback for every owner's missing fields
   * (default rpm 60, no tpm). `models` here gives every organization those per-model limits.
   */
  defaultLimits?: Limits & { models?: ModelLimits };
  /** Organizations by id (what `openai-organization` says), for keys that name one with `org`. */
  orgs?: Record<string, OrgOptions>;
  /**
   * Models limited together, by group name: `{ 'gpt-4o': ['gpt-4o', 'gpt-4o-2024-08-06'] }`. A request
   * naming a member draws on the bucket of the group's name (when the owner lists that name in `models`).
   */
  modelGroups?: Record<string, string[]>;
  /** Known keys by secret. */
  keys?: Record<string, KeyOptions>;
  /** Demo mode: any non-empty key is valid with `defaultLimits` (default false: unlisted keys get 401). */
  acceptAnyKey?: boolean;
  /** Delay before the response headers of a successful request (default 0). Errors are answered at once. */
  latencyMs?: number;
  /**
   * Up to this much more delay, drawn uniformly per request (default 0). Real answers vary: with a
   * constant latency, closed-loop clients answer and come back in lock step, a burst every latencyMs.
   */
  latencyJitterMs?: number;
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

/** One (organization, model) bucket as the simulator counted it since the last `reset()`. */
export interface BucketStats {
  /** Organization id (`Organization.id`). */
  org: string;
  /** The model group the bucket limits, or `*` for the owner's default bucket (every model not listed). */
  model: string;
  /** Limits applied at the last counted request. */
  limits: Limits;
  /** Requests counted against the bucket (2xx or a stall after admission). */
  admitted: number;
  /** 429s on rpm or tpm; `refusedOnTokens` of them on tokens. */
  refused: number;
  refusedOnTokens: number;
  /** Windows opened since reset. */
  windows: number;
  /** Most 429s within one window: "at most 1 upstream 429 per bucket per window" is `<= 1`. */
  maxRefusedInWindow: number;
  /** The open window (zeros and `Date.now()` when none is open). */
  usedRequests: number;
  usedTokens: number;
  windowEndsAt: number;
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
  /**
   * Epoch ms when the window of the bucket this key draws on for `model` ends (no model: the default
   * bucket); `Date.now()` if it has no open window (nothing to wait for).
   */
  windowEndsAt(secret: string, model?: string): number;
  /** Pre-spends n requests of that bucket's current window (opening one if needed): "used by someone else". */
  consume(secret: string, n: number, model?: string): void;
  /** Also registers an unlisted secret as a known key. */
  setMode(secret: string, mode: KeyMode): void;
  /**
   * Sets the limits of the key's budget owner (its organization, when it has one) for `model`, or its
   * default limits. Also registers an unlisted secret as a known key. Applies to the current window at once.
   */
  setLimits(secret: string, limits: Limits, model?: string): void;
  /** The organization a key's answers name; undefined for a key the simulator does not accept. */
  organization(secret: string): Organization | undefined;
  /** The bucket a request with this key and model draws on (zeros if it has counted nothing yet). */
  bucket(secret: string, model?: string): BucketStats | undefined;
  /** Every bucket that counted a request (or a `consume`) since reset. */
  buckets(): BucketStats[];
  readonly requestLog: RequestLogEntry[];
  readonly aborted: AbortedEntry[];
  /** Zeroes counters and windows and empties the logs. Modes and limits set at runtime are kept. */
  reset(): void;
  /** Stops listening and drops every open connection (hung requests included). */
  close(): Promise<void>;
}
