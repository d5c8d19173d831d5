import { anthropic } from './anthropic';
import { azureOpenai } from './azure-openai';
import { gemini } from './gemini';
import { openai } from './openai';
import type { Provider, ProviderKind } from './provider';

/** Every provider by kind. Adding a provider: one module and one line here. */
export const providers: Readonly<Record<ProviderKind, Provider>> = {
  openai,
  anthropic,
  gemini,
  'azure-openai': azureOpenai,
};

export { PROVIDER_KINDS } from './provider';
export type { ClassifyInput, ProbeSpec, Provider, ProviderKind } from './provider';
export { kindFromStatus } from './classify';
export { AZURE_PROBE_API_VERSION } from './azure-openai';
