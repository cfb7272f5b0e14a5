// MCP 2026-07-28 beside the session revisions on one /mcp (issue 13, first
// slice): the SDK v2 client (@modelcontextprotocol/client 2.4.0) in its
// default mode works through a session; pinned to 2026-07-28 it gets the
// revision's own unsupported-version error with the list of revisions served
// (the broker does not serve 2026-07-28 yet); in auto mode it falls back to a
// session on that error. Raw requests shaped as the v2 client sends them
// check each validation error's status and code.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';

import { Client, StreamableHTTPClientTransport, UnsupportedProtocolVersionError } from '@modelcontextprotocol/client';

import { firstText, REQUEST_TIMEOUT_MS, TARGET, URL_UNDER_TEST } from '../lib/mcp.mjs';
import { withTimeout } from '../lib/timeout.mjs';

const REV2026 = '2026-07-28';
const SESSION_REVISIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];
const brokerOnly = TARGET === 'brokerd' ? {} : { skip: `the broker's 2026-07-28 answers (not ${TARGET})` };

async function connectV2(versionNegotiation) {
  const options = versionNegotiation ? { versionNegotiation } : {};
  const client = new Client({ name: 'fmb-e2e-v2', version: '1.0.0' }, options);
  const transport = new StreamableHTTPClientTransport(new URL(URL_UNDER_TEST));
  await withTimeout(client.connect(transport, { timeout: REQUEST_TIMEOUT_MS }), REQUEST_TIMEOUT_MS + 5_000, 'v2 connect');
  return { client, transport };
}

async function closeV2({ client, transport }) {
  try {
    await withTimeout(transport.terminateSession(), 10_000, 'terminateSession');
  } catch {
    // gone already
  }
  await withTimeout(client.close(), 10_000, 'client.close').catch(() => {});
}

async function echoThrough(session) {
  const { tools } = await session.client.listTools(undefined, { timeout: REQUEST_TIMEOUT_MS });
  assert.ok(tools.some((t) => t.name === 'echo'), 'server-everything lists echo');
  const text = `v2 ${randomBytes(4).toString('hex')}`;
  const result = await session.client.callTool({ name: 'echo', arguments: { message: text } }, { timeout: REQUEST_TIMEOUT_MS });
  assert.equal(firstText(result), `Echo: ${text}`);
}

