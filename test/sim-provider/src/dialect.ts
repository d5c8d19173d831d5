import type { IncomingHttpHeaders } from 'node:http';
import type { WindowSnapshot } from './limits';
import type { Organization } from './types';

/**
 * What differs between the OpenAI and the Anthropic API. The server does the routing, accounting and
 * transport; a dialect only knows paths, header names, and the shapes of bodies and errors.
 */

/** A complete JSON answer. */
export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** `admin`: organization-management endpoints an ordinary key may not use. */
export type Route = 'models' | 'generate' | 'admin' | 'unknown';

/** One server-sent event: `event:` line (Anthropic) and its `data:` payload. */
export interface SseEvent {
  event?: string;
  data: string;
}

/** The fields of a generation request the simulator acts on. */
export interface GenerateRequest {
  model: string;
  stream: boolean;
  /** OpenAI `stream_options.include_usage`: a final chunk with usage and empty choices. */
  includeUsage: boolean;
  promptTokens: number;
  /** Charged against tpm up front, like the real providers' estimate (`max_tokens`, else 16). */
  maxTokens: number;
}

export interface RateLimitInfo {
  dimension: 'requests' | 'tokens';
  limit: number;
  used: number;
  requested: number;
  retryAfterMs: number;
  /** The model the request named. */
  model: string;
  /** The organization whose budget refused it: the real messages name it. */
  organization: Organization;
}

/** A finished answer's text and token counts. */
export interface Completion {
  pieces: string[];
  promptTokens: number;
  completionTokens: number;
}

export interface Dialect {
  readonly name: 'openai' | 'anthropic';
  route(method: string, path: string): Route;
  /** The secret the client sent, or undefined when the API's credential header is missing/empty. */
  extractKey(headers: IncomingHttpHeaders): string | undefined;
  /** Header requirements checked after auth (Anthropic's `anthropic-version`). */
  checkHeaders(headers: IncomingHttpHeaders): Reply | undefined;
  requestIdHeader: string;
  newRequestId(): string;
  rateLimitHeaders(snapshot: WindowSnapshot, now: number): Record<string, string>;
  /** Who the key belongs to, on every answer to an authenticated key (`openai-organization`, `anthropic-organization-id`). */
  organizationHeaders(organization: Organization, project: string | undefined): Record<string, string>;

  missingKey(): Reply;
  invalidKey(secret: string): Reply;
  notFound(method: string, path: string): Reply;
  /** An admin endpoint asked with an ordinary key: the key is valid, it lacks the permission. */
  adminOnly(): Reply;
  /** A model this key's project may not use (SimOptions.forbiddenModels): 403, the key is fine. */
  forbiddenModel(model: string): Reply;
  badRequest(message: string): Reply;
  rateLimited(info: RateLimitInfo): Reply;
  quota(): Reply;
  serverError(): Reply;

  models(): Reply;
  /** Validates a parsed JSON body; an error Reply when a real API would refuse it. */
  parseGenerate(body: unknown): GenerateRequest | Reply;
  completion(request: GenerateRequest, completion: Completion): unknown;
  streamEvents(request: GenerateRequest, completion: Completion): SseEvent[];
}

export function isReply(value: GenerateRequest | Reply): value is Reply {
  return 'status' in value;
}
