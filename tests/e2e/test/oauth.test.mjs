// OAuth mode end to end: the official MCP SDK client does the whole flow
// headless against a broker whose upstream is fmb-fake-forgejo (run.sh starts
// both; see lib/oauth-daemon.sh for the timings): discovery, dynamic
// registration, the consent page, the upstream sign-in, the token exchange;
// then the child's Forgejo token, the SDK refreshing the broker's short-lived
// token, the broker refreshing the Forgejo token and respawning the child
// under the same session, and a second user kept out of the first one's session.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';

import {
  closeClient,
  connectWithOAuth,
  firstText,
  forgejoUser as forgejoUserAt,
  HeadlessOAuthProvider,
  HTTP_TIMEOUT_MS,
  waitFor,
} from '../lib/oauth.mjs';
import { withTimeout } from '../lib/timeout.mjs';

const BROKER = process.env.FMB_E2E_OAUTH_URL; // http://127.0.0.1:PORT: the issuer
const FORGEJO = process.env.FMB_E2E_FORGEJO_URL; // fmb-fake-forgejo
const TOKEN_ENV = 'FORGEJO_ACCESS_TOKEN';
const CALL = { timeout: 30_000 };
const skip = !BROKER || !FORGEJO ? 'FMB_E2E_OAUTH_URL / FMB_E2E_FORGEJO_URL are not set (run.sh brokerd only)' : false;
const MCP_URL = BROKER ? `${BROKER}/mcp` : undefined;

