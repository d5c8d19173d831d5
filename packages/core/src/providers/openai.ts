import { classifyOpenAi, openAiErrorBody, parseOpenAiRateLimit } from './openai-family';
import type { Provider } from './provider';

/** OpenAI and every OpenAI-compatible host (Groq, Mistral, DeepSeek, Together, OpenRouter, vLLM, ...). */
export const openai: Provider = {
  kind: 'openai',
  defaultBaseUrl: 'https://api.openai.com/v1',
  credentialHeaders: (secret) => ({ authorization: `Bearer ${secret}` }),
  parseRateLimit: parseOpenAiRateLimit,
  classify: classifyOpenAi,
  errorBody: openAiErrorBody,
  probe: {
    listPath: '/models',
    // `max_tokens` rather than `max_completion_tokens`: every compatible host understands it.
    minimalRequest: (model) => ({
      method: 'POST',
      path: '/chat/completions',
      body: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 },
    }),
    defaultModel: 'gpt-4o-mini',
  },
};
