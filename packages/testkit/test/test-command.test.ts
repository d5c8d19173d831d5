import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requireProgram } from '../src';

const TEST_SH = path.resolve(__dirname, '../../../scripts/test.sh');

/**
 * A PATH with what the script itself uses (bash, node, coreutils) and stand-ins for every test
 * prerequisite except redis-sentinel: the script only asks whether each is there.
 */
function machineWithoutSentinel(withAptGet: boolean): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-bin-'));
  for (const tool of ['bash', 'env', 'node', 'dirname', 'id', 'sort', 'tr'])
    fs.symlinkSync(requireProgram(tool), path.join(dir, tool));
  for (const stub of ['redis-server', 'redis-cli', 'nginx', 'promtool', 'prometheus', 'docker-compose'])
    fs.writeFileSync(path.join(dir, stub), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  // An apt-get whose index updates but that cannot install the package (not in the mirror, no network).
  if (withAptGet) fs.writeFileSync(path.join(dir, 'apt-get'), '#!/bin/sh\n[ "$1" = update ] && exit 0\nexit 100\n', { mode: 0o755 });
  return dir;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** scripts/test.sh in a process group of its own, so that anything it leaves behind can be found. */
function runTestSh(env: Record<string, string>): Promise<{ code: number | null; output: string; ms: number; pgid: number }> {
  const started = Date.now();
  const child = spawn(requireProgram('bash'), [TEST_SH], { env: { HOME: os.tmpdir(), ...env }, detached: true });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started, pgid: child.pid! });
    }),
  );
}

describe('./scripts/test.sh with a prerequisite that cannot be installed', () => {
  it.each([
    ['installing turned off', { ROTOR_TEST_INSTALL: 'no' }, false, 'ROTOR_TEST_INSTALL=no'],
    [
      'apt-get failing',
      {},
      true,
      // The fake PATH has no sudo: a non-root run cannot even try.
      process.getuid?.() === 0
        ? 'apt-get failed: check its sources and network'
        : 'not root and no password-less sudo: run it yourself, or run this script as root',
    ],
  ])('%s: stops at once, naming it, its package and why, leaving no process', async (_case, env, withAptGet, why) => {
    const run = await runTestSh({ PATH: machineWithoutSentinel(withAptGet), ...env });
    console.log(`test.sh: exit ${run.code} after ${run.ms} ms\n${run.output}`);
    expect(run.code).toBe(1);
    expect(run.output).toContain(`test.sh: redis-sentinel is missing: install it with 'sudo apt-get install redis-sentinel' (${why})`);
    // Only the missing one is named, and nothing else ran (no pnpm, no install, no test).
    expect(run.output.match(/is missing/g)).toHaveLength(1);
    expect(run.output).not.toContain('pnpm');
    expect(run.ms).toBeLessThan(60_000);
    expect(groupAlive(run.pgid)).toBe(false);
  });
});

describe('./scripts/test.sh on a machine that lacks a prerequisite apt can install', () => {
  it('installs it, says what it installed, then installs the dependencies and runs the tests', async () => {
    const dir = machineWithoutSentinel(false);
    const log = path.join(dir, 'calls.log');
    // apt-get and pnpm stand-ins that record their calls; "installing" redis-sentinel puts it on PATH.
    fs.writeFileSync(
      path.join(dir, 'apt-get'),
      `#!/bin/sh\necho "apt-get $*" >> ${log}\nfor a in "$@"; do [ "$a" = redis-sentinel ] && printf '#!/bin/sh\\n' > ${dir}/redis-sentinel && chmod +x ${dir}/redis-sentinel; done\nexit 0\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(
      path.join(dir, 'pnpm'),
      `#!/bin/sh\n[ "$1" = --version ] && echo 9.15.9 && exit 0\necho "pnpm $*" >> ${log}\nexit 0\n`,
      { mode: 0o755 },
    );
    // A kubectl new enough for the Kubernetes tests is there already (nothing fetched from npm).
    fs.writeFileSync(path.join(dir, 'kubectl'), '#!/bin/sh\necho "Kustomize Version: v5.5.0"\n', { mode: 0o755 });
    // Root runs apt-get itself; anyone else through password-less sudo.
    fs.writeFileSync(path.join(dir, 'sudo'), '#!/bin/sh\nexec "$@"\n', { mode: 0o755 });
    for (const tool of ['mktemp', 'rm', 'cat', 'grep']) fs.symlinkSync(requireProgram(tool), path.join(dir, tool));

    const run = await runTestSh({ PATH: dir });
    console.log(`test.sh: exit ${run.code} after ${run.ms} ms\n${run.output}`);
    expect(run.code).toBe(0);
    expect(run.output).toContain('test.sh: installing with apt-get: redis-sentinel\n');
    expect(run.output).toContain('test.sh: installed: redis-sentinel\n');
    expect(run.output).not.toContain('is missing');
    expect(run.output.trim().split('\n').at(-1)).toBe('0 passed, 0 failed, 0 skipped');
    const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(calls.filter((c) => c.startsWith('apt-get install')).join()).toContain(' redis-sentinel');
    expect(calls.filter((c) => c.startsWith('pnpm'))).toEqual(['pnpm install --frozen-lockfile', 'pnpm run test']);
    expect(groupAlive(run.pgid)).toBe(false);
  });
});
