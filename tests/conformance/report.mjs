// Reads what one `conformance server -o DIR` run left behind and prints a line
// per scenario (PASS or FAIL with the failed checks), then
// `conformance: N passed, M failed`.
//
//   node report.mjs RESULTS_DIR LOG_FILE SUITE_EXIT_STATUS
//
// The suite's own rule decides: a scenario fails when one of its checks has the
// status FAILURE; WARNING and INFO do not fail it. A run that never printed its
// summary (killed, timed out, crashed) counts one failure more. Exits 1 when
// anything failed or no scenario ran.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [resultsDir, logFile, suiteStatus] = process.argv.slice(2);
const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';

// Every scenario that started, from the log, in order...
const scenarios = new Map();
for (const [, name] of log.matchAll(/^=== Running scenario: (\S+) ===$/gm)) scenarios.set(name, null);
const lone = /^Running client scenario '([^']+)'/m.exec(log);
if (lone) scenarios.set(lone[1], null);

// ...and the checks of each, from DIR/server-<name>-<timestamp>/checks.json.
for (const entry of existsSync(resultsDir) ? readdirSync(resultsDir).sort() : []) {
  const name = /^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/.exec(entry)?.[1];
  const file = join(resultsDir, entry, 'checks.json');
  if (name === undefined || !existsSync(file)) continue;
  try {
    scenarios.set(name, JSON.parse(readFileSync(file, 'utf8')));
  } catch (error) {
    scenarios.set(name, [{ name: 'checks.json', status: 'FAILURE', errorMessage: `unreadable: ${error}` }]);
  }
}

const squeeze = (text) => String(text ?? '').replace(/\s+/g, ' ').trim().slice(0, 300);
const named = (checks) => checks.map((check) => check.name).join(', ');
let passed = 0;
let failed = 0;
for (const [name, checks] of scenarios) {
  if (checks === null) {
    failed += 1;
    console.log(`FAIL ${name}  -- no checks.json (the scenario threw or the run stopped; see ${logFile})`);
    continue;
  }
  const failures = checks.filter((check) => check.status === 'FAILURE');
  const warnings = checks.filter((check) => check.status === 'WARNING');
  if (failures.length > 0) {
    failed += 1;
    console.log(`FAIL ${name}  -- ${squeeze(failures.map((c) => `${c.name}: ${c.errorMessage}`).join(' | '))}`);
  } else {
    passed += 1;
    console.log(`PASS ${name}${warnings.length > 0 ? `  -- warnings: ${named(warnings)}` : ''}`);
  }
}

if (!/^(=== SUMMARY ===|Test Results:)$/m.test(log)) {
  failed += 1;
  console.log(`FAIL (suite)  -- it did not finish (exit status ${suiteStatus}); see ${logFile}`);
}
console.log(`conformance: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
