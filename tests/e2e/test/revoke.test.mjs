// Issue 15: forgejo-mcp-brokerctl revoke --user against the OAuth-mode broker
// of run.sh. A user signs in with the MCP SDK client and works; revoke ends
// their session, and the same bearer gets 401 with the resource metadata
// challenge, their refresh token is refused (invalid_grant), and signing in
// again works. A user of their own (carol) keeps the other tests' users out.
// The broker's audit trail (--audit-log) then holds carol's story in order,
// and no secret of the whole flow appears anywhere in it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';

import { closeClient, connectWithOAuth, firstText, HeadlessOAuthProvider, HTTP_TIMEOUT_MS } from '../lib/oauth.mjs';

const BROKER = process.env.FMB_E2E_OAUTH_URL;
const FORGEJO = process.env.FMB_E2E_FORGEJO_URL;
const SOCKET = process.env.FMB_E2E_OAUTH_ADMIN_SOCKET;
const BROKERCTL = process.env.FMB_E2E_BROKERCTL;
const AUDIT_LOG = process.env.FMB_E2E_OAUTH_AUDIT_LOG;
const CLIENT_SECRET_FILE = process.env.FMB_E2E_OAUTH_CLIENT_SECRET_FILE;
const skip = !BROKER || !FORGEJO || !SOCKET || !BROKERCTL
  ? 'FMB_E2E_OAUTH_URL / FMB_E2E_FORGEJO_URL / FMB_E2E_OAUTH_ADMIN_SOCKET / FMB_E2E_BROKERCTL are not set (run.sh brokerd only)'
  : false;
const MCP_URL = BROKER ? `${BROKER}/mcp` : undefined;
const run = promisify(execFile);

async function fakeLogin(login, id) {
  const response = await fetch(`${FORGEJO}/_fake/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ login, id }),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  assert.equal(response.status, 200, await response.text());
}

const echoed = []; // what carol's calls carried: arguments never reach the audit trail

async function echo(session) {
  const text = `revoke ${randomBytes(4).toString('hex')}`;
  echoed.push(text);
  const result = await session.client.callTool({ name: 'echo', arguments: { text } }, undefined, { timeout: 30_000 });
  assert.equal(firstText(result), text);
}

// A ping POSTed by hand with a bearer and (maybe) a session id.
async function ping(accessToken, sessionId) {
  const headers = {
    Accept: 'application/json, text/event-stream',
    'Content-Type': 'application/json',
    'MCP-Protocol-Version': '2025-06-18',
    Authorization: `Bearer ${accessToken}`,
  };
  if (sessionId) {
    headers['Mcp-Session-Id'] = sessionId;
  }
  const response = await fetch(MCP_URL, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  await response.body?.cancel();
  return response;
}

async function refresh(provider) {
  const response = await fetch(`${BROKER}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: provider.tokens().refresh_token,
      client_id: provider.savedClient.client_id,
    }),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  return { status: response.status, body: await response.json() };
}

