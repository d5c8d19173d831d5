import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireProgram } from '../src';

const JEST = require.resolve('jest/bin/jest');
const FIXTURES = path.join(__dirname, 'fixtures');

/** A PATH that has redis-server and nothing else: every other program the tests use is "not installed". */
function pathWithOnlyRedisServer(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-path-'));
  fs.symlinkSync(requireProgram('redis-server'), path.join(dir, 'redis-server'));
  return dir;
}

interface Run {
  code: number | null;
  output: string;
  ms: number;
}

/** One fixture in a Jest of its own (as `pnpm test` would run a failing test file), bounded. */
function runFixture(name: string, env: Record<string, string>): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [JEST, '--config', path.join(FIXTURES, 'jest.config.js'), name],
      // No ROTOR_TEST_SUMMARY: this failure is on purpose and must not count in the suite's totals.
      { env: { HOME: os.tmpdir(), ...env }, timeout: 60_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, output: `${stdout}${stderr}`, ms: Date.now() - started });
      },
    );
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let pidFile = '';
// If the kit failed, the fixture's redis-server outlives its Jest: stop it here, then let the test fail.
afterEach(() => {
  const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : 0;
  if (pid > 0 && isRunning(pid)) process.kill(pid, 'SIGKILL');
});

describe('the test kit, with a prerequisite missing on purpose', () => {
  it('fails the test at once naming the program, stops the server started before it, and Jest exits', async () => {
    pidFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-fixture-')), 'pid');
    const run = await runFixture('missing-program', { PATH: pathWithOnlyRedisServer(), FIXTURE_PID_FILE: pidFile });
    console.log(`fixture run: exit ${run.code} after ${run.ms} ms`);

    expect(run.code).toBe(1);
    expect(run.output).toContain(
      'redis-sentinel is not installed (not on PATH): run ./scripts/test.sh (it installs it) or apt-get install redis-sentinel',
    );
    expect(run.output).toMatch(/testkit: stopping 1 process\(es\) the test file left running: .*redis-server \(pid \d+\)/);
    expect(run.output).not.toContain('did not exit one second after the test run');
    expect(run.ms).toBeLessThan(30_000);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(isRunning(pid)).toBe(false);
  });

  it('a server that exits during its start fails the test with the reason, not a timeout', async () => {
    const run = await runFixture('exits-early', { PATH: pathWithOnlyRedisServer() });
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/redis-server on port \d+ exited with 1/);
    expect(run.output).not.toContain('did not answer within');
    expect(run.ms).toBeLessThan(30_000);
  });
});
