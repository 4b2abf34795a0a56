// The private listener (admin_listen) stays usable when the public side is full: a frontend at
// max_connections still answers the scraper (/readyz, /metrics) and the app (/api), which are
// its operator and its pushes, not more browsers (issue 16 review).
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';

import { Cluster, apiPost, until } from './harness.mjs';

let cluster;
let fe;
const sockets = [];

before(async () => {
  cluster = new Cluster();
  await cluster.startHub();
  fe = await cluster.startFrontend(['--max-connections', '4']);
});

after(() => {
  for (const s of sockets) s.destroy();
  return cluster.stopCleanly();
});

test('a frontend at max_connections still serves /readyz, /metrics and /api on its private listener', async () => {
  await until(async () => (await fetch(`http://127.0.0.1:${fe.adminPort}/readyz`)).status === 200, 'ready');
  for (let i = 0; i < 4; i++) {
    const s = connect(fe.port, '127.0.0.1');
    s.on('error', () => {});
    await new Promise((resolve) => s.once('connect', resolve));
    sockets.push(s);
  }
  // The public side is full: one more browser is refused.
  await until(async () => (await fetch(`http://127.0.0.1:${fe.port}/healthz`)).status === 503, 'public full');
  const readyz = await fetch(`http://127.0.0.1:${fe.adminPort}/readyz`);
  assert.equal(readyz.status, 200, await readyz.text());
  const metrics = await fetch(`http://127.0.0.1:${fe.adminPort}/metrics`);
  const text = await metrics.text();
  assert.equal(metrics.status, 200, text);
  assert.match(text, /webim_connections_refused_total\{[^}]*\} [1-9]/);
  const stats = await apiPost(fe.port, 'stats', {}, cluster.apiKey);
  assert.equal(stats.status, 200, JSON.stringify(stats.body));
});
