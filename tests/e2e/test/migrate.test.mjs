// Issue 14: a single broker becomes a cluster without a sign-in. A broker on
// SQLite (its own state directory) serves dave, who signs in with the SDK
// client; the broker stops; `forgejo-mcp-brokerctl migrate-store` copies its
// store into an empty PostgreSQL database (lib/cluster.sh made it); a broker on
// PostgreSQL with the old key file takes over the same public URL. Dave's
// access token, his refresh token and his Forgejo grant keep working there.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';

import { closeClient, connectWithOAuth, firstText, forgejoUser, HeadlessOAuthProvider, HTTP_TIMEOUT_MS, mcpPost, waitFor } from '../lib/oauth.mjs';

const env = process.env;
const PUBLIC_URL = env.FMB_E2E_CLUSTER_MIGRATE_URL;
const DATABASE = env.FMB_E2E_CLUSTER_MIGRATE_DB;
const FORGEJO = env.FMB_E2E_CLUSTER_FORGEJO_URL;
let skip = false;
if (env.FMB_E2E_CLUSTER_SKIP) {
  skip = `migrate test skipped: ${env.FMB_E2E_CLUSTER_SKIP}`;
} else if (!PUBLIC_URL || !DATABASE || !env.FMB_E2E_BROKERCTL) {
  skip = 'FMB_E2E_CLUSTER_MIGRATE_URL is not set (run.sh brokerd only)';
}

// One broker at PUBLIC_URL; `store` is its --database (or none: SQLite in the state dir).
class Broker {
  constructor(stateDir, extra) {
    this.log = '';
    this.process = spawn(
      env.FMB_E2E_DAEMON,
      [
        '--auth', 'oauth',
        '--listen', new URL(PUBLIC_URL).host,
        '--public-url', PUBLIC_URL,
        '--state-dir', stateDir,
        '--forgejo-url', FORGEJO,
        '--forgejo-client-id', env.FMB_E2E_CLUSTER_CLIENT_ID,
        '--forgejo-client-secret-file', path.join(env.FMB_E2E_CLUSTER_DIR, 'client-secret'),
        '--child-command', path.join(env.FMB_E2E_TEST_BIN, 'fmb-test-mcp-server'),
        '--child-stop-grace', '1s',
        '--node-id', 'migrated',
        ...extra,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    for (const stream of [this.process.stdout, this.process.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        this.log += chunk;
      });
    }
    this.exited = new Promise((resolve) => this.process.on('exit', (code, signal) => resolve({ code, signal })));
  }

  async listening() {
    await waitFor(() => this.log.includes('listening on http://') || this.process.exitCode !== null, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'the broker listening',
    });
    assert.ok(this.log.includes('listening on http://'), `the broker did not start:\n${this.log}`);
  }

  async stop() {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill('SIGTERM');
    }
    return this.exited;
  }
}

