import type { ProviderKind } from './providers/provider';

/**
 * What one request will cost a provider's rate limits, read before it is sent: the model it names
 * (the provider limits per model) and its estimated tokens, counted the way OpenAI and Anthropic count
 * a request when it arrives: prompt characters ÷ 4 plus the output limit it asks for.
 */
export interface RequestCost {
  /** The model named by the body (`model`), Gemini's `models/{model}:…` path or Azure's deployment. */
  model?: string;
  /** ceil(prompt characters / 4) + the output limit (or `defaultOutputTokens` when it names none). */
  tokens: number;
}

/** Where the prompt is: the request fields whose text a provider counts against its token limit. */
const PROMPT_FIELDS = ['messages', 'input', 'prompt', 'system', 'contents', 'instructions'] as const;
/**
 * Inside those, fields that are not text the model reads as tokens: names and kinds, and binary
 * payloads (base64 images and files are priced per image / page, not per character).
 */
const NOT_TEXT = new Set([
  'role',
  'type',
  'name',
  'id',
  'tool_call_id',
  'call_id',
  'cache_control',
  'image_url',
  'input_image',
  'source',
  'inline_data',
  'inlineData',
  'file_data',
  'fileData',
  'file_id',
  'mime_type',
  'mimeType',
]);
const OUTPUT_LIMITS = ['max_tokens', 'max_completion_tokens', 'max_output_tokens'] as const;
const GEMINI_MODEL = /\/models\/([^/:?]+)/;
const AZURE_DEPLOYMENT = /\/deployments\/([^/?]+)/;

export function readRequestCost(
  kind: ProviderKind,
  path: string,
  body: Buffer | undefined,
  defaultOutputTokens: number,
): RequestCost {
  const json = parseObject(body);
  const model = modelOf(kind, path, json);
  let chars = 0;
  if (json) for (const field of PROMPT_FIELDS) chars += textLength(json[field]);
  const cost: RequestCost = { tokens: Math.ceil(chars / 4) + (outputLimit(json) ?? defaultOutputTokens) };
  if (model !== undefined) cost.model = model;
  return cost;
}

function modelOf(kind: ProviderKind, path: string, json: Record<string, unknown> | undefined): string | undefined {
  const pattern = kind === 'gemini' ? GEMINI_MODEL : kind === 'azure-openai' ? AZURE_DEPLOYMENT : undefined;
  const fromPath = pattern?.exec(path)?.[1];
  if (fromPath) return safeDecode(fromPath);
  const model = json?.model;
  return typeof model === 'string' && model.length > 0 ? model : undefined;
}

function outputLimit(json: Record<string, unknown> | undefined): number | undefined {
  if (!json) return undefined;
  for (const field of OUTPUT_LIMITS) {
    const value = json[field];
    if (typeof value === 'number' && value >= 0) return Math.ceil(value);
  }
  const gemini = (json.generationConfig as Record<string, unknown> | undefined)?.maxOutputTokens;
  return typeof gemini === 'number' && gemini >= 0 ? Math.ceil(gemini) : undefined;
}

/** Characters of text under `value`: every string leaf, except under NOT_TEXT fields. Iterative (no deep recursion). */
function textLength(value: unknown): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') total += item.length;
    else if (Array.isArray(item)) for (const element of item) stack.push(element);
    else if (item !== null && typeof item === 'object') {
      for (const [field, inner] of Object.entries(item)) if (!NOT_TEXT.has(field)) stack.push(inner);
    }
  }
  return total;
}

/** The body as a JSON object, or undefined (no body, not JSON, not an object: the provider's business). */
function parseObject(body: Buffer | undefined): Record<string, unknown> | undefined {
  if (!body) return undefined;
  let at = 0;
  while (at < body.length && (body[at] === 0x20 || body[at] === 0x0a || body[at] === 0x0d || body[at] === 0x09)) at++;
  if (body[at] !== 0x7b /* { */) return undefined;
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
