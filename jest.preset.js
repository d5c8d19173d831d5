// Shared jest settings: TypeScript through swc (fast, no type check; `pnpm typecheck` does that),
// tests run serially inside a package because many of them spawn servers on a 2-core machine.
const path = require('node:path');

module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['**/test/**/*.test.ts'],
  globalSetup: path.join(__dirname, 'packages/testkit/src/global-setup.ts'),
  globalTeardown: path.join(__dirname, 'packages/testkit/src/global-teardown.ts'),
  reporters: ['default', path.join(__dirname, 'packages/testkit/src/summary-reporter.js')],
  maxWorkers: 1,
  testTimeout: 30000,
};
