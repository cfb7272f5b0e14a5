// MCP 2026-07-28 beside the session revisions on one /mcp (issue 13): the
// SDK v2 client (@modelcontextprotocol/client 2.4.0) in its default mode
// works through a session; pinned to 2026-07-28 it is served natively by one
// child per user (discover, tools, progress, cancellation by closing the
// stream, subscriptions/listen with per-stream logLevel); the v1 SDK client
// works beside it. Raw requests shaped as the v2
// client sends them check each validation error's status and code.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

import { closeClient, connectClient, firstText, REQUEST_TIMEOUT_MS, TARGET, URL_UNDER_TEST } from '../lib/mcp.mjs';
import { closeClient as closeOAuthClient, connectWithOAuth, HeadlessOAuthProvider } from '../lib/oauth.mjs';
import { withTimeout } from '../lib/timeout.mjs';

const REV2026 = '2026-07-28';
const SESSION_REVISIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'];
const SERVED = [REV2026, ...SESSION_REVISIONS];
const brokerOnly = TARGET === 'brokerd' ? {} : { skip: `the broker's 2026-07-28 answers (not ${TARGET})` };

async function connectV2(versionNegotiation, { url = URL_UNDER_TEST, requestInit, capabilities, handlers = {} } = {}) {
  const options = versionNegotiation ? { versionNegotiation } : {};
  if (capabilities) {
    options.capabilities = capabilities;
  }
  const client = new Client({ name: 'fmb-e2e-v2', version: '1.0.0' }, options);
  for (const [method, handler] of Object.entries(handlers)) {
    client.setRequestHandler(method, handler);
  }
  const transport = new StreamableHTTPClientTransport(new URL(url), requestInit ? { requestInit } : {});
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
function meta(version = REV2026, capabilities = {}) {
  return {
    'io.modelcontextprotocol/protocolVersion': version,
    'io.modelcontextprotocol/clientInfo': { name: 'fmb-e2e-raw', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': capabilities,
  };
}

function callBody(name = 'echo', version = REV2026) {
  return { method: 'tools/call', params: { name, arguments: { message: 'hi' }, _meta: meta(version) }, jsonrpc: '2.0', id: 0 };
}

async function post(body, headers, url = URL_UNDER_TEST) {
  const response = await fetch(url, {
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

// A raw subscriptions/listen stream as the v2 client opens one, with
// _meta logLevel when `logLevel` is set (the SDK's listen() sends none):
// every message it carries, and until() to wait for one.
async function openListen(id, notifications, logLevel) {
  const controller = new AbortController();
  const _meta = { ...meta(), ...(logLevel ? { 'io.modelcontextprotocol/logLevel': logLevel } : {}) };
  const response = await fetch(URL_UNDER_TEST, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...mirrored('subscriptions/listen') },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { notifications, _meta } }),
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const messages = [];
  let waiters = [];
  (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true }).replaceAll('\r\n', '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim()).join('\n');
        if (data) {
          messages.push(JSON.parse(data));
        }
      }
      waiters = waiters.filter((check) => !check());
    }
  })().catch(() => {});
  const until = (predicate, what) =>
    withTimeout(
      new Promise((resolve) => {
        const check = () => {
          const found = messages.find(predicate);
          if (found) {
            resolve(found);
          }
          return found !== undefined;
        };
        if (!check()) {
          waiters.push(check);
        }
      }),
      REQUEST_TIMEOUT_MS,
      what,
    );
  return { messages, until, close: () => controller.abort() };
}

// server-everything's toggle-subscriber-updates: resources/updated for every
// subscribed URI now and every 5 s until toggled again (one child per user: shared).
async function toggleSubscriberUpdates() {
  const name = 'toggle-subscriber-updates';
  const answer = await post({ jsonrpc: '2.0', id: `toggle-${randomBytes(2).toString('hex')}`, method: 'tools/call', params: { name, arguments: {}, _meta: meta() } }, mirrored('tools/call', name));
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

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

  test('auto mode: picks 2026-07-28 now that it is served, and works', brokerOnly, async () => {
    const session = await connectV2({ mode: 'auto' });
    try {
      assert.equal(session.client.getNegotiatedProtocolVersion(), REV2026);
      assert.equal(session.transport.sessionId, undefined);
      await echoThrough(session);
    } finally {
      await closeV2(session);
    }
  });
});

