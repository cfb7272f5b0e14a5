// The scripts run every Node program on the project's pinned Node.js
// (.ci/node.sh), not on the system's: Debian 12's is 18.20, too old for
// Headers.getSetCookie (oauth.test.mjs) and for the conformance suite.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const pinned = JSON.parse(readFileSync(new URL('../../../.ci/node/package.json', import.meta.url), 'utf8'));

test('the tests run on the pinned Node.js', () => {
  const packageName = `node-linux-${process.arch}`;
  assert.equal(process.version, `v${pinned.optionalDependencies[packageName]}`);
  assert.match(process.execPath, /\/\.ci\/node\/node_modules\/node-linux-(x64|arm64)\/bin\/node$/);
});
