/**
 * @rotor/sim-provider: a simulated OpenAI + Anthropic API with per-key rate limits, used by tests,
 * benchmarks and the demo mode in place of real providers.
 */
export { startSimProvider } from './server';
export { formatOpenAiDuration, formatRfc3339 } from './time-format';
export type {
  AbortedEntry,
  KeyMode,
  KeyOptions,
  KeyStats,
  Limits,
  RequestLogEntry,
  SimOptions,
  SimProvider,
  Totals,
} from './types';