describe('SDK v2 client pinned to 2026-07-28', { timeout: 120_000, ...brokerOnly }, () => {
  const pinned = { mode: { pin: REV2026 } };

  test('connects: discover, tools/list, echo, no session', async () => {
    const session = await connectV2(pinned);
    try {
      assert.equal(session.client.getNegotiatedProtocolVersion(), REV2026);
      assert.equal(session.transport.sessionId, undefined, 'no Mcp-Session-Id in 2026-07-28');
      assert.equal(session.client.getServerVersion()?.name, 'mcp-servers/everything');
      await echoThrough(session);
    } finally {
      await closeV2(session);
    }
  });

  test('discover as the wire has it: every revision served, serverInfo in _meta, no tasks', async () => {
    const answer = await post({ jsonrpc: '2.0', id: 'd', method: 'server/discover', params: { _meta: meta() } }, mirrored('server/discover'));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const result = answer.body.result;
    assert.deepEqual(result.supportedVersions, SERVED);
    assert.equal(result.resultType, 'complete');
    assert.equal(typeof result.ttlMs, 'number');
    assert.equal(result.cacheScope, 'private');
    assert.ok(result.capabilities.tools, 'tools');
    assert.equal(result.capabilities.tasks, undefined, 'tasks moved out in 2026-07-28');
    assert.equal(result._meta['io.modelcontextprotocol/serverInfo'].name, 'mcp-servers/everything');
  });

  test('progress of a long-running tool reaches the caller', async () => {
    const session = await connectV2(pinned);
    try {
      const progress = [];
      const result = await session.client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
        { timeout: REQUEST_TIMEOUT_MS, onprogress: (p) => progress.push(p) },
      );
      assert.match(firstText(result), /Long running operation completed/);
      assert.deepEqual(progress.map((p) => p.progress), [1, 2, 3]);
    } finally {
      await closeV2(session);
    }
  });

  test('aborting a call closes its stream, and the child carries on', async () => {
    const session = await connectV2(pinned);
    try {
      const controller = new AbortController();
      const call = session.client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 20, steps: 20 } },
        { timeout: REQUEST_TIMEOUT_MS, signal: controller.signal, onprogress: () => {} },
      );
      setTimeout(() => controller.abort(), 300);
      await assert.rejects(call);
      await echoThrough(session); // the shared child still answers
    } finally {
      await closeV2(session);
    }
  });

  test('two pinned clients share one child', async () => {
    const first = await connectV2(pinned);
    const second = await connectV2(pinned);
    try {
      // A resource registered in the server by one client's call is listed to the other:
      // one server process behind both.
      const name = `shared-${randomBytes(4).toString('hex')}.txt`;
      await first.client.callTool(
        { name: 'gzip-file-as-resource', arguments: { name, data: 'data:text/plain;base64,aGVsbG8=', outputType: 'resourceLink' } },
        { timeout: REQUEST_TIMEOUT_MS },
      );
      const { resources } = await second.client.listResources(undefined, { timeout: REQUEST_TIMEOUT_MS });
      assert.ok(resources.some((r) => r.uri === `demo://resource/session/${name}`), 'the second client sees the first one\'s resource');
      // One user ("local"), one child: /metrics counts it apart from sessions.
      if (process.env.FMB_E2E_METRICS_URL) {
        const text = await (await fetch(process.env.FMB_E2E_METRICS_URL, { signal: AbortSignal.timeout(10_000) })).text();
        const open = text.match(/^forgejo_mcp_broker_user_children_open (\d+)$/m);
        assert.equal(open?.[1], '1', 'one user child open');
      }
    } finally {
      await closeV2(first);
      await closeV2(second);
    }
  });

  test('the v1 SDK client and the v2 default client work beside pinned clients', async () => {
    const pinnedSession = await connectV2(pinned);
    const v1 = await connectClient({ name: 'fmb-e2e-v1-beside-2026' });
    const v2 = await connectV2();
    try {
      const text = `v1 ${randomBytes(4).toString('hex')}`;
      const result = await v1.client.callTool({ name: 'echo', arguments: { message: text } }, undefined, { timeout: REQUEST_TIMEOUT_MS });
      assert.equal(firstText(result), `Echo: ${text}`);
      assert.ok(v2.transport.sessionId, 'the default v2 client has a session');
      await echoThrough(v2);
      await echoThrough(pinnedSession);
    } finally {
      await closeClient(v1);
      await closeV2(v2);
      await closeV2(pinnedSession);
    }
  });
  test('subscriptions/listen: a resource subscription receives its update', async () => {
    const session = await connectV2(pinned);
    const uri = `demo://resource/dynamic/text/listen-${randomBytes(4).toString('hex')}`;
    let updated;
    const update = new Promise((resolve) => {
      updated = resolve;
    });
    session.client.setNotificationHandler('notifications/resources/updated', (notification) => {
      if (notification.params.uri === uri) {
        updated(notification);
      }
    });
    try {
      const subscription = await session.client.listen({ resourceSubscriptions: [uri], promptsListChanged: true }, { timeout: REQUEST_TIMEOUT_MS });
      // server-everything declares resources.subscribe and prompts.listChanged: both honoured.
      assert.deepEqual(subscription.honoredFilter, { resourceSubscriptions: [uri], promptsListChanged: true });
      await toggleSubscriberUpdates();
      try {
        const notification = await withTimeout(update, REQUEST_TIMEOUT_MS, 'notifications/resources/updated');
        assert.equal(notification.params.uri, uri);
      } finally {
        await toggleSubscriberUpdates();
      }
      await subscription.close();
    } finally {
      await closeV2(session);
    }
  });

  test('subscriptions/listen with logLevel: each stream gets its level and above, tagged with its id', async () => {
    const tag = randomBytes(4).toString('hex');
    const uriInfo = `demo://resource/dynamic/text/info-${tag}`;
    const uriError = `demo://resource/dynamic/text/error-${tag}`;
    const isAck = (m) => m.method === 'notifications/subscriptions/acknowledged';
    const info = await openListen(`info-${tag}`, { resourceSubscriptions: [uriInfo] }, 'info');
    const errors = await openListen(`error-${tag}`, { resourceSubscriptions: [uriError] }, 'error');
    try {
      const ack = await info.until(isAck, 'the info stream\'s acknowledgement');
      assert.equal(ack.params._meta[SUBSCRIPTION_ID], `info-${tag}`);
      await errors.until(isAck, 'the error stream\'s acknowledgement');
      // server-everything logs each resources/subscribe at info: the info stream hears both.
      const logged = await info.until(
        (m) => m.method === 'notifications/message' && String(m.params.data).includes(uriError),
        'the info-level log of the second subscription',
      );
      assert.equal(logged.params.level, 'info');
      assert.equal(logged.params._meta[SUBSCRIPTION_ID], `info-${tag}`);
      await toggleSubscriberUpdates();
      try {
        const update = await errors.until((m) => m.method === 'notifications/resources/updated' && m.params.uri === uriError, 'the update on the error stream');
        assert.equal(update.params._meta[SUBSCRIPTION_ID], `error-${tag}`);
        assert.deepEqual(
          errors.messages.filter((m) => m.method === 'notifications/message'),
          [],
          'an error-level stream gets no info messages',
        );
        assert.ok(!errors.messages.some((m) => m.params?.uri === uriInfo), 'nor the other stream\'s updates');
      } finally {
        await toggleSubscriberUpdates();
      }
    } finally {
      info.close();
      errors.close();
    }
  });
});

