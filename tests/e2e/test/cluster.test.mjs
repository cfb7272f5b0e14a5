// Issue 14: two brokers on one PostgreSQL behind HAProxy (lib/cluster.sh starts
// them with the configuration of docs/deployment.md). The SDK client signs in
// once through HAProxy; its tokens work at either broker; session clients
// spread over both; then the broker holding the SDK client's session ("A"
// below) is killed with SIGKILL under load: its clients get 404 and initialize
// again on the other ("B") with the same tokens (no sign-in), none of A's
// children survives it, and B's clients see no error. Before that, with a short
// Forgejo token lifetime, rotation happens mid-traffic: one refresh per grant
// per rotation across both brokers, and both brokers' children get the new token.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFile, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { closeClient, connectWithOAuth, firstText, HeadlessOAuthProvider, HTTP_TIMEOUT_MS, mcpPost, waitFor } from '../lib/oauth.mjs';

const env = process.env;
const CLUSTER = env.FMB_E2E_CLUSTER_URL; // HAProxy: the brokers' public URL
const BROKER_A = env.FMB_E2E_CLUSTER_A_URL;
const BROKER_B = env.FMB_E2E_CLUSTER_B_URL;
const PIDS = { 'broker-a': Number(env.FMB_E2E_CLUSTER_A_PID), 'broker-b': Number(env.FMB_E2E_CLUSTER_B_PID) };
const FORGEJO = env.FMB_E2E_CLUSTER_FORGEJO_URL;
const MARKER = env.FMB_E2E_CLUSTER_MARKER; // broker X's children: FMB_E2E_MARKER=$MARKER-X
const ADMIN = { 'broker-a': env.FMB_E2E_CLUSTER_A_ADMIN_SOCKET, 'broker-b': env.FMB_E2E_CLUSTER_B_ADMIN_SOCKET };
const BROKERCTL = env.FMB_E2E_BROKERCTL;
const SESSIONS = 20;
const CALL = { timeout: 30_000 };
let skip = false;
if (env.FMB_E2E_CLUSTER_SKIP) {
  skip = `cluster test skipped: ${env.FMB_E2E_CLUSTER_SKIP}`;
} else if (!CLUSTER) {
  skip = 'FMB_E2E_CLUSTER_URL is not set (run.sh brokerd only)';
}

// Which broker holds a session: its id starts with the node id (--node-id broker-X).
function nodeOf(sessionId) {
  return /^(broker-[ab])-[0-9a-f]{48}$/.exec(sessionId ?? '')?.[1];
}