async function fake(path, body) {
  const response = await fetch(`${FORGEJO}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const text = await response.text();
  assert.equal(response.status, 200, `${path}: ${text}`);
  return JSON.parse(text);
}

// Who a Forgejo access token belongs to, at the fake Forgejo.
function forgejoUser(token) {
  return forgejoUserAt(FORGEJO, token);
}

async function tool(session, name, args = {}) {
  const result = await session.client.callTool({ name, arguments: args }, undefined, CALL);
  assert.notEqual(result.isError, true, `${name}: ${firstText(result)}`);
  return firstText(result);
}

async function childEnv(session) {
  return JSON.parse(await tool(session, 'env', { names: [TOKEN_ENV, 'FORGEJO_URL'] }));
}

async function childState(session) {
  return JSON.parse(await tool(session, 'state'));
}

// The SDK v2 client pinned to 2026-07-28 (issue 13), signed in with the
// provider's tokens (it refreshes them as the v1 client does).
async function connectPinned(provider) {
  const client = new ClientV2({ name: `${provider.clientName}-2026`, version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  const transport = new TransportV2(new URL(MCP_URL), { authProvider: provider });
  await withTimeout(client.connect(transport, CALL), 35_000, 'v2 pinned connect');
  return { client, transport };
}

async function pinnedTool(pinned, name, args = {}) {
  const result = await pinned.client.callTool({ name, arguments: args }, CALL);
  assert.notEqual(result.isError, true, `${name}: ${firstText(result)}`);
  return firstText(result);
}

// A raw JSON-RPC POST to /mcp with a bearer token and a session id.
async function rawMcp(accessToken, sessionId, method = 'POST') {
  const headers = { Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-06-18' };
  if (accessToken) {
    headers.Authorization = `Bearer ${accessToken}`;
  }
  if (sessionId) {
    headers['Mcp-Session-Id'] = sessionId;
  }
  let body;
  if (method === 'POST') {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify({ jsonrpc: '2.0', id: `raw-${randomBytes(4).toString('hex')}`, method: 'ping' });
  }
  const response = await fetch(MCP_URL, { method, headers, body, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  await response.body?.cancel();
  return response;
}

describe('OAuth mode with the MCP SDK client', { skip, timeout: 90_000 }, () => {
  const alice = new HeadlessOAuthProvider({ clientName: 'fmb-e2e-alice' });
  let session; // alice's
  let sessionId;
  let firstToken; // the Forgejo access token of alice's first child
  let firstPid;
  let refreshesBefore;

  before(async () => {
    await fake('/_fake/login', { login: 'alice' });
    refreshesBefore = (await fake('/_fake/stats')).refreshes;
  });

  after(async () => {
    await closeClient(session);
    await fetch(`${FORGEJO}/_fake/login`, { method: 'POST', body: '{"login":"alice"}' }).catch(() => {});
  });

  test('discovery, registration, consent, upstream sign-in, token, initialize', async () => {
    const unauthorized = await rawMcp(undefined, undefined);
    assert.equal(unauthorized.status, 401);
    assert.match(unauthorized.headers.get('www-authenticate') ?? '', /^Bearer resource_metadata="/);
    // MCP 2025-11-25 scope selection: the broker names the scope it wants.
    assert.match(unauthorized.headers.get('www-authenticate') ?? '', /, scope="mcp"$/);

    session = await connectWithOAuth(MCP_URL, alice);
    sessionId = session.transport.sessionId;
    assert.match(sessionId ?? '', /^[A-Za-z0-9._-]{1,32}-[0-9a-f]{48}$/, 'an Mcp-Session-Id: node id, then 192 random bits');
    assert.equal(session.client.getServerVersion()?.name, 'fmb-test-mcp-server');

    // Registration: a public client, as asked.
    assert.ok(alice.savedClient?.client_id, 'the SDK registered a client');
    assert.equal(alice.savedClient.client_secret, undefined);
    assert.equal(alice.savedClient.issuer, BROKER, 'client information is bound to the broker');

    // The sign-in: one consent page, then Forgejo, then back to the client with iss and state.
    assert.equal(alice.authorizations.length, 1);
    const [signIn] = alice.authorizations;
    assert.equal(signIn.url.origin + signIn.url.pathname, `${BROKER}/oauth/authorize`);
    assert.equal(signIn.url.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(signIn.url.searchParams.get('resource'), MCP_URL);
    assert.equal(signIn.error, null, `error=${signIn.error}`);
    assert.match(signIn.code ?? '', /.{16,}/);
    assert.equal(signIn.iss, BROKER, 'RFC 9207 iss is the broker');
    assert.equal(signIn.state, alice.lastState, 'state round-trips');
    assert.equal(signIn.url.searchParams.get('state'), alice.lastState);
    const hops = alice.agent.hops.map((h) => `${h.method} ${new URL(h.url).origin}${new URL(h.url).pathname} ${h.status}`);
    assert.deepEqual(hops, [
      `GET ${BROKER}/oauth/authorize 200`,
      `POST ${BROKER}/oauth/consent 302`,
      `GET ${FORGEJO}/login/oauth/authorize 303`,
      `GET ${BROKER}/oauth/callback 302`,
    ]);
    assert.ok(alice.agent.cookie(BROKER, '__Host-fmb_login'), 'the broker remembers the user');

    // Tokens: a bearer pair for the broker, not Forgejo's.
    const tokens = alice.tokens();
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.ok(tokens.refresh_token, 'a refresh token');
    assert.ok(!tokens.access_token.startsWith('gto_'), 'the client never sees the Forgejo token');
    assert.equal(alice.savedTokens.length, 1);
  });

  test('tools/list and a tool call go to the child', async () => {
    const { tools } = await session.client.listTools(undefined, CALL);
    const names = tools.map((t) => t.name);
    for (const name of ['echo', 'env', 'state', 'slow']) {
      assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    }
    const text = `hello ${randomBytes(4).toString('hex')}`;
    assert.equal(await tool(session, 'echo', { text }), text);
  });

  test("the child gets the user's Forgejo token and URL", async () => {
    const env = await childEnv(session);
    assert.equal(env.FORGEJO_URL, FORGEJO);
    assert.match(env[TOKEN_ENV] ?? '', /^gto_[0-9a-f]{64}$/);
    assert.equal(await forgejoUser(env[TOKEN_ENV]), 'alice');
    firstToken = env[TOKEN_ENV];
    firstPid = (await childState(session)).pid;
    assert.ok(firstPid > 0);
  });

  test("the SDK refreshes the broker's expired access token and carries on", async () => {
    const expired = alice.tokens();
    // --access-token-ttl 5: wait until the broker refuses the token.
    await waitFor(async () => (await rawMcp(expired.access_token, sessionId)).status === 401, {
      timeoutMs: 15_000,
      what: 'the broker access token expires',
    });
    const text = `after refresh ${randomBytes(4).toString('hex')}`;
    assert.equal(await tool(session, 'echo', { text }), text, 'the call after expiry works');
    const fresh = alice.tokens();
    assert.equal(alice.savedTokens.length, 2, 'saveTokens() once more: a refresh, not a new sign-in');
    assert.equal(alice.authorizations.length, 1, 'no second sign-in');
    assert.notEqual(fresh.access_token, expired.access_token);
    assert.notEqual(fresh.refresh_token, expired.refresh_token, 'refresh tokens rotate');
    assert.equal(session.transport.sessionId, sessionId, 'same session');
    assert.equal((await rawMcp(fresh.access_token, sessionId)).status, 200);
  });

  test('the broker refreshes the Forgejo token and respawns the child under the same session', async () => {
    // Forgejo tokens live 20 s, refreshed 15 s ahead, looked for every 2 s.
    const env = await waitFor(
      async () => {
        const now = await childEnv(session);
        return now[TOKEN_ENV] !== firstToken ? now : undefined;
      },
      { timeoutMs: 25_000, intervalMs: 500, what: 'the child shows a new Forgejo token' },
    );
    assert.match(env[TOKEN_ENV], /^gto_[0-9a-f]{64}$/);
    assert.equal(await forgejoUser(env[TOKEN_ENV]), 'alice', 'the new token is still alice');
    assert.equal(env.FORGEJO_URL, FORGEJO);
    assert.equal(session.transport.sessionId, sessionId, 'the client kept its session id');
    const state = await childState(session);
    assert.notEqual(state.pid, firstPid, 'a new child');
    // The broker replayed the client's initialize to the new child.
    assert.equal(state.initializeParams?.clientInfo?.name, alice.clientName);
    assert.equal(state.initializedCount, 1);
    assert.equal(alice.authorizations.length, 1, 'the client did not sign in again');
    const stats = await fake('/_fake/stats');
    assert.ok(stats.refreshes > refreshesBefore, `refreshes ${refreshesBefore} -> ${stats.refreshes}`);
    assert.equal(stats.refresh_failures, 0);
  });

  test("a second user cannot use the first user's session", async () => {
    await fake('/_fake/login', { login: 'bob', id: 2 });
    const bob = new HeadlessOAuthProvider({ clientName: 'fmb-e2e-bob' }); // another browser, another client
    let bobSession;
    try {
      bobSession = await connectWithOAuth(MCP_URL, bob);
      assert.notEqual(bobSession.transport.sessionId, sessionId);
      const env = await childEnv(bobSession);
      assert.equal(await forgejoUser(env[TOKEN_ENV]), 'bob');

      const bobToken = bob.tokens().access_token;
      const post = await rawMcp(bobToken, sessionId);
      assert.equal(post.status, 403, "bob's POST to alice's session");
      const get = await rawMcp(bobToken, sessionId, 'GET');
      assert.equal(get.status, 403, "bob's GET of alice's stream");
      const del = await rawMcp(bobToken, sessionId, 'DELETE');
      assert.equal(del.status, 403, "bob's DELETE of alice's session");

      // 2026-07-28 (issue 13): a pinned client of each user is served by a
      // child of that user, with that user's token; alice's pinned clients share one.
      const alicePinned = await connectPinned(alice);
      const alicePinnedAgain = await connectPinned(alice);
      const bobPinned = await connectPinned(bob);
      try {
        const aliceEnv = JSON.parse(await pinnedTool(alicePinned, 'env', { names: [TOKEN_ENV] }));
        assert.equal(await forgejoUser(aliceEnv[TOKEN_ENV]), 'alice', "alice's user child has alice's token");
        const bobEnv = JSON.parse(await pinnedTool(bobPinned, 'env', { names: [TOKEN_ENV] }));
        assert.equal(await forgejoUser(bobEnv[TOKEN_ENV]), 'bob', "bob's user child has bob's token");
        const aliceChild = JSON.parse(await pinnedTool(alicePinned, 'state'));
        assert.equal(aliceChild.initializeParams?.clientInfo?.name, 'forgejo-mcp-broker', 'the broker initialized it');
        assert.equal(aliceChild.initializeParams?.protocolVersion, '2025-11-25');
        assert.equal(JSON.parse(await pinnedTool(alicePinnedAgain, 'state')).pid, aliceChild.pid, 'one child for alice');
        assert.notEqual(JSON.parse(await pinnedTool(bobPinned, 'state')).pid, aliceChild.pid, 'never shared across users');
        assert.notEqual((await childState(session)).pid, aliceChild.pid, "not alice's session child");

        // Its Forgejo token rotates like a session's: a new child under the
        // same clients, and every call in between answered (pinnedTool fails on an error).
        const rotated = await waitFor(
          async () => {
            const env = JSON.parse(await pinnedTool(alicePinned, 'env', { names: [TOKEN_ENV] }));
            return env[TOKEN_ENV] !== aliceEnv[TOKEN_ENV] ? env : undefined;
          },
          { timeoutMs: 25_000, intervalMs: 300, what: "alice's user child shows a new Forgejo token" },
        );
        assert.equal(await forgejoUser(rotated[TOKEN_ENV]), 'alice');
        const respawned = JSON.parse(await pinnedTool(alicePinnedAgain, 'state'));
        assert.notEqual(respawned.pid, aliceChild.pid, 'a new user child');
        assert.equal(respawned.initializeParams?.clientInfo?.name, 'forgejo-mcp-broker', 'the broker initialized it again');
      } finally {
        for (const pinned of [alicePinned, alicePinnedAgain, bobPinned]) {
          await withTimeout(pinned.client.close(), 10_000, 'close').catch(() => {});
        }
      }

      // Alice's session is untouched.
      const text = `still alice ${randomBytes(4).toString('hex')}`;
      assert.equal(await tool(session, 'echo', { text }), text);
      assert.equal(await forgejoUser((await childEnv(session))[TOKEN_ENV]), 'alice');
    } finally {
      await closeClient(bobSession);
      await fake('/_fake/login', { login: 'alice' });
    }
  });
});

// Issue 11: what real clients register. Claude registers from its servers as a
// confidential client (client_secret_post) with a scope the broker never
// advertised; VS Code registers port-less and fixed-port loopback URIs
// and authorizes on a random port when 33418 is busy.
describe('OAuth mode with real clients\' registrations', { skip, timeout: 60_000 }, () => {
  before(async () => {
    await fake('/_fake/login', { login: 'alice' });
  });

  test('Claude: confidential client (client_secret_post)', async () => {
    const claude = new HeadlessOAuthProvider({
      clientName: 'Claude',
      redirectUri: 'https://claude.ai/api/mcp/auth_callback',
      tokenEndpointAuthMethod: 'client_secret_post',
      scope: 'claudeai',
    });
    let session;
    try {
      session = await connectWithOAuth(MCP_URL, claude);
      assert.equal(claude.savedClient.token_endpoint_auth_method, 'client_secret_post');
      assert.match(claude.savedClient.client_secret ?? '', /.{32,}/, 'a client secret was issued');
      assert.equal(claude.savedClient.client_secret_expires_at, 0);
      const [signIn] = claude.authorizations;
      assert.equal(signIn.url.searchParams.get('redirect_uri'), 'https://claude.ai/api/mcp/auth_callback');
      assert.ok(signIn.callback.href.startsWith('https://claude.ai/api/mcp/auth_callback?'), signIn.callback.href);
      // It registered asking for "claudeai"; the SDK authorizes with the challenge's scope.
      assert.equal(signIn.url.searchParams.get('scope'), 'mcp');
      assert.equal(claude.tokens().scope, 'mcp');
      const text = `claude ${randomBytes(4).toString('hex')}`;
      assert.equal(await tool(session, 'echo', { text }), text);

      // Item 5d: the registered method only, with the right secret.
      const refresh = async (extra, headers = {}) => {
        const response = await fetch(`${BROKER}/oauth/token`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: claude.tokens().refresh_token, ...extra }),
          signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
        });
        return { status: response.status, body: await response.json(), challenge: response.headers.get('www-authenticate') };
      };
      const id = claude.savedClient.client_id;
      const wrong = await refresh({ client_id: id, client_secret: 'not-the-secret' });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error, 'invalid_client');
      const missing = await refresh({ client_id: id });
      assert.equal(missing.status, 401);
      const basic = Buffer.from(`${id}:${claude.savedClient.client_secret}`).toString('base64');
      const otherMethod = await refresh({}, { Authorization: `Basic ${basic}` });
      assert.equal(otherMethod.status, 401);
      assert.match(otherMethod.challenge ?? '', /^Basic realm=/);
      const right = await refresh({ client_id: id, client_secret: claude.savedClient.client_secret });
      assert.equal(right.status, 200, JSON.stringify(right.body));
    } finally {
      await closeClient(session);
    }
  });

  test('VS Code: registered 127.0.0.1:33418, authorizes on a random loopback port', async () => {
    const port = 40_000 + (randomBytes(2).readUInt16BE() % 20_000);
    const vscode = new HeadlessOAuthProvider({
      clientName: 'Visual Studio Code',
      redirectUri: `http://127.0.0.1:${port}/`,
      redirectUris: [
        'https://insiders.vscode.dev/redirect',
        'https://vscode.dev/redirect',
        'http://127.0.0.1/',
        'http://127.0.0.1:33418/',
      ],
    });
    let session;
    try {
      session = await connectWithOAuth(MCP_URL, vscode);
      assert.equal(vscode.savedClient.token_endpoint_auth_method, 'none');
      assert.equal(vscode.savedClient.client_secret, undefined);
      const [signIn] = vscode.authorizations;
      assert.equal(signIn.url.searchParams.get('redirect_uri'), `http://127.0.0.1:${port}/`);
      assert.ok(signIn.callback.href.startsWith(`http://127.0.0.1:${port}/?`), signIn.callback.href);
      const text = `vscode ${randomBytes(4).toString('hex')}`;
      assert.equal(await tool(session, 'echo', { text }), text);
    } finally {
      await closeClient(session);
    }
  });
});
