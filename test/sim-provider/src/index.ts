/**
 * @rotor/sim-provider: a simulated OpenAI + Anthropic API with rate limits per organization, model and
 * tokens, used by tests, benchmarks and the demo mode in place of real providers.
 */
export { startSimProvider } from './server';
export { formatOpenAiDuration, formatRfc3339 } from './time-format';
export type {
  AbortedEntry,
  BucketStats,
  BudgetOptions,
  KeyMode,
  KeyOptions,
  KeyStats,
  Limits,
  ModelLimits,
  Organization,
  OrgOptions,
  RequestLogEntry,
  SimOptions,
  SimProvider,
  Totals,
} from './types';
