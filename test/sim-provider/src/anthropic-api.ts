import crypto from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { contentChars, isRecord, messagesChars, tokensForChars } from './content';
import type { Completion, Dialect, GenerateRequest, RateLimitInfo, Reply, SseEvent } from './dialect';
import type { WindowSnapshot } from './limits';
import { formatRfc3339, retryAfterSeconds } from './time-format';

/** The Anthropic API: `x-api-key` or `Authorization: Bearer`, mandatory `anthropic-version`, `anthropic-ratelimit-*` headers. */

const MODELS = [
  { id: 'claude-sonnet-4-5-20250929', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' },
  { id: 'claude-haiku-4-5-20251001', display_name: 'Claude Haiku 4.5', created_at: '2025-10-01T00:00:00Z' },
  { id: 'claude-3-5-haiku-20241022', display_name: 'Claude Haiku 3.5', created_at: '2024-10-22T00:00:00Z' },
];

function error(status: number, type: string, message: string): Reply {
  return { status, body: { type: 'error', error: { type, message } } };
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Real ids look like `msg_01XFDUDYJgAACzvnptvVoYEL`: a fixed prefix and base62. */
const randomId = (prefix: string) =>
  prefix + Array.from(crypto.randomBytes(22), (byte) => BASE62[byte % BASE62.length]).join('');

function message(request: GenerateRequest, completion: Completion, id: string, content: unknown[], stopped: boolean) {
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: request.model,
    content,
    stop_reason: stopped ? 'end_turn' : null,
    stop_sequence: null,
    usage: {
      input_tokens: completion.promptTokens,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      // message_start reports 1 output token so far, as the real stream does.
      output_tokens: stopped ? completion.completionTokens : 1,
      service_tier: 'standard',
    },
  };
}

const event = (type: string, payload: Record<string, unknown>): SseEvent => ({
  event: type,
  data: JSON.stringify({ type, ...payload }),
});

export const anthropicApi: Dialect = {
  name: 'anthropic',

  route(method, path) {
    if (method === 'GET' && path === '/v1/models') return 'models';
    if (method === 'POST' && path === '/v1/messages') return 'generate';
    if (path.startsWith('/v1/organizations/')) return 'admin';
    return 'unknown';
  },

  /**
   * `x-api-key` is the classic credential header; API version 2026-10-21 and the official SDK >= 1.0
   * send the API key as `Authorization: Bearer` instead, so both are accepted. When both are present
   * `x-api-key` wins: a proxy that injects one must strip the client's other one (see requestLog).
   */
  extractKey(headers) {
    const apiKey = headerValue(headers, 'x-api-key')?.trim();
    if (apiKey) return apiKey;
    const match = /^Bearer\s+(.+)$/i.exec(headerValue(headers, 'authorization')?.trim() ?? '');
    return match?.[1]?.trim() || undefined;
  },

  checkHeaders(headers) {
    if (headerValue(headers, 'anthropic-version')) return undefined;
    return error(400, 'invalid_request_error', 'anthropic-version: header is required');
  },

  requestIdHeader: 'request-id',
  newRequestId: () => randomId('req_011'),

  rateLimitHeaders(snapshot: WindowSnapshot) {
    const reset = formatRfc3339(snapshot.resetAt);
    const headers: Record<string, string> = {
      'anthropic-ratelimit-requests-limit': String(snapshot.limits.rpm),
      'anthropic-ratelimit-requests-remaining': String(snapshot.remainingRequests),
      'anthropic-ratelimit-requests-reset': reset,
    };
    if (snapshot.limits.tpm !== undefined && snapshot.remainingTokens !== undefined) {
      headers['anthropic-ratelimit-tokens-limit'] = String(snapshot.limits.tpm);
      headers['anthropic-ratelimit-tokens-remaining'] = String(snapshot.remainingTokens);
      headers['anthropic-ratelimit-tokens-reset'] = reset;
    }
    return headers;
  },

  // Anthropic's API overview: every answer carries `anthropic-organization-id` (a UUID).
  organizationHeaders: (organization) => ({ 'anthropic-organization-id': organization.anthropicId }),

  missingKey: () => error(401, 'authentication_error', 'x-api-key header is required'),
  // The real API does not echo any part of the key here.
  invalidKey: () => error(401, 'authentication_error', 'invalid x-api-key'),
  notFound: () => error(404, 'not_found_error', 'Not found'),
  adminOnly: () => error(403, 'permission_error', 'This endpoint requires an Admin API key.'),
  forbiddenModel: () => error(403, 'permission_error', 'Your API key does not have permission to use the specified resource.'),
  badRequest: (text) => error(400, 'invalid_request_error', text),

  rateLimited(info: RateLimitInfo) {
    const what = info.dimension === 'requests' ? 'requests per minute' : 'input tokens per minute';
    // The wording of the API's current 429s, which name the organization's UUID and the model.
    const reply = error(
      429,
      'rate_limit_error',
      `This request would exceed your organization's rate limit of ${info.limit.toLocaleString('en-US')} ${what} (org: ${info.organization.anthropicId}, model: ${info.model}). For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://claude.com/contact-sales to discuss your options for a rate limit increase.`,
    );
    reply.headers = { 'retry-after': String(retryAfterSeconds(info.retryAfterMs)) };
    return reply;
  },

  // Anthropic signals an empty balance with a 400, not a 429: the proxy must read the message.
  quota: () =>
    error(
      400,
      'invalid_request_error',
      'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.',
    ),

  serverError: () => error(529, 'overloaded_error', 'Overloaded'),

  models: () => {
    const data = MODELS.map((model) => ({ type: 'model', ...model }));
    return {
      status: 200,
      body: { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null },
    };
  },

  parseGenerate(body: unknown): GenerateRequest | Reply {
    if (!isRecord(body)) return error(400, 'invalid_request_error', 'The request body is not valid JSON.');
    if (typeof body.model !== 'string' || body.model === '') return error(400, 'invalid_request_error', 'model: Field required');
    if (typeof body.max_tokens !== 'number') return error(400, 'invalid_request_error', 'max_tokens: Field required');
    if (!Array.isArray(body.messages)) return error(400, 'invalid_request_error', 'messages: Field required');
    return {
      model: body.model,
      stream: body.stream === true,
      includeUsage: false,
      promptTokens: tokensForChars(messagesChars(body.messages) + contentChars(body.system)),
      maxTokens: body.max_tokens > 0 ? body.max_tokens : 16,
    };
  },

  completion(request, completion) {
    return message(request, completion, randomId('msg_01'), [{ type: 'text', text: completion.pieces.join('') }], true);
  },

  streamEvents(request, completion): SseEvent[] {
    const start = message(request, completion, randomId('msg_01'), [], false);
    const events: SseEvent[] = [
      event('message_start', { message: start }),
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      // The real stream sends a ping early on; clients (and the proxy) must pass unknown events through.
      event('ping', {}),
    ];
    for (const piece of completion.pieces) {
      events.push(event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece } }));
    }
    events.push(
      event('content_block_stop', { index: 0 }),
      event('message_delta', {
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: completion.completionTokens },
      }),
      event('message_stop', {}),
    );
    return events;
  },
};