// forgejo-mcp-brokerctl with these arguments: its exit code, stdout and stderr.
function brokerctl(...args) {
  return new Promise((resolve) => {
    execFile(BROKERCTL, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

// Pids of processes whose environment carries FMB_E2E_MARKER=<marker>.
function markedPids(marker) {
  const entry = `FMB_E2E_MARKER=${marker}`;
  const pids = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) {
      continue;
    }
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      if (/^\d+ \(.*\) [ZX] /s.test(stat)) {
        continue; // a zombie has ended; it only waits to be reaped
      }
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(entry)) {
        pids.push(Number(name));
      }
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

// A session client without the SDK: initialize, then pings.
class RawSession {
  constructor(base, token) {
    this.base = base;
    this.token = token;
    this.sessionId = undefined;
    this.next = 1;
  }

  async initialize() {
    const init = await mcpPost(this.base, this.token, undefined, {
      jsonrpc: '2.0',
      id: this.next++,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fmb-e2e-cluster', version: '1' } },
    });
    assert.equal(init.status, 200, `initialize at ${this.base}: HTTP ${init.status} ${init.text.slice(0, 200)}`);
    this.sessionId = init.sessionId;
    const initialized = await mcpPost(this.base, this.token, this.sessionId, { jsonrpc: '2.0', method: 'notifications/initialized' });
    assert.equal(initialized.status, 202, `notifications/initialized: HTTP ${initialized.status}`);
    return nodeOf(this.sessionId);
  }

  // The HTTP status of one ping (0: no HTTP answer at all).
  async ping() {
    const id = this.next++;
    try {
      const answer = await mcpPost(this.base, this.token, this.sessionId, { jsonrpc: '2.0', id, method: 'ping' });
      if (answer.status === 200 && answer.json?.id !== id) {
        return -1; // a 200 that is not the answer to this ping
      }
      return answer.status;
    } catch (error) {
      // Status 0: no HTTP answer at all; keep why, for the assertion messages.
      this.transportErrors = [...(this.transportErrors ?? []), String(error.cause?.code ?? error.cause ?? error)];
      return 0;
    }
  }

  // The child's environment variables `names` (tools/call env of the test MCP server).
  async env(names) {
    const id = this.next++;
    const answer = await mcpPost(this.base, this.token, this.sessionId, {
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'env', arguments: { names } },
    });
    assert.equal(answer.status, 200, `env: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
    return JSON.parse(answer.json.result.content[0].text);
  }

  async close() {
    if (this.sessionId) {
      await fetch(`${this.base}/mcp`, {
        method: 'DELETE',
        headers: { Authorization: `Bearer ${this.token}`, 'Mcp-Session-Id': this.sessionId },
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      }).catch(() => {});
    }
  }
}

async function fake(path, body) {
  const response = await fetch(`${FORGEJO}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  assert.equal(response.status, 200, `${path}: ${await response.text()}`);
}

async function fakeGet(path) {
  const response = await fetch(`${FORGEJO}${path}`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  assert.equal(response.status, 200, path);
  return response.json();
}

function fingerprint(token) {
  return createHash('sha256').update(token).digest('hex').slice(0, 8);
}

// The brokers run with --refresh-lead 30s --rotate-interval 1s; Forgejo access
// tokens normally live an hour. Carol's live 35 s here: due 5 s after issue.
describe('token rotation across two brokers (issue 14)', { skip, timeout: 120_000 }, () => {
  const carol = new HeadlessOAuthProvider({ clientName: 'fmb-e2e-cluster-carol' });
  let sdk;
  const sessions = []; // direct sessions: three on each broker

  before(async () => {
    await fake('/_fake/login', { login: 'carol', id: 7 });
    // A slow Forgejo: each broker sweeps every second, so without the lock
    // both would send the same refresh token while the first waits.
    await fake('/_fake/access-ttl', { seconds: 35, answer_delay_ms: 1500 });
  });

  after(async () => {
    await fake('/_fake/access-ttl', { seconds: 3600, answer_delay_ms: 0 });
    await closeClient(sdk);
    await Promise.all(sessions.map((s) => s.close()));
  });

  test('one Forgejo refresh per rotation; both brokers respawn onto the new token; no request fails', async () => {
    const carolStats = async () => (await fakeGet('/_fake/stats')).users.find((u) => u.login === 'carol');
    const failuresBefore = (await fakeGet('/_fake/stats')).refresh_failures;
    sdk = await connectWithOAuth(`${CLUSTER}/mcp`, carol);
    const token = carol.tokens().access_token;
    for (const [base, node] of [
      [BROKER_A, 'broker-a'],
      [BROKER_B, 'broker-b'],
    ]) {
      for (let i = 0; i < 3; ++i) {
        const session = new RawSession(base, token);
        assert.equal(await session.initialize(), node);
        sessions.push(session);
      }
    }
    const statuses = [];
    let stop = false;
    const loops = sessions.map(async (session) => {
      while (!stop) {
        statuses.push(await session.ping());
      }
    });
    try {
      // Three rotations mid-traffic (one every ~5 s), then tokens that live an hour again.
      await waitFor(async () => (await carolStats()).refreshes >= 3, { timeoutMs: 60_000, intervalMs: 250, what: '3 refreshes of carol' });
      await fake('/_fake/access-ttl', { seconds: 3600, answer_delay_ms: 0 });
      const rotations = (await carolStats()).refreshes;
      await waitFor(async () => (await carolStats()).refreshes > rotations, { timeoutMs: 30_000, intervalMs: 250, what: 'the last refresh' });
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    assert.ok(statuses.length > 0);
    assert.deepEqual(statuses.filter((s) => s !== 200), [], `no failed request among ${statuses.length}`);
    assert.equal((await fakeGet('/_fake/stats')).refresh_failures, failuresBefore, 'Forgejo refused no refresh (no token used twice)');

    // One refresh per rotation: refreshes of carol's grant are one token lifetime
    // minus the lead apart (~5 s), never two brokers' back to back.
    const refreshed = (await fakeGet('/_fake/tokens')).tokens.filter((t) => t.login === 'carol' && t.kind === 'access' && t.via === 'refresh_token');
    const times = refreshed.map((t) => Date.parse(t.issued_at)).sort((a, b) => a - b);
    assert.ok(times.length >= 4, `refreshes: ${times.length}`);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    assert.ok(gaps.every((gap) => gap >= 3000), `refresh gaps (ms): ${gaps.join(', ')}`);

    // Every child on both brokers now runs on the newest Forgejo token.
    const newest = refreshed.sort((a, b) => Date.parse(a.issued_at) - Date.parse(b.issued_at)).at(-1).fingerprint;
    await waitFor(
      async () => {
        const seen = await Promise.all(sessions.map((s) => s.env(['FORGEJO_ACCESS_TOKEN'])));
        return seen.every((env) => env.FORGEJO_ACCESS_TOKEN && fingerprint(env.FORGEJO_ACCESS_TOKEN) === newest);
      },
      { timeoutMs: 15_000, intervalMs: 250, what: `every child on token ${newest}` },
    );
    console.log(`cluster rotation: ${times.length} refreshes of one grant, gaps ${gaps.join('/')} ms, ${statuses.length} pings, all 200`);
  });
});

describe('two brokers on PostgreSQL behind HAProxy', { skip, timeout: 240_000 }, () => {
  const alice = new HeadlessOAuthProvider({ clientName: 'fmb-e2e-cluster-alice' });
  let sdk; // alice's SDK session through HAProxy
  let token; // her broker access token
  const clients = []; // RawSession through HAProxy

  before(async () => {
    await fake('/_fake/login', { login: 'alice' });
  });

  after(async () => {
    await closeClient(sdk);
    await Promise.all(clients.map((c) => c.close()));
  });

  test('the SDK client signs in once through HAProxy and works', async () => {
    sdk = await connectWithOAuth(`${CLUSTER}/mcp`, alice);
    assert.equal(alice.authorizations.length, 1, 'one sign-in');
    assert.ok(nodeOf(sdk.transport.sessionId), `a session of broker-a or broker-b: ${sdk.transport.sessionId}`);
    // The whole sign-in went through HAProxy (the brokers' public URL).
    for (const hop of alice.agent.hops.filter((h) => !h.url.startsWith(FORGEJO))) {
      assert.ok(hop.url.startsWith(`${CLUSTER}/`), `${hop.method} ${hop.url}`);
    }
    const text = `hello ${randomBytes(4).toString('hex')}`;
    const echoed = await sdk.client.callTool({ name: 'echo', arguments: { text } }, undefined, CALL);
    assert.equal(firstText(echoed), text);
    token = alice.tokens().access_token;
    assert.ok(token);
  });

  test('the tokens of that sign-in work at either broker directly', async () => {
    for (const [base, node] of [
      [BROKER_A, 'broker-a'],
      [BROKER_B, 'broker-b'],
    ]) {
      const direct = new RawSession(base, token);
      assert.equal(await direct.initialize(), node, `a session of ${node} at ${base}`);
      assert.equal(await direct.ping(), 200, `ping at ${node}`);
      await direct.close();
      const health = await (await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) })).json();
      assert.deepEqual(health, { status: 'ok', node });
    }
  });

  test(`${SESSIONS} session clients spread over both brokers`, async () => {
    for (let i = 0; i < SESSIONS; ++i) {
      clients.push(new RawSession(CLUSTER, token));
    }
    const nodes = await Promise.all(clients.map((c) => c.initialize()));
    const counts = { 'broker-a': 0, 'broker-b': 0 };
    for (const node of nodes) {
      counts[node] += 1;
    }
    assert.ok(counts['broker-a'] > 0 && counts['broker-b'] > 0, `both brokers got sessions: ${JSON.stringify(counts)}`);
    // HAProxy learned each id from its initialize answer: every later request lands on the same broker.
    const statuses = await Promise.all(clients.map((c) => c.ping()));
    assert.deepEqual(statuses, clients.map(() => 200));
  });

  test('brokerctl with both admin sockets lists the sessions of both with their node ids (issue 14)', async () => {
    const sockets = ['--admin-socket', ADMIN['broker-a'], '--admin-socket', ADMIN['broker-b']];
    const list = await brokerctl(...sockets, 'list', '--json');
    assert.equal(list.code, 0, list.stderr);
    const rows = JSON.parse(list.stdout);
    for (const client of clients) {
      const row = rows.find((r) => r.id === client.sessionId);
      assert.ok(row, `${client.sessionId} is listed`);
      assert.equal(row.broker, nodeOf(client.sessionId), `the broker of ${client.sessionId}`);
    }
    const table = await brokerctl(...sockets, 'list');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^BROKER +ID /);
    assert.match(table.stdout, /^broker-a /m);
    assert.match(table.stdout, /^broker-b /m);
    const brokers = await brokerctl(...sockets, 'brokers', '--json');
    assert.equal(brokers.code, 0, brokers.stderr);
    const known = JSON.parse(brokers.stdout);
    assert.deepEqual(known.map((b) => b.node_id), ['broker-a', 'broker-b']);
    assert.ok(known.every((b) => !b.stale && b.stopped === null), brokers.stdout);
  });

  test("kill -9 of broker A: its clients move to B without signing in, B's clients see no error", async () => {
    // A: the broker of the SDK client's session, so that its reconnect is tested too.
    const victim = nodeOf(sdk.transport.sessionId);
    const survivor = victim === 'broker-a' ? 'broker-b' : 'broker-a';
    const victimMarker = `${MARKER}-${victim.slice(-1)}`;
    const childrenOfA = markedPids(victimMarker);
    assert.ok(childrenOfA.length > 0, `${victim} has children before it is killed`);
    const records = clients.map((c) => ({ client: c, node: nodeOf(c.sessionId), before: [], after: [], moved: false }));
    let stop = false;
    let killed = false;
    const loop = async (record) => {
      while (!stop) {
        const status = await record.client.ping();
        if (status === 200) {
          (record.moved ? record.after : record.before).push(status);
          continue;
        }
        if (record.node === victim && killed && !record.moved) {
          record.before.push(status);
          if (status === 404) {
            // The spec's signal to start over: initialize again, same bearer token.
            record.client.sessionId = undefined;
            record.moved = (await record.client.initialize()) === survivor;
            assert.ok(record.moved, `initialized again on ${survivor}`);
          }
          continue;
        }
        (record.moved ? record.after : record.before).push(status);
      }
    };
    const loops = records.map((record) => loop(record));
    // Under load: every client has answers before the kill.
    await waitFor(() => records.every((r) => r.before.length >= 3), { timeoutMs: 20_000, intervalMs: 50, what: 'load before the kill' });
    killed = true;
    process.kill(PIDS[victim], 'SIGKILL');
    const movedAll = waitFor(() => records.every((r) => r.node !== victim || r.moved), {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: "broker A's clients initialize again on B",
    });
    try {
      await movedAll;
      // And they keep working there.
      await waitFor(() => records.every((r) => r.node !== victim || r.after.length >= 3), {
        timeoutMs: 20_000,
        intervalMs: 50,
        what: 'calls after the move',
      });
    } finally {
      stop = true;
      await Promise.all(loops);
    }

    for (const record of records) {
      const errors = [...record.before, ...record.after].filter((s) => s !== 200);
      if (record.node === survivor) {
        assert.deepEqual(errors, [], `a client of ${survivor} saw ${errors.join(', ')}`);
        continue;
      }
      assert.ok(record.moved, 'moved');
      assert.equal(record.before.at(-1), 404, `A's client got 404 before it moved (${record.before.filter((s) => s !== 200).join(', ')})`);
      // Besides the 404, only requests cut off by A's death failed: the one in
      // flight (HAProxy answers 502 or closes the client connection, which
      // undici reports as UND_ERR_SOCKET), rarely a second one sent on a
      // keep-alive connection HAProxy was closing at that moment (seen once in
      // CI: "0, 0"). Never an HTTP error from a broker, never a retry storm.
      const others = record.before.filter((s) => s !== 200 && s !== 404);
      assert.ok(others.length <= 2 && others.every((s) => [0, 502, 503].includes(s)), `A's client saw ${others.join(', ')} (${record.client.transportErrors ?? []})`);
      assert.deepEqual(record.after.filter((s) => s !== 200), [], 'no error after the move');
    }
    console.log(
      `cluster: killed ${victim}; ${records.filter((r) => r.node === victim).length} clients moved to ${survivor}, ` +
        `${records.filter((r) => r.node === survivor).length} stayed there; ` +
        `pings: ${records.reduce((n, r) => n + r.before.length + r.after.length, 0)}; ` +
        `A's clients saw before moving: ${JSON.stringify(
          records.flatMap((r) => r.before.filter((status) => status !== 200)).reduce((m, status) => ({ ...m, [status]: (m[status] ?? 0) + 1 }), {}),
        )}; transport errors: ${JSON.stringify(records.flatMap((r) => r.client.transportErrors ?? []))}`,
    );

    // The SDK client was on A: its session is gone (404); it connects again with the tokens it has.
    await assert.rejects(sdk.client.callTool({ name: 'echo', arguments: { text: 'x' } }, undefined, CALL));
    await closeClient(sdk);
    sdk = await connectWithOAuth(`${CLUSTER}/mcp`, alice);
    assert.equal(nodeOf(sdk.transport.sessionId), survivor);
    const echoed = await sdk.client.callTool({ name: 'echo', arguments: { text: 'still here' } }, undefined, CALL);
    assert.equal(firstText(echoed), 'still here');
    assert.equal(alice.authorizations.length, 1, 'nobody signed in again');

    // No child of the dead broker survives it (PR_SET_PDEATHSIG), and HAProxy took it out of the pool.
    await waitFor(() => markedPids(victimMarker).length === 0, {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: `no child of ${victim} left (had ${childrenOfA.join(' ')})`,
    });
    const health = await (await fetch(`${CLUSTER}/healthz`, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) })).json();
    assert.deepEqual(health, { status: 'ok', node: survivor });

    // Issue 14: the survivor lists the dead broker as stale once it missed
    // three heartbeats (5 s each); with both sockets the dead one is named unreachable.
    let victimRow;
    await waitFor(
      async () => {
        const brokers = await brokerctl('--admin-socket', ADMIN[survivor], 'brokers', '--json');
        victimRow = JSON.parse(brokers.stdout || '[]').find((b) => b.node_id === victim);
        return victimRow?.stale === true;
      },
      { timeoutMs: 40_000, intervalMs: 500, what: `${survivor} lists ${victim} as stale` },
    );
    assert.ok(victimRow.heartbeat_age_ms > victimRow.stale_after_ms, JSON.stringify(victimRow));
    const both = await brokerctl('--admin-socket', ADMIN['broker-a'], '--admin-socket', ADMIN['broker-b'], 'brokers');
    assert.equal(both.code, 3, 'a target that does not answer fails the run');
    assert.match(both.stdout, new RegExp(`^${victim} .* stale$`, 'm'));
    assert.match(both.stdout, /^unreachable: /m);
    assert.match(both.stdout, new RegExp(`^${survivor} .* up$`, 'm'));
  });
});

