// Shared jest settings: TypeScript through swc (fast, no type check; `pnpm typecheck` does that),
// tests run serially inside a package because many of them spawn servers on a 2-core machine.
const path = require('node:path');

module.exports = {
  // Node's environment, plus a teardown that stops any process a test file left running (testkit).
  testEnvironment: path.join(__dirname, 'packages/testkit/src/test-environment.js'),
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['**/test/**/*.test.ts'],
  globalSetup: path.join(__dirname, 'packages/testkit/src/global-setup.ts'),
  globalTeardown: path.join(__dirname, 'packages/testkit/src/global-teardown.ts'),
  reporters: ['default', path.join(__dirname, 'packages/testkit/src/summary-reporter.js')],
  maxWorkers: 1,
  testTimeout: 30000,
};
