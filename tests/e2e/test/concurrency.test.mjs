// Many sessions at once: each gets its own child, and none waits on another.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { closeClient, connectClient, firstText, REQUEST_TIMEOUT_MS } from '../lib/mcp.mjs';

const SESSIONS = Number(process.env.FMB_E2E_SESSIONS || 50);

test(`${SESSIONS} concurrent sessions each initialize, list tools and call echo`, { timeout: 240_000 }, async () => {
  const one = async (i) => {
    // 50 children start at once on a 2-core machine: initialize may wait for a while.
    const session = await connectClient({ name: `fmb-e2e-concurrent-${i}`, timeoutMs: 120_000 });
    try {
      const { tools } = await session.client.listTools(undefined, { timeout: 120_000 });
      assert.ok(tools.some((t) => t.name === 'echo'), `session ${i}: echo is listed`);
      const result = await session.client.callTool({ name: 'echo', arguments: { message: `n${i}` } }, undefined, {
        timeout: REQUEST_TIMEOUT_MS,
      });
      assert.equal(firstText(result), `Echo: n${i}`, `session ${i}: echo answers its own session`);
      return session.transport.sessionId;
    } finally {
      await closeClient(session);
    }
  };
  const outcomes = await Promise.allSettled(Array.from({ length: SESSIONS }, (_, i) => one(i)));
  const failures = outcomes
    .map((o, i) => (o.status === 'rejected' ? `session ${i}: ${o.reason?.message ?? o.reason}` : null))
    .filter(Boolean);
  assert.deepEqual(failures, [], `${failures.length} of ${SESSIONS} sessions failed`);
  const ids = new Set(outcomes.map((o) => o.value));
  assert.equal(ids.size, SESSIONS, 'every session got its own Mcp-Session-Id');
});
