import crypto from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { isRecord, maskKey, messagesChars, tokensForChars } from './content';
import type { Completion, Dialect, GenerateRequest, RateLimitInfo, Reply, SseEvent } from './dialect';
import type { WindowSnapshot } from './limits';
import { formatOpenAiDuration, retryAfterSeconds } from './time-format';

/** The OpenAI API (and every OpenAI-compatible host): `Authorization: Bearer`, `x-ratelimit-*` headers. */

const MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1-mini', 'o4-mini'];
const FINGERPRINT = 'fp_sim0001';

function error(status: number, message: string, type: string, code: string | null, param: string | null = null): Reply {
  return { status, body: { error: { message, type, param, code } } };
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function usage(completion: Completion) {
  return {
    prompt_tokens: completion.promptTokens,
    completion_tokens: completion.completionTokens,
    total_tokens: completion.promptTokens + completion.completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

export const openaiApi: Dialect = {
  name: 'openai',

  route(method, path) {
    if (method === 'GET' && path === '/v1/models') return 'models';
    if (method === 'POST' && path === '/v1/chat/completions') return 'generate';
    if (path.startsWith('/v1/organization/')) return 'admin';
    return 'unknown';
  },

  extractKey(headers) {
    const match = /^Bearer\s+(.+)$/i.exec(headerValue(headers, 'authorization')?.trim() ?? '');
    return match?.[1]?.trim() || undefined;
  },

  checkHeaders() {
    return undefined;
  },

  requestIdHeader: 'x-request-id',
  newRequestId: () => `req_${crypto.randomBytes(16).toString('hex')}`,

  rateLimitHeaders(snapshot: WindowSnapshot, now: number) {
    // Fixed windows refill all at once, so both resets point at the window's end.
    const reset = formatOpenAiDuration(snapshot.resetAt - now);
    const headers: Record<string, string> = {
      'x-ratelimit-limit-requests': String(snapshot.limits.rpm),
      'x-ratelimit-remaining-requests': String(snapshot.remainingRequests),
      'x-ratelimit-reset-requests': reset,
    };
    if (snapshot.limits.tpm !== undefined && snapshot.remainingTokens !== undefined) {
      headers['x-ratelimit-limit-tokens'] = String(snapshot.limits.tpm);
      headers['x-ratelimit-remaining-tokens'] = String(snapshot.remainingTokens);
      headers['x-ratelimit-reset-tokens'] = reset;
    }
    return headers;
  },

  // OpenAI's API reference lists `openai-organization` among the headers of every answer; a project
  // key's answers also name its project.
  organizationHeaders(organization, project) {
    const headers: Record<string, string> = { 'openai-organization': organization.id };
    if (project !== undefined) headers['openai-project'] = project;
    return headers;
  },

  missingKey: () =>
    error(
      401,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
      'invalid_request_error',
      null,
    ),

  invalidKey: (secret) =>
    error(
      401,
      `Incorrect API key provided: ${maskKey(secret)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
      'invalid_request_error',
      'invalid_api_key',
    ),

  notFound: (method, path) => error(404, `Invalid URL (${method} ${path})`, 'invalid_request_error', null),

  // What OpenAI answers a project key on /v1/organization/*: a 401 that is about scopes, not the key.
  adminOnly: () =>
    error(
      401,
      "You have insufficient permissions for this operation. Missing scopes: api.management.read. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.",
      'invalid_request_error',
      null,
    ),

  forbiddenModel: () => error(403, 'You are not allowed to sample from this model', 'invalid_request_error', null),

  badRequest: (message) => error(400, message, 'invalid_request_error', null),

  rateLimited(info: RateLimitInfo) {
    const what = info.dimension === 'requests' ? 'requests per min (RPM)' : 'tokens per min (TPM)';
    const where = `${info.model} in organization ${info.organization.id} on ${what}`;
    // A request larger than the whole limit can never pass; OpenAI words that 429 differently.
    const message =
      info.requested > info.limit
        ? `Request too large for ${where}: Limit ${info.limit}, Requested ${info.requested}. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.`
        : `Rate limit reached for ${where}: Limit ${info.limit}, Used ${info.used}, Requested ${info.requested}. Please try again in ${formatOpenAiDuration(info.retryAfterMs)}. Visit https://platform.openai.com/account/rate-limits to learn more.`;
    const reply = error(429, message, info.dimension, 'rate_limit_exceeded');
    reply.headers = {
      'retry-after': String(retryAfterSeconds(info.retryAfterMs)),
      'retry-after-ms': String(Math.ceil(info.retryAfterMs)),
    };
    return reply;
  },

  // Deliberately no retry-after: waiting does not help, the key needs money (the proxy must suspend it).
  quota: () =>
    error(
      429,
      'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
      'insufficient_quota',
      'insufficient_quota',
    ),

  serverError: () =>
    error(500, 'The server had an error while processing your request. Sorry about that!', 'server_error', null),

  models: () => ({
    status: 200,
    body: {
      object: 'list',
      data: MODELS.map((id) => ({ id, object: 'model', created: 1_715_367_049, owned_by: 'system' })),
    },
  }),

  parseGenerate(body: unknown): GenerateRequest | Reply {
    if (!isRecord(body)) return error(400, 'The body of your request must be a JSON object.', 'invalid_request_error', null);
    if (typeof body.model !== 'string' || body.model === '') {
      return error(400, 'you must provide a model parameter', 'invalid_request_error', null);
    }
    if (!Array.isArray(body.messages)) {
      return error(400, "Missing required parameter: 'messages'.", 'invalid_request_error', 'missing_required_parameter', 'messages');
    }
    const maxTokens = body.max_completion_tokens ?? body.max_tokens;
    const streamOptions = isRecord(body.stream_options) ? body.stream_options : {};
    return {
      model: body.model,
      stream: body.stream === true,
      includeUsage: streamOptions.include_usage === true,
      promptTokens: tokensForChars(messagesChars(body.messages)),
      maxTokens: typeof maxTokens === 'number' && maxTokens > 0 ? maxTokens : 16,
    };
  },

  completion(request, completion) {
    return {
      id: `chatcmpl-sim${crypto.randomBytes(12).toString('hex')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: request.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: completion.pieces.join(''), refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: usage(completion),
      service_tier: 'default',
      system_fingerprint: FINGERPRINT,
    };
  },

  streamEvents(request, completion): SseEvent[] {
    const id = `chatcmpl-sim${crypto.randomBytes(12).toString('hex')}`;
    const created = Math.floor(Date.now() / 1000);
    // With include_usage every chunk carries `usage: null` and one extra chunk carries the totals.
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): SseEvent => ({
      data: JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model: request.model,
        service_tier: 'default',
        system_fingerprint: FINGERPRINT,
        choices,
        ...(request.includeUsage ? { usage: null } : {}),
        ...extra,
      }),
    });
    const choice = (delta: Record<string, unknown>, finishReason: string | null) => ({
      index: 0,
      delta,
      logprobs: null,
      finish_reason: finishReason,
    });
    const events: SseEvent[] = [chunk([choice({ role: 'assistant', content: '', refusal: null }, null)])];
    for (const piece of completion.pieces) events.push(chunk([choice({ content: piece }, null)]));
    events.push(chunk([choice({}, 'stop')]));
    if (request.includeUsage) events.push(chunk([], { usage: usage(completion) }));
    events.push({ data: '[DONE]' });
    return events;
  },
};
