// /metrics of the broker under test (run.sh starts it with --metrics-listen): every series
// docs/metrics.md lists is there and nothing else, and the counters move with a real SDK
// client's session (initialize, tools/call, DELETE). brokerd only.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import { closeClient, connectClient, firstText, REQUEST_TIMEOUT_MS, TARGET } from '../lib/mcp.mjs';

const METRICS_URL = process.env.FMB_E2E_METRICS_URL;
const skip = TARGET !== 'brokerd' ? 'supergateway has no /metrics' : false;

// { families: Map(name -> type), samples: Map("name{labels}" -> number) }
function parseExposition(text) {
  const families = new Map();
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      families.set(type[1], type[2]);
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = /^(\S+?(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(sample, `a sample line: ${line}`);
    samples.set(sample[1], Number(sample[2]));
  }
  return { families, samples };
}

async function scrape() {
  const response = await fetch(METRICS_URL, { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await response.text());
}

// The series named in the first column of docs/metrics.md's table.
function documentedSeries() {
  const doc = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
  return new Set([...doc.matchAll(/^\| `([a-z_]+)` \| (?:gauge|counter|histogram) \|/gm)].map((m) => m[1]));
}

function value(samples, series) {
  assert.ok(samples.has(series), `${series} is on /metrics`);
  return samples.get(series);
}

describe('/metrics', { skip, timeout: 120_000 }, () => {
  test('every documented series is served, and nothing undocumented', async () => {
    assert.ok(METRICS_URL, 'run.sh exports FMB_E2E_METRICS_URL');
    const { families } = await scrape();
    const documented = documentedSeries();
    assert.ok(documented.size >= 15, `docs/metrics.md lists the series (found ${documented.size})`);
    assert.deepEqual([...families.keys()].sort(), [...documented].sort());
  });

  test('a session moves the counters', async () => {
    const before = (await scrape()).samples;
    const session = await connectClient({ name: 'fmb-e2e-metrics' });
    let during;
    try {
      const result = await session.client.callTool(
        { name: 'echo', arguments: { message: 'counted' } },
        undefined,
        { timeout: REQUEST_TIMEOUT_MS },
      );
      assert.equal(firstText(result), 'Echo: counted');
      during = (await scrape()).samples;
    } finally {
      await closeClient(session);
    }
    const delta = (samples, series) => value(samples, series) - value(before, series);
    const calls = 'forgejo_mcp_broker_operation_duration_seconds_count{mcp_method_name="tools/call"}';
    const initializes = 'forgejo_mcp_broker_operation_duration_seconds_count{mcp_method_name="initialize"}';
    assert.equal(delta(during, calls), 1, 'one tools/call observed');
    assert.equal(delta(during, initializes), 1, 'one initialize observed');
    assert.ok(value(during, 'forgejo_mcp_broker_operation_duration_seconds_sum{mcp_method_name="tools/call"}') > 0);
    assert.equal(delta(during, 'forgejo_mcp_broker_sessions_started_total'), 1);
    assert.ok(value(during, 'forgejo_mcp_broker_sessions_open') >= 1, 'the session is open while it is used');
    assert.ok(delta(during, 'forgejo_mcp_broker_children_spawned_total') >= 1);
    assert.ok(delta(during, 'forgejo_mcp_broker_http_responses_total{code="2xx"}') >= 3, 'initialize, initialized, call');
    assert.ok(delta(during, 'forgejo_mcp_broker_relayed_bytes_total{direction="to_child"}') > 0);
    assert.ok(delta(during, 'forgejo_mcp_broker_relayed_bytes_total{direction="from_child"}') > 0);

    // DELETE ended it; its child exits in the background: wait for the counter, not a time.
    const deadline = Date.now() + 15_000;
    let after;
    for (;;) {
      after = (await scrape()).samples;
      const exited = ['clean', 'error', 'signal'].reduce(
        (sum, reason) => sum + delta(after, `forgejo_mcp_broker_children_exited_total{reason="${reason}"}`),
        0,
      );
      if (exited >= 1 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(delta(after, 'forgejo_mcp_broker_sessions_ended_total{reason="client"}'), 1, 'ended by DELETE');
    assert.equal(delta(after, 'forgejo_mcp_broker_sessions_ended_total{reason="child_exit"}'), 0);
    assert.ok(
      ['clean', 'error', 'signal'].some((r) => delta(after, `forgejo_mcp_broker_children_exited_total{reason="${r}"}`) >= 1),
      'the child of the session exited',
    );
  });

  test('a method the client makes up is counted as "other", not as a new series', async () => {
    const before = await scrape();
    const session = await connectClient({ name: 'fmb-e2e-metrics-other' });
    try {
      await assert.rejects(
        session.client.request({ method: 'x/made-up-by-the-client', params: {} }, (await import('zod')).z.any(), {
          timeout: REQUEST_TIMEOUT_MS,
        }),
      );
    } finally {
      await closeClient(session);
    }
    const after = await scrape();
    const other = 'forgejo_mcp_broker_operation_duration_seconds_count{mcp_method_name="other"}';
    assert.equal(value(after.samples, other) - value(before.samples, other), 1);
    assert.equal(after.samples.size, before.samples.size, 'no series was added');
  });

  test('other paths and methods are refused', async () => {
    const base = new URL(METRICS_URL);
    assert.equal((await fetch(new URL('/mcp', base))).status, 404);
    const post = await fetch(METRICS_URL, { method: 'POST', body: '' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET');
  });
});
