import crypto from 'node:crypto';
import { contentChars, isRecord, tokensForChars } from './content';
import type { Completion, Dialect, GenerateRequest, Reply, SseEvent } from './dialect';
import { openaiApi } from './openai-api';

/**
 * OpenAI's Responses API (`POST /v1/responses`), the default of the Vercel AI SDK 6. Same host,
 * credential, headers and errors as chat completions (so it spreads `openaiApi`), and the same buckets:
 * only the request and answer shapes differ. `input` is a string or a list of items; `max_output_tokens`
 * is the output limit counted against tpm (default 16, as for chat).
 */

const DEFAULT_MAX_OUTPUT_TOKENS = 16;

function error(status: number, message: string, param: string | null, code: string | null = null): Reply {
  return { status, body: { error: { message, type: 'invalid_request_error', param, code } } };
}

const hexId = (prefix: string) => `${prefix}${crypto.randomBytes(24).toString('hex')}`;

/** Text characters of `input`: a string, or items whose `content` is a string or parts (`output` for tool results). */
function inputChars(input: unknown): number {
  if (typeof input === 'string') return input.length;
  if (!Array.isArray(input)) return 0;
  let chars = 0;
  for (const item of input) {
    if (!isRecord(item)) continue;
    chars += contentChars(item.content);
    if (typeof item.output === 'string') chars += item.output.length;
  }
  return chars;
}

interface ResponseIds {
  response: string;
  message: string;
  createdAt: number;
}

function outputMessage(ids: ResponseIds, text: string | undefined) {
  const done = text !== undefined;
  return {
    id: ids.message,
    type: 'message',
    status: done ? 'completed' : 'in_progress',
    role: 'assistant',
    content: done ? [{ type: 'output_text', text, annotations: [], logprobs: [] }] : [],
  };
}

/** The Response object; `text` undefined = still in progress (the stream's first events). */
function responseObject(request: GenerateRequest, completion: Completion, ids: ResponseIds, text: string | undefined) {
  const done = text !== undefined;
  return {
    id: ids.response,
    object: 'response',
    created_at: ids.createdAt,
    status: done ? 'completed' : 'in_progress',
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: request.maxTokens,
    model: request.model,
    output: done ? [outputMessage(ids, text)] : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: true,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage: done
      ? {
          input_tokens: completion.promptTokens,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: completion.completionTokens,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: completion.promptTokens + completion.completionTokens,
        }
      : null,
    user: null,
    metadata: {},
  };
}

const newIds = (): ResponseIds => ({
  response: hexId('resp_'),
  message: hexId('msg_'),
  createdAt: Math.floor(Date.now() / 1000),
});

export const openaiResponsesApi: Dialect = {
  ...openaiApi,

  route(method, path) {
    if (method === 'POST' && path === '/v1/responses') return 'generate';
    return openaiApi.route(method, path);
  },

  parseGenerate(body: unknown): GenerateRequest | Reply {
    if (!isRecord(body)) return error(400, 'The body of your request must be a JSON object.', null);
    if (typeof body.model !== 'string' || body.model === '') {
      return error(400, "Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
    }
    const instructions = typeof body.instructions === 'string' ? body.instructions.length : 0;
    const maxOutput = body.max_output_tokens;
    return {
      model: body.model,
      stream: body.stream === true,
      // The Responses stream always ends with usage (in response.completed); there is no option for it.
      includeUsage: true,
      promptTokens: tokensForChars(inputChars(body.input) + instructions),
      maxTokens: typeof maxOutput === 'number' && maxOutput > 0 ? maxOutput : DEFAULT_MAX_OUTPUT_TOKENS,
    };
  },

  completion(request, completion) {
    return responseObject(request, completion, newIds(), completion.pieces.join(''));
  },

  /** The event sequence of a plain text answer, each with `event:` = its type and a rising `sequence_number`. */
  streamEvents(request, completion): SseEvent[] {
    const ids = newIds();
    const text = completion.pieces.join('');
    const at = { item_id: ids.message, output_index: 0, content_index: 0 };
    const types: [string, Record<string, unknown>][] = [
      ['response.created', { response: responseObject(request, completion, ids, undefined) }],
      ['response.in_progress', { response: responseObject(request, completion, ids, undefined) }],
      ['response.output_item.added', { output_index: 0, item: outputMessage(ids, undefined) }],
      ['response.content_part.added', { ...at, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } }],
      ...completion.pieces.map((delta): [string, Record<string, unknown>] => ['response.output_text.delta', { ...at, delta, logprobs: [] }]),
      ['response.output_text.done', { ...at, text, logprobs: [] }],
      ['response.content_part.done', { ...at, part: { type: 'output_text', text, annotations: [], logprobs: [] } }],
      ['response.output_item.done', { output_index: 0, item: outputMessage(ids, text) }],
      ['response.completed', { response: responseObject(request, completion, ids, text) }],
    ];
    return types.map(([type, payload], sequence) => ({
      event: type,
      data: JSON.stringify({ type, sequence_number: sequence, ...payload }),
    }));
  },
};