// The _meta a pinned v2 client puts on every request (captured from the wire).
function meta(version = REV2026) {
  return {
    'io.modelcontextprotocol/protocolVersion': version,
    'io.modelcontextprotocol/clientInfo': { name: 'fmb-e2e-raw', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
}

function callBody(name = 'echo', version = REV2026) {
  return { method: 'tools/call', params: { name, arguments: { message: 'hi' }, _meta: meta(version) }, jsonrpc: '2.0', id: 0 };
}

async function post(body, headers) {
  const response = await fetch(URL_UNDER_TEST, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const mirrored = (method, name) => ({
  'MCP-Protocol-Version': REV2026,
  'Mcp-Method': method,
  ...(name === undefined ? {} : { 'Mcp-Name': name }),
});

describe('SDK v2 client', { timeout: 120_000 }, () => {
  test('default mode: a session, tools/list and echo', async () => {
    const session = await connectV2();
    try {
      assert.ok(session.transport.sessionId, 'the default mode initializes a session');
      await echoThrough(session);
    } finally {
      await closeV2(session);
    }
  });

  test('auto mode: falls back to a session on -32022 and works', brokerOnly, async () => {
    const session = await connectV2({ mode: 'auto' });
    try {
      assert.ok(session.transport.sessionId, 'fell back to initialize');
      assert.equal(session.client.getNegotiatedProtocolVersion?.() ?? SESSION_REVISIONS[0], SESSION_REVISIONS[0]);
      await echoThrough(session);
    } finally {
      await closeV2(session);
    }
  });

  test('pinned to 2026-07-28: the unsupported-version error with the served list', brokerOnly, async () => {
    await assert.rejects(connectV2({ mode: { pin: REV2026 } }), (error) => {
      assert.ok(error instanceof UnsupportedProtocolVersionError, `${error?.constructor?.name}: ${error?.message}`);
      assert.equal(error.code, -32022);
      assert.deepEqual(error.data, { supported: SESSION_REVISIONS, requested: REV2026 });
      return true;
    });
  });
});

describe('2026-07-28 validation', { timeout: 60_000, ...brokerOnly }, () => {
  const cases = [
    ['a valid request: not served yet', callBody(), mirrored('tools/call', 'echo'), 400, -32022],
    ['server/discover as the v2 probe sends it', { jsonrpc: '2.0', id: 'p', method: 'server/discover', params: { _meta: meta() } }, mirrored('server/discover'), 400, -32022],
    ['unknown version', callBody('echo', '2099-01-01'), { ...mirrored('tools/call', 'echo'), 'MCP-Protocol-Version': '2099-01-01' }, 400, -32022],
    ['MCP-Protocol-Version not the body\'s', callBody(), { ...mirrored('tools/call', 'echo'), 'MCP-Protocol-Version': '2025-11-25' }, 400, -32020],
    ['Mcp-Method missing', callBody(), { 'MCP-Protocol-Version': REV2026, 'Mcp-Name': 'echo' }, 400, -32020],
    ['Mcp-Method not the body\'s', callBody(), mirrored('tools/list', 'echo'), 400, -32020],
    ['Mcp-Name missing', callBody(), mirrored('tools/call'), 400, -32020],
    ['Mcp-Name not the body\'s', callBody(), mirrored('tools/call', 'add'), 400, -32020],
    ['Mcp-Name in base64, matching', callBody('grüß'), mirrored('tools/call', `=?base64?${Buffer.from('grüß').toString('base64')}?=`), 400, -32022],
    ['Mcp-Name in base64, not matching', callBody('grüß'), mirrored('tools/call', `=?base64?${Buffer.from('gruss').toString('base64')}?=`), 400, -32020],
    ['_meta without clientCapabilities', { ...callBody(), params: { name: 'echo', _meta: { 'io.modelcontextprotocol/protocolVersion': REV2026 } } }, mirrored('tools/call', 'echo'), 400, -32602],
    ['_meta without protocolVersion', { jsonrpc: '2.0', id: 4, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/clientCapabilities': {} } } }, mirrored('tools/list'), 400, -32602],
    ['removed method: ping', { jsonrpc: '2.0', id: 5, method: 'ping', params: { _meta: meta() } }, mirrored('ping'), 404, -32601],
    ['unknown method', { jsonrpc: '2.0', id: 6, method: 'frobnicate', params: { _meta: meta() } }, mirrored('frobnicate'), 404, -32601],
  ];
  for (const [name, body, headers, status, code] of cases) {
    test(name, async () => {
      const answer = await post(body, headers);
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.equal(answer.body?.error?.code, code, JSON.stringify(answer.body));
      if (body.id !== undefined) {
        assert.equal(answer.body.id, body.id, 'the error answers the request by its id');
      }
      if (code === -32022) {
        assert.deepEqual(answer.body.error.data.supported, SESSION_REVISIONS);
      }
    });
  }

  test('GET and DELETE with the 2026-07-28 header and no session: 405', async () => {
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(URL_UNDER_TEST, {
        method,
        headers: { Accept: 'text/event-stream', 'MCP-Protocol-Version': REV2026 },
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await response.text();
      assert.equal(response.status, 405, method);
      assert.ok(response.headers.get('allow')?.includes('POST'), `${method}: Allow names POST`);
    }
  });

  test('a session revision unknown to the session path: -32022 with the list', async () => {
    const answer = await post({ jsonrpc: '2.0', id: 7, method: 'tools/list' }, { 'Mcp-Session-Id': 'abc', 'MCP-Protocol-Version': '1999-01-01' });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.code, -32022);
    assert.deepEqual(answer.body.error.data, { supported: SESSION_REVISIONS, requested: '1999-01-01' });
  });
});
