import { classifyAttempt } from './classify';
import { openAiErrorBody, parseOpenAiRateLimit, readOpenAiError } from './openai-family';
import type { Provider } from './provider';

/** GA data-plane version the probe pins; clients choose their own `api-version` on proxied requests. */
export const AZURE_PROBE_API_VERSION = '2024-10-21';

/**
 * Azure OpenAI: `api-key` header, otherwise OpenAI's headers and error shape. The pool's baseUrl is the
 * resource's `https://<resource>.openai.azure.com/openai` (no default: every resource has its own host),
 * and a probe "model" is a deployment name.
 */
export const azureOpenai: Provider = {
  kind: 'azure-openai',
  credentialHeaders: (secret) => ({ 'api-key': secret }),
  parseRateLimit: parseOpenAiRateLimit,
  // No account: Azure limits per deployment of the resource (the pool's baseUrl), and names no
  // organization; an `openai-organization` header here would not be about this key's limits.
  classify: (input) => classifyAttempt(input, parseOpenAiRateLimit, readOpenAiError),
  errorBody: openAiErrorBody,
  probe: {
    listPath: `/models?api-version=${AZURE_PROBE_API_VERSION}`,
    minimalRequest: (deployment) => ({
      method: 'POST',
      path: `/deployments/${encodeURIComponent(deployment)}/chat/completions?api-version=${AZURE_PROBE_API_VERSION}`,
      body: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 },
    }),
    defaultModel: 'gpt-4o-mini',
  },
};