// PostgreSQL as cluster.sh started it; pg_ctl as the user that owns it.
function pgCtl(...args) {
  const pgCtlPath = `${env.FMB_E2E_CLUSTER_PG_BIN}/pg_ctl`;
  const argv = process.getuid() === 0 ? ['runuser', ['-u', 'nobody', '--', pgCtlPath, ...args]] : [pgCtlPath, args];
  const run = spawnSync(argv[0], argv[1], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, `pg_ctl ${args.join(' ')}: ${run.stdout}${run.stderr}`);
}

async function register(clientName) {
  return fetch(`${CLUSTER}/oauth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client_name: clientName, redirect_uris: [`http://127.0.0.1:9/${clientName}/callback`], token_endpoint_auth_method: 'none' }),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
}

// Issue 14: "The database goes away." Runs after the kill -9 above: one broker
// is left behind HAProxy. Erin's open sessions keep working on cached bearer
// checks while PostgreSQL is stopped; registrations and token requests get 503
// with Retry-After; everything works again once PostgreSQL is back, by itself.
describe('PostgreSQL stopped and restarted under load (issue 14)', { skip, timeout: 120_000 }, () => {
  const erin = new HeadlessOAuthProvider({ clientName: 'fmb-e2e-cluster-erin' });
  const dir = env.FMB_E2E_CLUSTER_PG_DIR;
  let sdk;
  const sessions = [];
  let pgStopped = false;

  after(async () => {
    if (pgStopped) {
      pgCtl('-D', `${dir}/data`, '-l', `${dir}/restart.log`, '-w', '-t', '30', '-o', `-k ${dir} -p 5432 -c listen_addresses= -c fsync=off`, 'start');
    }
    await closeClient(sdk);
    await Promise.all(sessions.map((s) => s.close()));
  });

  test('open sessions keep working; sign-ins get 503 + Retry-After meanwhile and work again after', async () => {
    await fake('/_fake/login', { login: 'erin', id: 9 });
    sdk = await connectWithOAuth(`${CLUSTER}/mcp`, erin);
    const token = erin.tokens().access_token;
    for (let i = 0; i < 4; ++i) {
      const session = new RawSession(CLUSTER, token);
      await session.initialize();
      sessions.push(session);
    }
    const statuses = [];
    let stop = false;
    const loops = sessions.map(async (session) => {
      while (!stop) {
        statuses.push(await session.ping());
      }
    });
    try {
      await waitFor(() => statuses.length >= 20, { timeoutMs: 20_000, intervalMs: 50, what: 'pings before the outage' });
      pgCtl('-D', `${dir}/data`, '-m', 'fast', '-w', '-t', '30', 'stop');
      pgStopped = true;
      const duringFrom = statuses.length;

      // New sign-ins cannot be served: 503 with Retry-After, not 500, not 401.
      const refused = await register('fmb-e2e-outage');
      assert.equal(refused.status, 503, await refused.text());
      assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
      const tokenAnswer = await fetch(`${CLUSTER}/oauth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: erin.tokens().refresh_token, client_id: erin.clientInformation().client_id }).toString(),
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      });
      assert.equal(tokenAnswer.status, 503, await tokenAnswer.text());
      assert.match(tokenAnswer.headers.get('retry-after') ?? '', /^\d+$/);
      // The open sessions go on, past the bearer cache's 5 s TTL.
      const echoed = await sdk.client.callTool({ name: 'echo', arguments: { text: 'no database' } }, undefined, CALL);
      assert.equal(firstText(echoed), 'no database');
      const until = Date.now() + 7_000;
      await waitFor(() => Date.now() > until, { timeoutMs: 10_000, intervalMs: 100, what: 'seven seconds of outage' });
      const during = statuses.slice(duringFrom);
      assert.ok(during.length > 20, `pings during the outage: ${during.length}`);
      assert.deepEqual(during.filter((s) => s !== 200), [], 'no open session failed during the outage');

      pgCtl('-D', `${dir}/data`, '-l', `${dir}/restart.log`, '-w', '-t', '30', '-o', `-k ${dir} -p 5432 -c listen_addresses= -c fsync=off`, 'start');
      pgStopped = false;
      // The broker reconnects by itself (backoff up to 30 s).
      await waitFor(async () => (await register('fmb-e2e-after-outage')).status === 201, {
        timeoutMs: 45_000,
        intervalMs: 500,
        what: 'registration works again',
      });
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    assert.deepEqual(statuses.filter((s) => s !== 200), [], `no failed ping among ${statuses.length}`);
    // A whole new sign-in works again, and so does erin's refresh token.
    const frank = new HeadlessOAuthProvider({ clientName: 'fmb-e2e-cluster-after-outage' });
    const again = await connectWithOAuth(`${CLUSTER}/mcp`, frank);
    const echoed = await again.client.callTool({ name: 'echo', arguments: { text: 'back' } }, undefined, CALL);
    assert.equal(firstText(echoed), 'back');
    await closeClient(again);
  });
});