describe('2026-07-28 validation', { timeout: 60_000, ...brokerOnly }, () => {
  const cases = [
    ['a valid request: served', callBody(), mirrored('tools/call', 'echo'), 200, undefined],
    ['server/discover as the v2 probe sends it', { jsonrpc: '2.0', id: 'p', method: 'server/discover', params: { _meta: meta() } }, mirrored('server/discover'), 200, undefined],
    ['unknown version', callBody('echo', '2099-01-01'), { ...mirrored('tools/call', 'echo'), 'MCP-Protocol-Version': '2099-01-01' }, 400, -32022],
    ['MCP-Protocol-Version not the body\'s', callBody(), { ...mirrored('tools/call', 'echo'), 'MCP-Protocol-Version': '2025-11-25' }, 400, -32020],
    ['Mcp-Method missing', callBody(), { 'MCP-Protocol-Version': REV2026, 'Mcp-Name': 'echo' }, 400, -32020],
    ['Mcp-Method not the body\'s', callBody(), mirrored('tools/list', 'echo'), 400, -32020],
    ['Mcp-Name missing', callBody(), mirrored('tools/call'), 400, -32020],
    ['Mcp-Name not the body\'s', callBody(), mirrored('tools/call', 'add'), 400, -32020],
    ['Mcp-Name in base64, matching: served', callBody('grüß'), mirrored('tools/call', `=?base64?${Buffer.from('grüß').toString('base64')}?=`), 200, 'any'],
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
      if (code !== 'any') {
        assert.equal(answer.body?.error?.code, code, JSON.stringify(answer.body));
      }
      if (body.id !== undefined) {
        assert.equal(answer.body.id, body.id, 'the error answers the request by its id');
      }
      if (code === -32022) {
        assert.deepEqual(answer.body.error.data.supported, SERVED);
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
    assert.deepEqual(answer.body.error.data, { supported: SERVED, requested: '1999-01-01' });
  });
});

