// Jest test environment: Node's, plus a teardown that stops every process the test file started
// through the test kit (`spawnTracked`) and left running. It runs after the file's own afterAll hooks,
// so a test's orderly stop comes first; this catches what a failed start or a forgotten stop leaves,
// which would otherwise keep Jest from exiting ("did not exit one second after the test run").
const { TestEnvironment } = require('jest-environment-node');

const LIVE = Symbol.for('rotor.testkit.liveProcesses');

class RotorTestEnvironment extends TestEnvironment {
  async teardown() {
    const live = this.global[LIVE];
    const left = live ? [...live].filter((c) => c.exitCode === null && c.signalCode === null) : [];
    if (left.length > 0) {
      const names = left.map((c) => `${c.spawnfile} (pid ${c.pid})`).join(', ');
      process.stderr.write(`testkit: stopping ${left.length} process(es) the test file left running: ${names}\n`);
      await Promise.all(
        left.map(
          (child) =>
            new Promise((resolve) => {
              child.once('exit', resolve);
              child.kill('SIGCONT');
              child.kill('SIGKILL');
            }),
        ),
      );
    }
    await super.teardown();
  }
}

module.exports = RotorTestEnvironment;
