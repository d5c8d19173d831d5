import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, testRedisUrl } from '@rotor/testkit';
import { runCli, type CliProcess } from './run-cli';

let proc: CliProcess | undefined;
afterEach(async () => {
  await proc?.stop();
  proc = undefined;
});

describe('rotor proxy from the repo root (the quick start)', () => {
  it('with no provider keys starts in announced demo mode and serves a chat completion at once', async () => {
    const port = await freePort();
    proc = runCli(['proxy'], { PORT: String(port), REDIS_URL: testRedisUrl() });
    // The pool lines come after the listening line, in writes of their own: wait for the last one.
    const out = await proc.waitFor('pool anthropic:');
    expect(out).toContain('rotor proxy listening');
    expect(out).toContain('DEMO MODE');
    expect(out).toMatch(/pool openai: openai, 3 key\(s\), routes \/v1/);
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer rotor-demo', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { object: string }).object).toBe('chat.completion');
    await proc.stop();
    expect(out).toContain('*** DEMO MODE: no config of your own (no ROTOR_CONFIG, no ./rotor.yaml) and no provider keys in the environment.');
    expect(proc.output()).toContain('SIGTERM: shutting down');
  });

  it('demo pools have keys of their own: spending /anthropic\'s budget leaves /v1 untouched', async () => {
    const port = await freePort();
    proc = runCli(['proxy'], { PORT: String(port), REDIS_URL: testRedisUrl() });
    await proc.waitFor('pool anthropic:');
    const send = (route: string) =>
      fetch(`http://127.0.0.1:${port}${route}`, {
        method: 'POST',
        headers: { authorization: 'Bearer rotor-demo', 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
      });
    // 3 demo keys x 20 requests/min: the 61st /anthropic request within the minute finds them all spent.
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++) statuses.push((await send('/anthropic/v1/messages')).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(60);
    expect(statuses.at(-1)).toBe(429);
    expect((await send('/v1/chat/completions')).status).toBe(200);
  });

  it('says clearly when no Redis answers', async () => {
    const port = await freePort();
    proc = runCli(['proxy'], { PORT: String(port), REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ did not answer/);
    expect(proc.output()).toContain('REDIS_URL');
  });

  it('a bad config stops the process with a message naming the field', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-cfg-'));
    const file = path.join(dir, 'rotor.yaml');
    fs.writeFileSync(file, 'pools:\n  a: { provider: openai, baseUrl: not-a-url, keys: "sk-x" }\nroutes: { /v1: a }\n');
    proc = runCli(['proxy'], { ROTOR_CONFIG: file, REDIS_URL: testRedisUrl() });
    expect(await proc.exited).toBe(1);
    expect(proc.output()).toContain('pools.a.baseUrl');
    expect(proc.output()).not.toContain('sk-x');
  });
});
