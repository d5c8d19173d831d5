/**
 * CLI for manual runs and the demo mode:
 *   tsx test/sim-provider/src/main.ts --port 9999 --window-ms 60000 --rpm 20 --accept-any-key
 *   tsx test/sim-provider/src/main.ts --key sk-a:20:40000 --key sk-b:5 --latency-ms 200
 * `--key secret[:rpm[:tpm]]` may repeat; with no --key and no --accept-any-key nothing would be
 * accepted, so --accept-any-key is then implied.
 */
import { parseArgs } from 'node:util';
import { startSimProvider } from './server';
import type { KeyOptions } from './types';

function int(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got "${value}"`);
  return n;
}

function parseKey(spec: string): [string, KeyOptions] {
  const [secret, rpm, tpm] = spec.split(':');
  if (!secret) throw new Error(`--key must look like secret[:rpm[:tpm]], got "${spec}"`);
  return [secret, { rpm: int('key rpm', rpm || undefined), tpm: int('key tpm', tpm || undefined) }];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'window-ms': { type: 'string', default: '60000' },
      rpm: { type: 'string', default: '60' },
      tpm: { type: 'string' },
      key: { type: 'string', multiple: true },
      'accept-any-key': { type: 'boolean', default: false },
      'latency-ms': { type: 'string', default: '0' },
      chunks: { type: 'string', default: '5' },
      'chunk-delay-ms': { type: 'string', default: '0' },
    },
  });
  const keys = Object.fromEntries((values.key ?? []).map(parseKey));
  const sim = await startSimProvider({
    port: int('port', values.port),
    windowMs: int('window-ms', values['window-ms']),
    defaultLimits: { rpm: int('rpm', values.rpm) ?? 60, tpm: int('tpm', values.tpm) },
    keys,
    acceptAnyKey: values['accept-any-key'] || Object.keys(keys).length === 0,
    latencyMs: int('latency-ms', values['latency-ms']),
    stream: { chunks: int('chunks', values.chunks), chunkDelayMs: int('chunk-delay-ms', values['chunk-delay-ms']) },
  });
  // First line is the URL alone so scripts can read it with `head -1`.
  console.log(sim.url);
  console.error(`sim-provider listening: OpenAI baseURL ${sim.url}/v1, Anthropic baseURL ${sim.url}`);

  const stop = () => {
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