// Multi round-trip requests (2026-07-28 basic/patterns/mrtr, issue 13): the
// user child's sampling or elicitation request during a call comes back to
// the client as input_required; the retry answers it. run.sh starts the
// broker with --input-required-ttl 3s.
describe('2026-07-28 multi round-trip requests', { timeout: 120_000, ...brokerOnly }, () => {
  const pinned = { mode: { pin: REV2026 } };
  const INPUT_REQUIRED_TTL_MS = 3_000;
  const SAMPLING_TOOL = 'trigger-sampling-request';

  const sampledReply = (text) => ({ role: 'assistant', content: { type: 'text', text }, model: 'fmb-e2e', stopReason: 'endTurn' });

  function samplingCall(id, extra = {}, capabilities = { sampling: {} }, tool = SAMPLING_TOOL) {
    return {
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: tool, arguments: { prompt: 'capital of France?' }, ...extra, _meta: meta(REV2026, capabilities) },
    };
  }

  // A raw call that parks: its input_required result (one input request).
  async function parkedCall(id, url = URL_UNDER_TEST, authorization = undefined) {
    const headers = { ...mirrored('tools/call', SAMPLING_TOOL), ...(authorization ? { Authorization: `Bearer ${authorization}` } : {}) };
    const answer = await post(samplingCall(id), headers, url);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const result = answer.body.result;
    assert.equal(result?.resultType, 'input_required', JSON.stringify(answer.body));
    const keys = Object.keys(result.inputRequests);
    assert.equal(keys.length, 1);
    assert.equal(result.inputRequests[keys[0]].method, 'sampling/createMessage');
    assert.equal(typeof result.requestState, 'string');
    return { key: keys[0], requestState: result.requestState };
  }

  async function retry(id, parked, { tool = SAMPLING_TOOL, requestState = parked.requestState, url = URL_UNDER_TEST, authorization } = {}) {
    const headers = { ...mirrored('tools/call', tool), ...(authorization ? { Authorization: `Bearer ${authorization}` } : {}) };
    const extra = { inputResponses: { [parked.key]: sampledReply('Paris') }, requestState };
    return post(samplingCall(id, extra, { sampling: {} }, tool), headers, url);
  }

  function assertRefusedState(answer, id) {
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.id, id);
    assert.equal(answer.body.error?.code, -32602, JSON.stringify(answer.body));
    assert.equal(answer.body.error.data?.reason, 'invalid_request_state');
  }

  test('sampling: the pinned SDK client answers input_required and gets the tool result', async () => {
    const asked = [];
    const session = await connectV2(pinned, {
      capabilities: { sampling: {} },
      handlers: {
        'sampling/createMessage': async (request) => {
          asked.push(request.params.messages.at(-1).content.text);
          return sampledReply('Paris, said the e2e model');
        },
      },
    });
    try {
      const result = await session.client.callTool({ name: SAMPLING_TOOL, arguments: { prompt: 'capital of France?' } }, { timeout: REQUEST_TIMEOUT_MS });
      assert.match(firstText(result), /Paris, said the e2e model/);
      assert.equal(asked.length, 1, 'the sampling request reached the client once');
      assert.match(asked[0], /capital of France\?/);
    } finally {
      await closeV2(session);
    }
  });

  test('elicitation: the pinned SDK client answers input_required and gets the tool result', async () => {
    let asked = 0;
    const session = await connectV2(pinned, {
      capabilities: { elicitation: { form: {} } },
      handlers: {
        'elicitation/create': async () => {
          asked += 1;
          return { action: 'decline' };
        },
      },
    });
    try {
      const result = await session.client.callTool({ name: 'trigger-elicitation-request', arguments: {} }, { timeout: REQUEST_TIMEOUT_MS });
      assert.match(firstText(result), /declined/);
      assert.equal(asked, 1);
    } finally {
      await closeV2(session);
    }
  });

  test('the raw round trip: a new id, inputResponses and requestState get the result; the state is spent', async () => {
    const parked = await parkedCall('park-1');
    const done = await retry('retry-1', parked);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.id, 'retry-1');
    assert.equal(done.body.result?.resultType, 'complete', JSON.stringify(done.body));
    assert.match(done.body.result.content[0].text, /Paris/);
    assertRefusedState(await retry('replay-1', parked), 'replay-1');
  });

  test('a forged requestState, or one presented for another tool, is refused; the call can still finish', async () => {
    const parked = await parkedCall('park-2');
    const forged = `${parked.requestState.slice(0, -2)}${parked.requestState.endsWith('AA') ? 'BB' : 'AA'}`;
    assertRefusedState(await retry('forged', parked, { requestState: forged }), 'forged');
    assertRefusedState(await retry('other-tool', parked, { tool: 'echo' }), 'other-tool');
    const done = await retry('retry-2', parked);
    assert.equal(done.body.result?.resultType, 'complete', JSON.stringify(done.body));
  });

  test('an expired requestState is refused', async () => {
    const parked = await parkedCall('park-3');
    // The lifetime is a deadline of the broker's clock: nothing to observe before it passes.
    await new Promise((resolve) => setTimeout(resolve, INPUT_REQUIRED_TTL_MS + 500));
    assertRefusedState(await retry('late', parked), 'late');
  });

  test('a client that did not declare sampling gets -32021 with the capability it lacks', async () => {
    const answer = await post(samplingCall('no-sampling', {}, { elicitation: {} }), mirrored('tools/call', SAMPLING_TOOL));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.error?.code, -32021, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.error.data, { requiredCapabilities: { sampling: {} } });
  });

  // Two users need OAuth: the second broker of run.sh (lib/oauth-daemon.sh,
  // fmb-test-mcp-server and its "sample" tool behind fmb-fake-forgejo).
  const OAUTH = process.env.FMB_E2E_OAUTH_URL;
  const FORGEJO = process.env.FMB_E2E_FORGEJO_URL;
  test("another user's requestState is refused", { skip: !OAUTH || !FORGEJO ? 'no OAuth broker (run.sh brokerd only)' : false }, async () => {
    const tokenOf = async (login, id) => {
      const signIn = await fetch(`${FORGEJO}/_fake/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ login, id }) });
      assert.equal(signIn.status, 200);
      await signIn.text();
      const provider = new HeadlessOAuthProvider({ clientName: `fmb-e2e-mrtr-${login}` });
      await closeOAuthClient(await connectWithOAuth(`${OAUTH}/mcp`, provider));
      return provider.tokens().access_token;
    };
    let alice;
    let bob;
    try {
      alice = await tokenOf('alice', 1);
      bob = await tokenOf('bob', 2);
    } finally {
      await fetch(`${FORGEJO}/_fake/login`, { method: 'POST', body: '{"login":"alice"}' }).then((r) => r.text()).catch(() => {});
    }
    const url = `${OAUTH}/mcp`;
    const call = (id, token, extra = {}) =>
      post(samplingCall(id, extra, { sampling: {} }, 'sample'), { ...mirrored('tools/call', 'sample'), Authorization: `Bearer ${token}` }, url);
    const asked = await call('alice-1', alice);
    assert.equal(asked.body.result?.resultType, 'input_required', JSON.stringify(asked.body));
    const [key] = Object.keys(asked.body.result.inputRequests);
    const answer = { inputResponses: { [key]: sampledReply('Paris') }, requestState: asked.body.result.requestState };
    assertRefusedState(await call('bob-1', bob, answer), 'bob-1');
    const done = await call('alice-2', alice, answer);
    assert.equal(done.body.result?.resultType, 'complete', JSON.stringify(done.body));
    assert.equal(done.body.result.content[0].text, 'Paris');

    // The audit trail (issue 15) tells alice's user child apart and records the call, without
    // naming a client: the child's initialize is the broker's own.
    const auditLog = process.env.FMB_E2E_OAUTH_AUDIT_LOG;
    assert.ok(auditLog, 'FMB_E2E_OAUTH_AUDIT_LOG');
    const lines = (await readFile(auditLog, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line));
    const children = new Set(lines
      .filter((line) => line.event === 'session.start' && line.user === 'alice' && line.kind === 'user child')
      .map((line) => line.session));
    assert.ok(children.size > 0, 'no session.start of a user child for alice');
    const calls = lines.filter((line) => line.event === 'tools.call' && children.has(line.session));
    assert.ok(calls.some((line) => line.tool === 'sample' && line.outcome === 'ok' && line.user === 'alice'),
      JSON.stringify(calls));
    for (const line of calls) {
      assert.equal(line.client_name, undefined, JSON.stringify(line));
    }
  });
});
