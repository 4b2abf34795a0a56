// A user's own publish marks the channel read (docs/architecture.md "Read cursors"), when a dm
// publish is in the same batch. Hub::stageOwnReads (broadcast/hub_own_reads.cpp) pairs the batch's
// Sequenced requests with sequencer_.pending().messages one to one, but a dm publish also stages a
// dm notice message per local inbox (Hub::stageDmNotices, hub_conversations.cpp): every later
// publish of the batch is paired with the wrong message and its own read is lost (or misattributed).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { Client, Cluster } from './harness.mjs';

describe('own reads in a batch with a dm publish', () => {
  const cluster = new Cluster();
  after(() => cluster.stop());

  test('a room publish after a dm publish in one batch marks the room read', async () => {
    // Every sync takes 300 ms more: requests sent meanwhile form one batch.
    await cluster.startHubWith('hub.slow_sync');
    const fe = await cluster.startFrontend();
    const alice = await Client.connect(fe.url);
    await alice.auth(cluster.token('alice', ['room:*']));
    assert.equal((await alice.request('pub', { ch: 'room:warm', data: 0, cid: 'w' })).op, 'ok');
    const warm = alice.request('pub', { ch: 'room:warm', data: 1, cid: 'w2' });  // holds the loop in its sync
    await new Promise((r) => setTimeout(r, 50));
    const [dm, r1, r2] = await Promise.all([
      alice.request('pub', { ch: 'dm:alice:bob', data: 1, cid: 'd1' }),
      alice.request('pub', { ch: 'room:q1', data: 1, cid: 'q1' }),
      alice.request('pub', { ch: 'room:q2', data: 1, cid: 'q2' }),
    ]);
    assert.equal((await warm).op, 'ok');
    for (const r of [dm, r1, r2]) assert.equal(r.op, 'ok', JSON.stringify(r));
    const u = await alice.request('unread', { chs: ['dm:alice:bob', 'room:q1', 'room:q2'] });
    assert.equal(u.op, 'ok', JSON.stringify(u));
    assert.deepEqual(
      [u.read['dm:alice:bob'], u.read['room:q1'], u.read['room:q2'], u.unread['room:q1'], u.unread['room:q2']],
      [1, 1, 1, 0, 0], JSON.stringify(u));
    await alice.close();
  });
});
