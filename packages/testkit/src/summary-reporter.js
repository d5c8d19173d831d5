// Jest reporter: appends this package's totals to the file named by ROTOR_TEST_SUMMARY (one JSON line),
// so .ci/run can print one closing "N passed, N failed" line for the whole monorepo.
const fs = require('node:fs');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const file = process.env.ROTOR_TEST_SUMMARY;
    if (!file) return;
    const line = JSON.stringify({
      cwd: process.cwd(),
      passed: results.numPassedTests,
      failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests,
    });
    fs.appendFileSync(file, line + '\n');
  }
}

module.exports = SummaryReporter;
