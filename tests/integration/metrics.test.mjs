// Operations (issue 16): every process serves its own metrics on its own address, every metric the
// docs list is served, counters move with traffic, the Grafana dashboard names only served
// metrics; /metrics and /api are off the public port; /readyz fails within 1 s of the hub dying
// (with the reason) and recovers; ids default to <host name>-<instance>.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, FRONTEND, Process, apiPost, until } from './harness.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// Every request fails within 5 s with a message rather than hanging until the CTest timeout.
async function get(port, path, headers = {}) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers, signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text() };
  } catch (e) {
    throw new Error(`GET ${path} on port ${port}: no answer (${e.message}${e.cause ? `: ${e.cause.message}` : ''})`);
  }
}

async function scrape(port) {
  const res = await get(port, '/metrics');
  assert.equal(res.status, 200, res.body);
  return res.body;
}

// The value of the first sample of `name` whose labels contain `labels` (NaN when absent).
function sample(text, name, labels = '') {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels && !line.includes(labels)) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return NaN;
}

// The metric names declared (# TYPE) in a scrape: histograms also as their _bucket/_sum/_count.
function served(text) {
  const names = new Set();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m[1] + s);
  }
  return names;
}

// The metrics table of docs/deploy.md ("Metrics and health"): [name, process].
function documented() {
  const doc = readFileSync(join(REPO, 'docs/deploy.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Metrics and health'));
  const body = section.slice(0, section.indexOf('\n## ', 5));
  return [...body.matchAll(/^\| `(webim_[a-z0-9_]+)` \| (frontend|hub) \|/gm)].map((m) => [m[1], m[2]]);
}