describe('revoking a user', { skip, timeout: 90_000 }, () => {
  const carol = new HeadlessOAuthProvider({ clientName: 'fmb-e2e-carol' });
  let session;
  let again;
  let upstream; // carol's Forgejo access token, as her child got it

  before(async () => {
    await fakeLogin('carol', 3);
  });

  after(async () => {
    await closeClient(session);
    await closeClient(again);
    await fakeLogin('alice', 1).catch(() => {});
  });

  test('revoke ends the session; the old bearer gets 401, the refresh token invalid_grant', async () => {
    session = await connectWithOAuth(MCP_URL, carol);
    await echo(session);
    const env = await session.client.callTool({ name: 'env', arguments: { names: ['FORGEJO_ACCESS_TOKEN'] } });
    upstream = JSON.parse(firstText(env)).FORGEJO_ACCESS_TOKEN;
    assert.ok(upstream, 'the child has a Forgejo token');
    const sessionId = session.transport.sessionId;
    const bearer = carol.tokens().access_token;
    assert.equal((await ping(bearer, sessionId)).status, 200);

    const { stdout } = await run(BROKERCTL, ['--admin-socket', SOCKET, 'revoke', '--user', 'carol', '--yes', '--json']);
    const outcome = JSON.parse(stdout);
    assert.equal(outcome.user, 'carol');
    assert.equal(outcome.sessions, 1, stdout);
    assert.equal(outcome.grants, 1, stdout);
    assert.ok(outcome.broker_tokens >= 2, stdout);
    assert.equal(outcome.upstream_tokens, 1, stdout);

    for (const id of [sessionId, undefined]) {
      const refused = await ping(bearer, id);
      assert.equal(refused.status, 401, `with session id ${id}`);
      const challenge = refused.headers.get('www-authenticate') ?? '';
      assert.match(challenge, /^Bearer error="invalid_token"/);
      assert.match(challenge, /resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp"/);
    }
    const refreshed = await refresh(carol);
    assert.equal(refreshed.status, 400, JSON.stringify(refreshed.body));
    assert.equal(refreshed.body.error, 'invalid_grant');

    // A second revoke finds nothing left.
    const second = JSON.parse((await run(BROKERCTL, ['--admin-socket', SOCKET, 'revoke', '--user', 'carol', '--yes', '--json'])).stdout);
    assert.deepEqual(second, { user: 'carol', sessions: 0, grants: 0, broker_tokens: 0, upstream_tokens: 0 });
  });

  test("the audit trail tells carol's story and holds no secret", async () => {
    assert.ok(AUDIT_LOG, 'FMB_E2E_OAUTH_AUDIT_LOG');
    assert.equal((await stat(AUDIT_LOG)).mode & 0o777, 0o600);
    const text = await readFile(AUDIT_LOG, 'utf8');
    const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line));
    for (const line of lines) {
      assert.match(line.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(Object.keys(line)[0], 'ts');
      assert.equal(Object.keys(line)[1], 'event');
      assert.ok(typeof line.node === 'string' && line.node.length > 0, `no node: ${JSON.stringify(line)}`);
      if (line.session !== undefined) {
        assert.match(line.session, /^[0-9a-f]{8}$/, 'a session id prefix, never the id');
      }
    }
    // The first 8 hex digits of the random part, after the node-id prefix.
    const prefix = session.transport.sessionId.slice(-48).slice(0, 8);
    const story = lines
      .filter((line) => line.user === 'carol' && line.event !== 'tools.call')
      .map((line) => `${line.event}${line.reason ? `:${line.reason}` : ''}${line.outcome ? `:${line.outcome}` : ''}`);
    assert.deepEqual(story.slice(0, 7), [
      'consent', // given on the consent page, known to be carol's once she signed in upstream
      'sign_in:ok',
      'token.issued',
      'session.start',
      'session.ready',
      'session.end:revoked', // the sessions end inside the revoke, which is logged once done
      'user.revoked',
    ], text);
    const consent = lines.find((line) => line.event === 'consent' && line.user === 'carol');
    assert.equal(consent.client_id, carol.savedClient.client_id);
    assert.equal(consent.client_name, 'fmb-e2e-carol');
    const issued = lines.find((line) => line.event === 'token.issued' && line.user === 'carol');
    assert.match(issued.grant, /^[0-9a-f]{8}$/, 'a grant id prefix');
    const ready = lines.find((line) => line.event === 'session.ready' && line.session === prefix);
    assert.equal(ready?.client_name, 'fmb-e2e-carol');
    const revoked = lines.find((line) => line.event === 'user.revoked' && line.user === 'carol');
    assert.equal(revoked.sessions, 1);
    assert.equal(revoked.grants, 1);

    const calls = lines.filter((line) => line.event === 'tools.call' && line.session === prefix);
    assert.deepEqual(calls.map((line) => `${line.tool}:${line.outcome}`), ['echo:ok', 'env:ok'], text);
    for (const call of calls) {
      assert.equal(call.user, 'carol');
      assert.equal(call.client_name, 'fmb-e2e-carol');
      assert.ok(Number.isInteger(call.duration_ms) && call.duration_ms >= 0, JSON.stringify(call));
    }
    for (const argument of echoed) {
      assert.ok(!text.includes(argument), 'a tool argument is in the audit trail');
    }

    const secrets = [
      (await readFile(CLIENT_SECRET_FILE, 'utf8')).trim(),
      session.transport.sessionId,
      carol.verifier,
      upstream,
      ...carol.savedTokens.flatMap((tokens) => [tokens.access_token, tokens.refresh_token]),
      ...carol.authorizations.map((authorization) => authorization.code),
    ].filter(Boolean);
    assert.ok(secrets.length >= 6, `${secrets.length} secrets to look for`);
    for (const secret of secrets) {
      assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 4)}…) is in the audit trail`);
    }
  });

  test('the same client signs in again and works', async () => {
    const signInsBefore = carol.authorizations.length;
    carol.savedTokens = []; // as a client does once its refresh was refused
    again = await connectWithOAuth(MCP_URL, carol);
    assert.equal(carol.authorizations.length, signInsBefore + 1, 'a new sign-in');
    assert.notEqual(again.transport.sessionId, session.transport.sessionId);
    await echo(again);
  });

  test('a refresh and an RFC 7009 revocation are in the audit trail', async () => {
    const refreshed = await refresh(carol);
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const response = await fetch(`${BROKER}/oauth/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: refreshed.body.refresh_token, client_id: carol.savedClient.client_id }),
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    assert.equal(response.status, 200);
    const text = await readFile(AUDIT_LOG, 'utf8');
    const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line));
    const tokens = lines
      .filter((line) => line.user === 'carol' && line.event.startsWith('token.'))
      .map((line) => `${line.event}${line.token ? `:${line.token}` : ''}`);
    assert.deepEqual(tokens.slice(-2), ['token.refreshed', 'token.revoked:refresh'], text);
    for (const secret of [refreshed.body.access_token, refreshed.body.refresh_token]) {
      assert.ok(!text.includes(secret), 'a token is in the audit trail');
    }
  });
});
