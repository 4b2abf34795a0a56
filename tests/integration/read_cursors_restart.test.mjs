// Read cursors survive a hub restart (kill -9 after the ok: the cursor was durable when answered),
// on RocksDB. The same on PostgreSQL: read_cursors_pg.test.mjs. And a read whose group commit
// fails is answered `unavailable`, sends no receipt, and its retry is stored.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { Client, Cluster, sleep, until } from './harness.mjs';
import { checkCursorsSurviveRestart } from './read_cursors_restart.mjs';

describe('read cursors across a hub restart (RocksDB)', () => {
  const cluster = new Cluster();
  after(() => cluster.stop());
  test('a cursor acked before kill -9 is there after the restart, and stays monotonic', async () => {
    await checkCursorsSurviveRestart(cluster, []);
  });
});

describe('a read whose commit fails', () => {
  const cluster = new Cluster();
  after(() => cluster.stop());
  test('is answered unavailable with no receipt; the retry is stored and sends one', async () => {
    await cluster.startHub();
    const fe = await cluster.startFrontend();
    await cluster.appRequests(Array.from({ length: 3 }, (_, i) => ({ op: 'pub', ch: 'dm:fa:fb', data: i })));
    await cluster.hub.stop('SIGTERM');
    await cluster.startHubWith('hub.commit=1');  // the next batch that writes fails
    const reader = await Client.connect(fe.url);
    await reader.auth(cluster.token('fa'));
    const peer = await Client.connect(fe.url);
    await peer.auth(cluster.token('fb'));
    const seen = [];
    peer.ws.on('message', (d) => { const o = JSON.parse(d.toString()); if (o.op === 'read') seen.push(o); });
    let sub;
    await until(async () => (sub = await peer.request('sub', { ch: 'dm:fa:fb' })).op === 'ok', 'the peer subscribed', 5000);
    const failed = await reader.request('read', { ch: 'dm:fa:fb', seq: 2 });
    assert.deepEqual([failed.op, failed.code], ['err', 'unavailable']);
    await sleep(300);
    assert.equal(seen.length, 0, 'no receipt for a read that was not stored');
    const u = await reader.request('unread', { chs: ['dm:fa:fb'] });
    assert.deepEqual(u.read, { 'dm:fa:fb': 0 });
    assert.equal((await reader.request('read', { ch: 'dm:fa:fb', seq: 2 })).seq, 2);
    await until(() => seen.length === 1, 'the receipt of the retry', 5000);
    assert.deepEqual(seen[0], { op: 'read', ch: 'dm:fa:fb', user: 'fa', seq: 2 });
    assert.equal(sub.read, 0);
    await reader.close();
    await peer.close();
  });
});
