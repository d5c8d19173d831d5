import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, testRedisUrl, uniquePrefix } from '@rotor/testkit';
import { REPO_ROOT, runCli, type CliProcess } from './run-cli';

// What a newcomer meets first, each message checked in its exact shape, through the real `rotor` command.
let proc: CliProcess | undefined;
afterEach(async () => {
  await proc?.stop();
  proc = undefined;
});

function configFile(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-cfg-'));
  const file = path.join(dir, 'rotor.yaml');
  fs.writeFileSync(file, text);
  return file;
}

const EXAMPLE = fs.readFileSync(path.join(REPO_ROOT, 'rotor.example.yaml'), 'utf8');
/** The shipped example with one edit: a config "of your own" that still takes its keys from the environment. */
const exampleCopy = () => configFile(EXAMPLE.replace('prefix: rotor', 'prefix: mine'));

async function failedStart(env: Record<string, string>): Promise<string> {
  proc = runCli(['proxy'], { REDIS_URL: testRedisUrl(), PORT: String(await freePort()), ...env });
  expect(await proc.exited).toBe(1);
  return proc.output();
}

describe('a config of your own never falls into demo mode', () => {
  it('a pool whose keys variable is unset is an error naming the pool and the variable', async () => {
    const file = configFile(
      'clientTokens: [t]\npools:\n  openai: { provider: openai, keys: "${OPENAI_KEYS}" }\nroutes: { /v1: openai }\n',
    );
    const out = await failedStart({ ROTOR_CONFIG: file });
    expect(out).toContain(
      'rotor: invalid config\npools.openai.keys: the pool has no keys: give it keys, or mark it `optional: true` (${OPENAI_KEYS} is not set)\n',
    );
    expect(out).not.toContain('DEMO MODE');
  });

  it('the example unchanged, named by ROTOR_CONFIG (as docker-compose mounts it), is still the demo', async () => {
    proc = runCli(['proxy'], { ROTOR_CONFIG: configFile(EXAMPLE), REDIS_URL: testRedisUrl(), PORT: String(await freePort()) });
    expect(await proc.waitFor('pool anthropic:')).toContain('*** DEMO MODE');
  });

  it('the example edited into a config of your own, with no keys at all, says so instead of starting the demo', async () => {
    const file = exampleCopy();
    const out = await failedStart({ ROTOR_CONFIG: file });
    expect(out).toContain(
      `rotor: invalid config\npools: no pool of ${file} has a key (every pool is optional and empty): give one keys; demo mode runs only without a config of your own, or with ROTOR_DEMO=1\n`,
    );
    expect(out).not.toContain('DEMO MODE');
  });

  it('ROTOR_DEMO=1 asks for demo mode with a config of your own that has no keys (the k8s dev overlay)', async () => {
    proc = runCli(['proxy'], { ROTOR_CONFIG: exampleCopy(), ROTOR_DEMO: '1', REDIS_URL: testRedisUrl(), PORT: String(await freePort()) });
    expect(await proc.waitFor('pool anthropic:')).toContain('*** DEMO MODE');
  });

  it('an optional pool left empty next to one with keys starts with a warning', async () => {
    const port = await freePort();
    proc = runCli(['proxy'], {
      ROTOR_CONFIG: exampleCopy(),
      REDIS_URL: testRedisUrl(),
      PORT: String(port),
      OPENAI_KEYS: 'sk-newcomer-1,sk-newcomer-2',
      ROTOR_CLIENT_TOKEN: 'newcomer-token',
    });
    const out = await proc.waitFor('WARNING: pool anthropic');
    expect(out).toContain('pool openai: openai, 2 key(s), routes /v1');
    expect(out).toContain('WARNING: pool anthropic has no keys (optional: true): its routes answer 503 until it gets keys');
    expect(out).not.toContain('DEMO MODE');
    const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { detail: string };
    expect(ready.detail).toContain('pool(s) without keys (optional): anthropic');
  });
});

describe('config errors point at the fix', () => {
  it('a top-level typo: full path and "did you mean"', async () => {
    const file = configFile('clientToken: [t]\npools:\n  openai: { provider: openai, keys: sk-x1 }\nroutes: { /v1: openai }\n');
    expect(await failedStart({ ROTOR_CONFIG: file })).toContain(
      'rotor: invalid config\nclientToken: unknown field; did you mean clientTokens?\n',
    );
  });

  it('invalid YAML: the line, values masked, and a caret under the column', async () => {
    const file = configFile('clientTokens: [t]\npools:\n  openai: { provider: openai, keys: sk-secret-123456\nroutes: { /v1: openai }\n');
    const out = await failedStart({ ROTOR_CONFIG: file });
    expect(out).toContain(
      [
        'rotor: invalid config',
        `${file}: invalid YAML: Flow map in block collection must be sufficiently indented and end with a } at line 4, column 1`,
        '  3 |   openai: { provider: openai, keys: ****************',
        '  4 | routes: { /v1: openai }',
        '    | ^',
      ].join('\n'),
    );
    expect(out).not.toContain('secret-123456');
  });
});

describe('a reload that cannot be applied', () => {
  it('rotor proxy: an invalid config on SIGHUP is refused with the reason, and the replica serves on', async () => {
    const port = await freePort();
    const good = 'clientTokens: [t]\npools:\n  openai: { provider: openai, keys: sk-reload-1 }\nroutes: { /v1: openai }\n';
    const file = configFile(good);
    proc = runCli(['proxy'], { ROTOR_CONFIG: file, REDIS_URL: testRedisUrl(), PORT: String(port) });
    await proc.waitFor('pool openai:');
    fs.writeFileSync(file, good.replace('clientTokens', 'clientToken'));
    proc.child.kill('SIGHUP');
    const out = await proc.waitFor('reload refused');
    // The proxy logs JSON (pino): the reason, then what happened.
    expect(out).toContain(
      '"err":"clientToken: unknown field; did you mean clientTokens?","msg":"reload refused, keeping the old config: the new one is invalid"',
    );
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    fs.writeFileSync(file, good);
    proc.child.kill('SIGHUP');
    await proc.waitFor('config reloaded');
    expect(proc.child.exitCode).toBeNull();
  });
});

describe('rotor status says which Redis it read', () => {
  const config = (prefix: string) =>
    configFile(
      `redis: { url: "${testRedisUrl()}", prefix: ${prefix} }\nclientTokens: [t]\n` +
        'pools:\n  openai: { provider: openai, keys: sk-status-1 }\nroutes: { /v1: openai }\n',
    );

  it('from REDIS_URL, or from the config file when REDIS_URL is not set; an empty pool says why', async () => {
    const prefix = uniquePrefix('st');
    const file = config(prefix);
    proc = runCli(['status'], { ROTOR_CONFIG: file, REDIS_URL: testRedisUrl() });
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toContain(`Redis ${testRedisUrl()} (from REDIS_URL), prefix ${prefix}\n`);
    expect(proc.output()).toContain(`(no keys under prefix ${prefix} in this Redis: no proxy with this config has started`);

    proc = runCli(['status'], { ROTOR_CONFIG: file });
    expect(await proc.exited).toBe(0);
    expect(proc.output()).toContain(`Redis ${testRedisUrl()} (from ${file}, REDIS_URL not set), prefix ${prefix}\n`);
  });
});
