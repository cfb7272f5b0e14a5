// Helpers shared by the e2e tests: the endpoint under test, SDK clients that
// talk to it, and a timeout for anything that could hang.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { withTimeout } from './timeout.mjs';

export { LATEST_PROTOCOL_VERSION };

// run.sh exports FMB_E2E_URL (http://127.0.0.1:PORT/mcp) and FMB_E2E_TARGET (brokerd or supergateway).
export const URL_UNDER_TEST = process.env.FMB_E2E_URL;
export const TARGET = process.env.FMB_E2E_TARGET || 'brokerd';
if (!URL_UNDER_TEST) {
  throw new Error('FMB_E2E_URL is not set: run the tests through tests/e2e/run.sh, or export it (e.g. http://127.0.0.1:8931/mcp)');
}

// Every SDK request gets this limit unless a test says otherwise.
export const REQUEST_TIMEOUT_MS = 30_000;

// A connected SDK client (initialize + notifications/initialized done).
// sampling: a function (request) => CreateMessageResult; declares the sampling capability.
// timeoutMs: limit for initialize, which includes starting the child.
export async function connectClient({ name = 'fmb-e2e', sampling, timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
  const capabilities = sampling ? { sampling: {} } : {};
  const client = new Client({ name, version: '1.0.0' }, { capabilities });
  if (sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => sampling(request));
  }
  const transport = new StreamableHTTPClientTransport(new URL(URL_UNDER_TEST));
  await withTimeout(client.connect(transport, { timeout: timeoutMs }), timeoutMs + 5_000, `${name}: connect`);
  return { client, transport };
}

// Ends the session (DELETE) and closes the client; never throws, so it can sit in `finally`.
export async function closeClient({ client, transport }) {
  try {
    await withTimeout(transport.terminateSession(), 10_000, 'terminateSession');
  } catch {
    // the session may be gone already; the test that cares checks this itself
  }
  try {
    await withTimeout(client.close(), 10_000, 'client.close');
  } catch {
    // nothing left to release
  }
}

// The text of the first text content block of a tools/call result.
export function firstText(result) {
  const block = (result.content || []).find((c) => c.type === 'text');
  return block ? block.text : undefined;
}

// A raw JSON-RPC POST to the endpoint, as a client would send it after initialize.
export async function rawPost(body, { sessionId, protocolVersion = LATEST_PROTOCOL_VERSION } = {}) {
  const headers = {
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    'MCP-Protocol-Version': protocolVersion,
  };
  if (sessionId) {
    headers['Mcp-Session-Id'] = sessionId;
  }
  return fetch(URL_UNDER_TEST, {
    method: 'POST',
    headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}
