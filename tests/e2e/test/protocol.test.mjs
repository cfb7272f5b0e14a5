// One session at a time through the endpoint under test, against
// @modelcontextprotocol/server-everything as the stdio child: the basic MCP
// exchanges, progress and sampling relayed on the request's stream, the child's
// environment, and session termination.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { closeClient, connectClient, firstText, rawPost, REQUEST_TIMEOUT_MS, TARGET } from '../lib/mcp.mjs';

// server-everything 2026.8.31 tool names (dist/tools/*.js).
const TOOL_ECHO = 'echo';
const TOOL_ENV = 'get-env';
const TOOL_LONG_RUNNING = 'trigger-long-running-operation';
const TOOL_SAMPLING = 'trigger-sampling-request'; // only listed for clients that declare sampling

describe('one session', { timeout: 120_000 }, () => {
  let session;

  before(async () => {
    session = await connectClient({ name: 'fmb-e2e-protocol' });
  });

  after(async () => {
    if (session) {
      await closeClient(session);
    }
  });

  test('initialize returns the child server identity and a session id', () => {
    const info = session.client.getServerVersion();
    assert.equal(info?.name, 'mcp-servers/everything');
    assert.ok(session.client.getServerCapabilities()?.tools, 'the server declares tools');
    assert.match(session.transport.sessionId ?? '', /^[\x21-\x7e]+$/, 'Mcp-Session-Id is visible ASCII');
  });

  test('tools/list lists the server-everything tools', async () => {
    const { tools } = await session.client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS });
    const names = tools.map((t) => t.name);
    for (const name of [TOOL_ECHO, TOOL_ENV, TOOL_LONG_RUNNING]) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
    const echo = tools.find((t) => t.name === TOOL_ECHO);
    assert.equal(echo.inputSchema.type, 'object');
    assert.ok(echo.inputSchema.properties.message, 'echo takes "message"');
  });

  test('tools/call echo returns the message', async () => {
    const text = `hello ${randomBytes(4).toString('hex')}`;
    const result = await session.client.callTool({ name: TOOL_ECHO, arguments: { message: text } }, undefined, {
      timeout: REQUEST_TIMEOUT_MS,
    });
    assert.equal(firstText(result), `Echo: ${text}`);
    assert.notEqual(result.isError, true);
  });

  test('progress notifications arrive before the result', async () => {
    const progress = [];
    const result = await session.client.callTool(
      { name: TOOL_LONG_RUNNING, arguments: { duration: 1, steps: 4 } },
      undefined,
      { timeout: REQUEST_TIMEOUT_MS, onprogress: (p) => progress.push(p) },
    );
    assert.match(firstText(result) ?? '', /Long running operation completed/);
    assert.ok(progress.length >= 2, `expected >= 2 progress callbacks, got ${progress.length}`);
    for (let i = 1; i < progress.length; ++i) {
      assert.ok(progress[i].progress > progress[i - 1].progress, 'progress increases');
    }
    assert.equal(progress.at(-1).total, 4);
  });

  test('the child sees the environment the gateway was told to give it', async (t) => {
    const marker = process.env.FMB_E2E_MARKER;
    if (!marker) {
      t.skip('FMB_E2E_MARKER is not set');
      return;
    }
    const result = await session.client.callTool({ name: TOOL_ENV, arguments: {} }, undefined, {
      timeout: REQUEST_TIMEOUT_MS,
    });
    const env = JSON.parse(firstText(result));
    assert.equal(env.FMB_E2E_MARKER, marker);
  });
});

describe('sampling', { timeout: 120_000 }, () => {
  test('a sampling/createMessage request from the child is answered by the client', async () => {
    const answer = `sampled ${randomBytes(4).toString('hex')}`;
    const seen = [];
    const session = await connectClient({
      name: 'fmb-e2e-sampling',
      sampling: (request) => {
        seen.push(request);
        return { model: 'fmb-e2e-model', role: 'assistant', content: { type: 'text', text: answer } };
      },
    });
    try {
      const { tools } = await session.client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS });
      assert.ok(tools.some((t) => t.name === TOOL_SAMPLING), `${TOOL_SAMPLING} is listed for a sampling client`);

      const result = await session.client.callTool(
        { name: TOOL_SAMPLING, arguments: { prompt: 'Say hi', maxTokens: 20 } },
        undefined,
        { timeout: REQUEST_TIMEOUT_MS },
      );
      assert.equal(seen.length, 1, 'the client was asked exactly once');
      assert.equal(seen[0].method, 'sampling/createMessage');
      assert.match(JSON.stringify(seen[0].params.messages), /Say hi/);
      assert.notEqual(result.isError, true, firstText(result));
      assert.ok(firstText(result).includes(answer), `the tool result carries the sampled text: ${firstText(result)}`);
    } finally {
      await closeClient(session);
    }
  });
});

describe('session termination', { timeout: 60_000 }, () => {
  test('after DELETE the old session id gets 404', async () => {
    const session = await connectClient({ name: 'fmb-e2e-delete' });
    const sessionId = session.transport.sessionId;
    assert.ok(sessionId, 'initialize returned a session id');
    try {
      await session.transport.terminateSession(); // DELETE /mcp with Mcp-Session-Id
      assert.equal(session.transport.sessionId, undefined, 'the transport forgot the session');
    } finally {
      await closeClient(session);
    }
    const response = await rawPost({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { sessionId });
    await response.body?.cancel();
    assert.equal(response.status, 404, `POST with the ended session id (${TARGET})`);
  });

  test('an unknown session id gets 404', async () => {
    const response = await rawPost(
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { sessionId: randomBytes(24).toString('hex') },
    );
    await response.body?.cancel();
    assert.equal(response.status, 404);
  });
});
