/**
 * CLI for manual runs and the demo mode:
 *   tsx test/sim-provider/src/main.ts --port 9999 --window-ms 60000 --rpm 20 --accept-any-key
 *   tsx test/sim-provider/src/main.ts --key sk-a:20:40000 --key sk-b:5 --latency-ms 200
 *   tsx test/sim-provider/src/main.ts --org org-1:10:20000 --key sk-c@org-1 --key sk-d@org-1/proj_x \
 *     --model gpt-4o:3:10000 --model gpt-4o-mini:30@org-1 --model-group gpt-4o=gpt-4o,gpt-4o-2024-08-06
 * Flags are described in cli-options.ts; with no --key and no --accept-any-key nothing would be
 * accepted, so --accept-any-key is then implied.
 */
import { parseCliOptions } from './cli-options';
import { startSimProvider } from './server';

async function main(): Promise<void> {
  const sim = await startSimProvider(parseCliOptions(process.argv.slice(2)));
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
