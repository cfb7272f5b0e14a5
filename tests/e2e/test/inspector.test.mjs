// The official MCP Inspector CLI (@modelcontextprotocol/inspector-cli) lists
// the tools through the endpoint under test.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { URL_UNDER_TEST } from '../lib/mcp.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const cliBuild = join(here, '..', 'node_modules', '@modelcontextprotocol', 'inspector-cli', 'build');

test('mcp-inspector-cli --cli URL --transport http --method tools/list', { timeout: 90_000 }, async () => {
  // inspector-cli 1.0.3 picks its package.json by fs.existsSync("../package.json") relative to the
  // working directory but imports it relative to the module, so it only starts from its build/ folder.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(cliBuild, 'cli.js'), '--cli', URL_UNDER_TEST, '--transport', 'http', '--method', 'tools/list'],
    { cwd: cliBuild, timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
  );
  const { tools } = JSON.parse(stdout);
  const names = tools.map((t) => t.name);
  assert.ok(names.includes('echo'), `echo in ${names.join(', ')}`);
  assert.ok(names.includes('get-env'), `get-env in ${names.join(', ')}`);
});

test("the README's client example (client-example.sh URL) lists the tools", { timeout: 90_000 }, async () => {
  // The README points at this script: `npx @modelcontextprotocol/inspector-cli` run from the
  // clone does not start (see above).
  const { stdout } = await promisify(execFile)(join(here, '..', 'client-example.sh'), [URL_UNDER_TEST], {
    timeout: 60_000,
    killSignal: 'SIGKILL',
    maxBuffer: 16 * 1024 * 1024,
  });
  const names = JSON.parse(stdout).tools.map((t) => t.name);
  assert.ok(names.includes('echo'), `echo in ${names.join(', ')}`);
});