describe('metrics per process, health, identity', () => {
  let cluster;
  let fe1;
  let fe2;
  const scrapes = {};

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    // A hello every 100 ms, a link silent for 500 ms is down: /readyz can fail within 1 s.
    const fast = ['--heartbeat-ms', '100', '--hub-timeout-ms', '500'];
    fe1 = await cluster.startFrontend(fast);
    fe2 = await cluster.startFrontend(fast);
  });

  after(() => cluster.stopCleanly());

  test('each process serves its own metrics; /metrics and /api are off the public port', async () => {
    assert.ok(cluster.hub.metricsPort > 0, 'the hub logs its metrics address');
    for (const fe of [fe1, fe2]) {
      assert.notEqual(fe.adminPort, fe.port);
      assert.match(await scrape(fe.adminPort), new RegExp(`webim_connections\\{frontend="${fe.name}"\\}`));
      assert.deepEqual(await get(fe.port, '/metrics'), { status: 404, body: 'not found\n' });
      const api = await fetch(`http://127.0.0.1:${fe.port}/api/stats`, { method: 'POST', body: '{}' });
      assert.equal(api.status, 404, 'no HTTP API on the public port');
      await api.text();
      // Ready once every hub answered (its kick revocations known): "starting" until then.
      await until(async () => (await get(fe.adminPort, '/readyz')).status === 200, `${fe.name} to be ready`);
      assert.deepEqual(await get(fe.port, '/healthz'), { status: 200, body: 'ok\n' });
      assert.deepEqual(await get(fe.port, '/readyz'), { status: 200, body: 'ready\n' });
      assert.deepEqual(await get(fe.adminPort, '/readyz'), { status: 200, body: 'ready\n' });
      assert.equal((await get(fe.adminPort, '/')).status, 404, 'the private listener serves nothing else');
    }
    const stats = await apiPost(fe1.port, 'stats', {}, cluster.apiKey);  // on the private listener
    assert.equal(stats.status, 200, JSON.stringify(stats.body));
    assert.match(await scrape(cluster.hub.metricsPort), /webim_hub_uptime_seconds\{shard="all"\}/);
    assert.deepEqual(await get(cluster.hub.metricsPort, '/healthz'), { status: 200, body: 'ok\n' });
  });

  test('counters move with traffic, and every documented metric is served', async () => {
    const before1 = await scrape(fe1.adminPort);
    const beforeHub = await scrape(cluster.hub.metricsPort);
    const a = await Client.connect(fe1.url);
    const b = await Client.connect(fe2.url);
    await a.auth(cluster.token('ana', ['room:*']));
    await b.auth(cluster.token('ben', ['room:*']));
    assert.equal((await b.request('sub', { ch: 'room:m' })).op, 'ok');
    for (let i = 0; i < 5; i++) {
      assert.equal((await a.request('pub', { ch: 'room:m', data: { i }, cid: `c${i}` })).op, 'ok');
    }
    await b.waitForMsgs(5);
    // An SSE stream and a long-poll on fe2 (the transport gauges).
    const session = await fetch(`http://127.0.0.1:${fe2.port}/session`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: cluster.token('cy', ['room:*']) }),
    });
    const { sid } = await session.json();
    const sse = new AbortController();
    const poll = new AbortController();
    const sseRes = await fetch(`http://127.0.0.1:${fe2.port}/events?sid=${sid}&ch=room:m`, {
      headers: { accept: 'text/event-stream' }, signal: sse.signal,
    });
    assert.equal(sseRes.status, 200);
    const pollDone = fetch(`http://127.0.0.1:${fe2.port}/events?sid=${sid}&ch=room:x`, { signal: poll.signal }).catch(() => {});
    const during2 = await until(async () => {
      const text = await scrape(fe2.adminPort);
      return sample(text, 'webim_event_streams') === 1 && sample(text, 'webim_long_polls') === 1 ? text : null;
    }, 'fe2 to count one SSE stream and one long-poll');
    assert.equal(sample(during2, 'webim_websockets'), 1);
    sse.abort();
    poll.abort();
    await pollDone;
    await a.close();
    await b.close();
    await until(async () => sample(await scrape(fe2.adminPort), 'webim_long_polls') === 0, 'the long-poll to be uncounted');
    // A flood over rate_limit (20/s, burst 40): closed 4008 and counted.
    const flood = await Client.connect(fe1.url);
    await flood.auth(cluster.token('fay', []));
    for (let i = 0; i < 100; i++) flood.ws.send(JSON.stringify({ op: 'nop', id: 1000 + i }));
    assert.equal((await flood.closed).code, 4008);

    scrapes.fe1 = await until(async () => {
      const text = await scrape(fe1.adminPort);
      return sample(text, 'webim_closes_total', 'code="4008"') >= 1 ? text : null;
    }, 'fe1 to count the 4008 close');
    scrapes.fe2 = await until(async () => {
      const text = await scrape(fe2.adminPort);
      return sample(text, 'webim_event_streams') === 0 && sample(text, 'webim_websockets') === 0 ? text : null;
    }, 'fe2 to count its closes');
    scrapes.hub = await scrape(cluster.hub.metricsPort);
    const moved = (text, old, name, labels) => sample(text, name, labels) - (sample(old, name, labels) || 0);
    assert.ok(moved(scrapes.fe1, before1, 'webim_publishes_total') >= 5);
    assert.ok(moved(scrapes.fe1, before1, 'webim_publish_ack_seconds_count') >= 5);
    assert.ok(sample(scrapes.fe1, 'webim_publish_ack_seconds_bucket', 'le="+Inf"') >= 5);
    assert.ok(sample(scrapes.fe2, 'webim_deliveries_total') >= 5);
    assert.ok(sample(scrapes.fe2, 'webim_delivery_flush_seconds_count') >= 1);
    assert.ok(sample(scrapes.fe2, 'webim_closes_total', 'code="1000"') >= 1);
    assert.ok(moved(scrapes.fe1, before1, 'webim_rate_limited_total') >= 1);
    assert.ok(sample(scrapes.fe1, 'webim_closes_total', 'code="4008"') >= 1);
    assert.ok(moved(scrapes.hub, beforeHub, 'webim_hub_messages_total') >= 5);
    assert.ok(moved(scrapes.hub, beforeHub, 'webim_hub_batches_total') >= 1);
    assert.ok(moved(scrapes.hub, beforeHub, 'webim_hub_commit_seconds_count') >= 1);
    assert.ok(sample(scrapes.hub, 'webim_hub_fsync_seconds_count') >= 1);
    assert.ok(sample(scrapes.hub, 'webim_hub_namespace_messages_total', 'namespace="room"') >= 5);
    assert.ok(sample(scrapes.hub, 'webim_hub_namespace_bytes_total', 'namespace="room"') >= 5);
    assert.equal(sample(scrapes.hub, 'webim_hub_frontends'), 2);

    const rows = documented();
    assert.ok(rows.length >= 60, `docs/deploy.md lists ${rows.length} metrics`);
    const have = { frontend: served(scrapes.fe1 + scrapes.fe2), hub: served(scrapes.hub) };
    const missing = rows.filter(([name, where]) => !have[where].has(name));
    assert.deepEqual(missing, [], 'documented but not served');
    const listed = new Set(rows.map(([name]) => name));
    const undocumented = [...have.frontend, ...have.hub].filter((n) => !listed.has(n.replace(/_(bucket|sum|count)$/, '')) && !listed.has(n));
    assert.deepEqual(undocumented, [], 'served but not documented');
  });

  test('the Grafana dashboard parses and its queries name only served metrics', () => {
    assert.ok(scrapes.hub, 'runs after the traffic test');
    const dashboard = JSON.parse(readFileSync(join(REPO, 'deploy/grafana-webim.json'), 'utf8'));
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    assert.ok(exprs.length >= 10);
    const names = new Set(exprs.flatMap((e) => [...e.matchAll(/\bwebim_[a-z0-9_]+/g)].map((m) => m[0])));
    const all = served(scrapes.fe1 + scrapes.fe2 + scrapes.hub);
    assert.deepEqual([...names].filter((n) => !all.has(n)), [], 'dashboard metrics not served');
    for (const wanted of ['webim_publish_ack_seconds_bucket', 'webim_hub_commit_seconds_bucket', 'webim_hub_fsync_seconds_bucket',
      'webim_websockets', 'webim_closes_total', 'webim_backlog_bytes', 'webim_hub_messages_total']) {
      assert.ok(names.has(wanted), `the dashboard shows ${wanted}`);
    }
  });

  test('a second running frontend with an existing id is counted by the hub', async () => {
    const twin = await cluster.startFrontend(['--id', 'fe1', '--hub-timeout-ms', '1500']);
    await until(async () => sample(await scrape(cluster.hub.metricsPort), 'webim_hub_frontend_id_conflicts_total') >= 1,
      'the hub to count the conflict');
    await twin.stop();
    cluster.frontends.splice(cluster.frontends.indexOf(twin), 1);
  });

  test('/readyz fails within 1 s of the hub dying, with the reason, and recovers when it is back', async (t) => {
    // With the default timings too (hub_timeout_ms 5000): a dropped connection counts at once.
    const plain = await cluster.startFrontend();
    await until(async () => (await get(plain.port, '/readyz')).status === 200, 'the default frontend to be ready');
    const killedAt = Date.now();
    cluster.hub.child.kill('SIGKILL');
    await cluster.hub.exited;
    const failed = await Promise.all([fe1, fe2, plain].map((fe) => until(async () => {
      const r = await get(fe.port, '/readyz');
      return r.status === 503 ? { ...r, ms: Date.now() - killedAt } : null;
    }, `${fe.name} to be unready`, 3000, 10)));
    for (const r of failed) {
      t.diagnostic(`unready ${r.ms} ms after the hub was killed: ${r.body.trim()}`);
      assert.ok(r.ms < 1000, `unready after ${r.ms} ms`);
      assert.match(r.body, /^hub .*: (connection lost \d+ ms ago|no answer for \d+ ms \(hub_timeout_ms 500\))\n$/);
    }
    assert.match(failed[2].body, /connection lost/);
    assert.equal((await get(fe1.port, '/healthz')).status, 200, 'still alive');
    await cluster.startHub(cluster.hubArgs);
    for (const fe of [fe1, fe2, plain]) {
      await until(async () => (await get(fe.port, '/readyz')).status === 200, `${fe.name} to be ready again`, 10000);
    }
    await plain.stop();
    cluster.frontends.splice(cluster.frontends.indexOf(plain), 1);
  });

  test('public_admin serves /metrics and /api on the public port too', async () => {
    const open = await cluster.startFrontend(['--public-admin']);
    try {
      assert.match((await get(open.port, '/metrics')).body, /webim_connections\{frontend="fe\d+"\}/);
      const api = await fetch(`http://127.0.0.1:${open.port}/api/stats`, {
        method: 'POST', headers: { authorization: `Bearer ${cluster.apiKey}` }, body: '{}',
      });
      assert.equal(api.status, 200, await api.text());
    } finally {
      await open.stop();
      cluster.frontends.splice(cluster.frontends.indexOf(open), 1);
    }
  });

  test('ids default to <host name>-<instance>', async () => {
    const fe = new Process('numbered', FRONTEND, [
      '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--instance', '7', '--hub-ingress', cluster.endpoints.ingress,
      '--hub-pub', cluster.endpoints.pub, '--secret-file', cluster.secretFile,
    ]);
    try {
      await until(() => /webim-frontend ready/.test(fe.log), 'the numbered frontend to start');
      assert.match(fe.log, new RegExp(`ready: id ${hostname().replace(/[.]/g, '\\.')}-7 `));
    } finally {
      assert.equal((await fe.stop()).code, 0);
    }
    const help = await new Promise((resolve) => {
      const p = new Process('help', FRONTEND, ['--help']);
      p.exited.then(() => resolve(p.log));
    });
    assert.match(help, /--admin-listen/);
    assert.match(help, /--instance/);
  });
});
