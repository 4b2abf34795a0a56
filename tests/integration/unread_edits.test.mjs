// Unread counts and edit/delete entries (review of issue 15): an edit or a delete is a new entry of
// the channel's log, not a new message. A reader who has read everything must not see an unread
// message appear because the author corrected or removed one ("unread badges" of the
// conversation list). Found failing: unread = last seq - cursor counts the entries.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster } from './harness.mjs';

async function connect(fe, cluster, user, grants) {
  const c = await Client.connect(fe.url);
  await c.auth(cluster.token(user, grants));
  return c;
}

describe('unread counts with edit and delete entries', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe = await cluster.startFrontend();
  });

  after(() => cluster.stop());

  test('an edit or a delete of a message already read leaves nothing unread', async () => {
    const ch = 'dm:alice:bob';
    const alice = await connect(fe, cluster, 'alice', []);
    const bob = await connect(fe, cluster, 'bob', []);
    const pub = await alice.request('pub', { ch, data: { text: 'helo' }, cid: 'p1' });
    assert.equal(pub.op, 'ok', JSON.stringify(pub));
    const read = await bob.request('read', { ch, seq: pub.seq });
    assert.equal(read.seq, pub.seq);
    assert.equal((await bob.request('unread', { chs: [ch] })).unread[ch], 0);

    const edit = await alice.request('edit', { ch, seq: pub.seq, data: { text: 'hello' }, cid: 'e1' });
    assert.equal(edit.op, 'ok', JSON.stringify(edit));
    assert.equal((await bob.request('unread', { chs: [ch] })).unread[ch], 0, 'an edit is not an unread message');

    const del = await alice.request('delete', { ch, seq: pub.seq, cid: 'd1' });
    assert.equal(del.op, 'ok', JSON.stringify(del));
    assert.equal((await bob.request('unread', { chs: [ch] })).unread[ch], 0, 'a delete is not an unread message');
    await alice.close();
    await bob.close();
  });
});
