import type { ProviderKind } from './providers/provider';

/** The validated, resolved configuration every service reads. Built by `parseConfig`, never by hand. */
export interface RotorConfig {
  port: number;
  host: string;
  redis: RedisConfig;
  /** HMAC key for key ids (see `keyId`). */
  keyIdSecret: string;
  /** Accepted client bearer tokens; empty strings already dropped. */
  clientTokens: string[];
  adminToken?: string;
  /** When set, the proxy serves /metrics on this port instead of its main one. */
  metricsPort?: number;
  maxBodyBytes: number;
  retry: { maxAttempts: number; on5xx: boolean; onTimeout: boolean };
  timeouts: { headersMs: number; idleMs: number; clientHeadersMs: number; clientRequestMs: number };
  backoff: { baseMs: number; factor: number; maxMs: number; jitter: number };
  circuitBreaker: { failures: number };
  /** Keys one client token's requests may take out of rotation per minute; 0 = no limit. */
  clientLimits: { keysOutPerMinute: number };
  /** In-flight lease TTL: a crashed replica's leases expire after this. */
  leaseTtlMs: number;
  log: { level: LogLevel };
  pools: Record<string, PoolConfig>;
  /** Longest prefix first, so the first match is the right one. */
  routes: RouteConfig[];
  worker: WorkerConfig;
}

export type AccountScope = 'organization' | 'project';
export type FailurePolicy = 'fail-open' | 'fail-closed';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface RedisConfig {
  /** redis://, rediss://, redis+sentinel://hosts/<master>, redis+cluster://hosts, or memory:// (no Redis). */
  url: string;
  prefix: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  failurePolicy: FailurePolicy;
  fallback: FallbackConfig;
}

/** fail-open: a replica's in-memory rotation while Redis is unreachable. */
export interface FallbackConfig {
  /** Each key's budget is divided by this in fallback; 'auto' = replicas seen alive through Redis. */
  replicas: number | 'auto';
  /** Heartbeat + copy of Redis's key states into the fallback, this often while Redis is healthy. */
  refreshMs: number;
  /** Try Redis again this often while cut off from it. */
  recoverEveryMs: number;
}

/** Declared per-key budget. `windowMs` is 60 000 (a minute) unless a test scales it down. */
export interface KeyLimits {
  rpm?: number;
  tpm?: number;
  windowMs: number;
  /** Per model or model group name (see `groupLimits`), in the same window. */
  models?: Record<string, ModelLimit>;
}

export interface ModelLimit {
  rpm?: number;
  tpm?: number;
}

export interface PoolKey {
  /** `keyId(secret, keyIdSecret)`: the only name Redis, logs and metrics ever see. */
  id: string;
  label?: string;
  /**
   * The API key. NON-ENUMERABLE: JSON.stringify, util.inspect, spreads and Object.keys skip it, so a
   * logged config leaks nothing. Read it as `key.secret`; `{ ...key }` drops it.
   */
  secret: string;
  weight: number;
  /** The organization/account that owns the key, as declared (keys of one account share its limits). */
  account?: string;
  /** Pool limits with this key's own limits laid over them (per model entry, field by field). */
  limits?: KeyLimits;
  /** Headers sent upstream with this key (the pool's `headers` with the key's own laid over them). */
  headers?: Record<string, string>;
}

export interface PoolConfig {
  name: string;
  provider: ProviderKind;
  /** No trailing slash; the route's rest of path is appended as is. */
  baseUrl: string;
  keys: PoolKey[];
  limits?: KeyLimits;
  /** How long a request may wait for a cooling key instead of getting a 429 at once. */
  maxWaitMs: number;
  /** Pass `openai-organization` / `openai-project` / `anthropic-organization-id` of answers to clients. */
  exposeAccountHeaders: boolean;
  /** Output tokens a request is estimated at when it names no limit of its own. */
  defaultOutputTokens: number;
  probeModel: string;
  /**
   * Group name → models the provider limits together (`gpt-4o-mini*` = every model starting so).
   * No model is in two groups, and no group is named after another group's model.
   */
  modelGroups: Record<string, string[]>;
  /** Model groups the pool tracks per account; configured groups always count, other models past it share `other`. */
  maxModelGroups: number;
  /** What one account is: an organization, or each project of it. */
  accountScope: AccountScope;
  /** May have no keys (then its routes answer 503; the start and /readyz say so). */
  optional: boolean;
}

export interface RouteConfig {
  /** Starts with '/', no trailing slash (except the catch-all '/'). */
  prefix: string;
  pool: string;
}

export interface WorkerConfig {
  metricsPort: number;
  probe: {
    /** First probe delay per reason a key left rotation. */
    suspendedAfterMs: number;
    quotaAfterMs: number;
    invalidAfterMs: number;
    /** A key suspected invalid on one answer is probed this soon (the free listing). */
    suspectAfterMs: number;
    maxBackoffMs: number;
    timeoutMs: number;
  };
  /** How often a sweep schedules probes for parked keys that have none (e.g. a proxy died before enqueueing). */
  reconcileEveryMs: number;
  /** Probes run at once per worker replica. */
  concurrency: number;
  /** A running probe's lock lasts this long and is renewed while its worker lives. */
  lockDurationMs: number;
  /** How often each replica looks for probes whose lock expired (a dead worker) and runs them again. */
  stalledIntervalMs: number;
}
