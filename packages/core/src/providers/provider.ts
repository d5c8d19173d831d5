import type { HeaderMap } from '../headers';
import type { Outcome, RateLimitInfo } from '../outcome';

export const PROVIDER_KINDS = ['openai', 'anthropic', 'gemini', 'azure-openai'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

export interface ClassifyInput {
  /** HTTP status, when response headers arrived. */
  status?: number;
  headers?: HeaderMap;
  /** At most the first ~16 KB of an error response body, when it was read. May be cut mid-JSON. */
  body?: string;
  /** Set instead of `status` when no response arrived. */
  failure?: 'timeout' | 'connection_error';
  nowMs: number;
}

export interface ProbeSpec {
  /** Free listing, relative to the pool's baseUrl: proves a key valid, says nothing of its quota. */
  listPath: string;
  /** The smallest billed request (1 output token), relative to the pool's baseUrl. */
  minimalRequest(model: string): { method: 'POST'; path: string; body: unknown };
  defaultModel: string;
  /** Headers the provider requires that a real client would have sent (e.g. `anthropic-version`). */
  extraHeaders?: Record<string, string>;
}

/** Everything Rotor knows about one provider kind. Adding a provider = one module + one line in `index.ts`. */
export interface Provider {
  kind: ProviderKind;
  /** Upstream base URL when a pool names none (absent for Azure: every resource has its own host). */
  defaultBaseUrl?: string;
  /** Headers that put a key on an upstream request (exactly one credential). */
  credentialHeaders(secret: string): Record<string, string>;
  /** Read rate-limit headers (lower-case header names, Node's IncomingHttpHeaders shape). */
  parseRateLimit(headers: HeaderMap, nowMs: number): RateLimitInfo;
  /** Classify an attempt. */
  classify(input: ClassifyInput): Outcome;
  /** Rotor's own error answers (401, 404, 413, 429 exhaustion, 502, 503, 504) in this provider's error JSON shape. */
  errorBody(status: number, message: string, type?: string): unknown;
  /** How the worker re-tests a key. */
  probe: ProbeSpec;
}