describe('migrate-store: one SQLite broker becomes a PostgreSQL cluster (issue 14)', { skip, timeout: 120_000 }, () => {
  const scratch = skip ? undefined : mkdtempSync(path.join(tmpdir(), 'fmb-e2e-migrate-'));
  let broker;
  let sdk;

  after(async () => {
    await closeClient(sdk);
    await broker?.stop();
    if (scratch) {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test("dave's tokens and Forgejo grant work at the PostgreSQL broker after migrate-store", async () => {
    const stateDir = path.join(scratch, 'state');
    mkdirSync(stateDir, { mode: 0o700 });
    // The shared fake Forgejo signs in whoever it was told last.
    const login = await fetch(`${FORGEJO}/_fake/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ login: 'dave', id: 8 }),
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    assert.equal(login.status, 200);

    // 1. The single broker, on SQLite: dave signs in and works.
    broker = new Broker(stateDir, []);
    await broker.listening();
    const dave = new HeadlessOAuthProvider({ clientName: 'fmb-e2e-migrate-dave' });
    sdk = await connectWithOAuth(`${PUBLIC_URL}/mcp`, dave);
    const before = await sdk.client.callTool({ name: 'env', arguments: { names: ['FORGEJO_ACCESS_TOKEN'] } }, undefined, { timeout: 30_000 });
    assert.equal(await forgejoUser(FORGEJO, JSON.parse(firstText(before)).FORGEJO_ACCESS_TOKEN), 'dave');
    await closeClient(sdk);
    sdk = undefined;
    const tokens = dave.tokens();
    assert.ok(tokens.access_token && tokens.refresh_token);
    const stopped = await broker.stop();
    assert.equal(stopped.code, 0, `the SQLite broker exited with ${JSON.stringify(stopped)}:\n${broker.log}`);

    // 2. migrate-store into the empty PostgreSQL database.
    const migrate = spawnSync(
      env.FMB_E2E_BROKERCTL,
      ['migrate-store', '--from', `sqlite:${path.join(stateDir, 'broker.sqlite3')}`, '--to', DATABASE, '--json'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(migrate.status, 0, `migrate-store: ${migrate.status}\n${migrate.stdout}\n${migrate.stderr}`);
    const report = JSON.parse(migrate.stdout);
    assert.equal(report.grants, 1);
    assert.equal(report.upstream_tokens, 1);
    assert.ok(report.access_tokens >= 1 && report.refresh_tokens >= 1, migrate.stdout);
    for (const secret of [tokens.access_token, tokens.refresh_token]) {
      assert.ok(!migrate.stdout.includes(secret) && !migrate.stderr.includes(secret), 'no token in the report');
    }

    // 3. The broker on PostgreSQL at the same public URL, with the old key file
    //    (every broker of the cluster would get it as --secret-key-file).
    const keyFile = path.join(stateDir, 'upstream-tokens.key');
    assert.ok(readFileSync(keyFile).length > 0);
    broker = new Broker(path.join(scratch, 'state-pg'), ['--database', DATABASE, '--secret-key-file', keyFile]);
    await broker.listening();

    // The old access token: a session, and the child gets dave's Forgejo token.
    const mcp = `${PUBLIC_URL}/mcp`;
    const init = await mcpPost(PUBLIC_URL, tokens.access_token, undefined, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fmb-e2e-migrate', version: '1' } },
    });
    assert.equal(init.status, 200, `initialize with the migrated token: HTTP ${init.status} ${init.text.slice(0, 300)}`);
    assert.match(init.sessionId ?? '', /^migrated-/);
    const session = init.sessionId;
    assert.equal((await mcpPost(PUBLIC_URL, tokens.access_token, session, { jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
    const seen = await mcpPost(PUBLIC_URL, tokens.access_token, session, {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'env', arguments: { names: ['FORGEJO_ACCESS_TOKEN'] } },
    });
    assert.equal(seen.status, 200, seen.text.slice(0, 300));
    const forgejoToken = JSON.parse(seen.json?.result?.content?.[0]?.text ?? '{}').FORGEJO_ACCESS_TOKEN;
    assert.equal(await forgejoUser(FORGEJO, forgejoToken), 'dave', 'the child has the migrated Forgejo token of dave');

    // The old refresh token: a new pair from the PostgreSQL broker.
    const metadata = await (await fetch(`${PUBLIC_URL}/.well-known/oauth-authorization-server`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) })).json();
    const refreshed = await fetch(metadata.token_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
        client_id: dave.clientInformation().client_id,
        resource: mcp,
      }).toString(),
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    const pair = await refreshed.json();
    assert.equal(refreshed.status, 200, JSON.stringify(pair));
    assert.ok(pair.access_token && pair.access_token !== tokens.access_token);
    assert.equal((await mcpPost(PUBLIC_URL, pair.access_token, session, { jsonrpc: '2.0', id: 3, method: 'ping' })).status, 200);
    const stoppedPg = await broker.stop();
    assert.equal(stoppedPg.code, 0, `the PostgreSQL broker exited with ${JSON.stringify(stoppedPg)}`);
  });
});
