import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { parseCliOptions } from '../src/cli-options';
import { call, chatBody, openaiHeaders } from './helpers';

describe('CLI flags for organizations and per-model limits', () => {
  it('parses --org, --key secret@org[/project], --model model:rpm[:tpm][@org] and --model-group', () => {
    const options = parseCliOptions([
      '--org', 'org-1:10:20000',
      '--key', 'sk-sim-cli-a@org-1',
      '--key', 'sk-sim-cli-b@org-1/proj_cli',
      '--key', 'sk-sim-cli-c:5:900',
      '--model', 'gpt-4o:3:10000',
      '--model', 'ft:gpt-4o-mini:acme::abc123:7',
      '--model', 'gpt-4o-mini:30@org-1',
      '--model-group', 'gpt-4o=gpt-4o,gpt-4o-2024-08-06',
      '--latency-ms', '50',
      '--latency-jitter-ms', '20',
    ]);
    expect([options.latencyMs, options.latencyJitterMs]).toEqual([50, 20]);
    expect(options.keys).toEqual({
      'sk-sim-cli-a': { org: 'org-1' },
      'sk-sim-cli-b': { org: 'org-1', project: 'proj_cli' },
      'sk-sim-cli-c': { rpm: 5, tpm: 900 },
    });
    expect(options.orgs).toEqual({ 'org-1': { rpm: 10, tpm: 20000, models: { 'gpt-4o-mini': { rpm: 30 } } } });
    expect(options.defaultLimits?.models).toEqual({
      'gpt-4o': { rpm: 3, tpm: 10000 },
      // A fine-tuned model name full of ':' keeps them; only the trailing numbers are limits.
      'ft:gpt-4o-mini:acme::abc123': { rpm: 7 },
    });
    expect(options.modelGroups).toEqual({ 'gpt-4o': ['gpt-4o', 'gpt-4o-2024-08-06'] });
    expect(options.acceptAnyKey).toBe(false);
  });

  it('refuses specs that cannot mean anything', () => {
    expect(() => parseCliOptions(['--model', 'gpt-4o'])).toThrow(/--model must look like name:rpm/);
    expect(() => parseCliOptions(['--key', 'sk-sim-cli-x:5@org-1'])).toThrow(/organization's limits \(use --org\)/);
    expect(() => parseCliOptions(['--model-group', 'gpt-4o'])).toThrow(/--model-group must look like/);
  });

  describe('the real process', () => {
    let child: ChildProcess;
    let url: string;

    beforeAll(async () => {
      child = spawn(
        process.execPath,
        [
          '--require', 'tsx/cjs', path.join(__dirname, '../src/main.ts'),
          '--org', 'org-cli:10', '--key', 'sk-sim-cli-a@org-cli', '--key', 'sk-sim-cli-b@org-cli',
          '--model', 'gpt-4o:1@org-cli',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      url = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`sim exited with ${code}: ${stderr}`)));
        child.stdout?.setEncoding('utf8');
        child.stdout?.once('data', (line: string) => resolve(line.trim().split('\n')[0] ?? ''));
      });
    }, 20_000);
    afterAll(() => {
      child.kill('SIGTERM');
    });

    it('serves organizations and per-model limits configured by flags', async () => {
      const chat = (key: string, model: string) => call(`${url}/v1/chat/completions`, { headers: openaiHeaders(key), body: chatBody({ model }) });
      const first = await chat('sk-sim-cli-a', 'gpt-4o');
      expect(first.status).toBe(200);
      expect(first.headers.get('openai-organization')).toBe('org-cli');
      expect((await chat('sk-sim-cli-b', 'gpt-4o')).status).toBe(429); // one organization, gpt-4o rpm 1
      const mini = await chat('sk-sim-cli-b', 'gpt-4o-mini');
      expect(mini.status).toBe(200);
      expect(mini.headers.get('x-ratelimit-limit-requests')).toBe('10');
    });
  });
});
