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

  // Decided with the fix: a deleted message the reader never read is gone, not unread; an edit of
  // an unread message leaves it one unread message. The count is of messages in (cursor, last].
  test('a deleted message never read is not unread; an edited one counts once', async () => {
    const ch = 'dm:carol:dave';
    const carol = await connect(fe, cluster, 'carol', []);
    const dave = await connect(fe, cluster, 'dave', []);
    const seqs = [];
    for (const cid of ['a', 'b', 'c']) {
      const pub = await carol.request('pub', { ch, data: { text: cid }, cid });
      assert.equal(pub.op, 'ok', JSON.stringify(pub));
      seqs.push(pub.seq);
    }
    const unread = async () => (await dave.request('unread', { chs: [ch] })).unread[ch];
    assert.equal(await unread(), 3);
    assert.equal((await carol.request('edit', { ch, seq: seqs[1], data: { text: 'B' }, cid: 'e' })).op, 'ok');
    assert.equal(await unread(), 3, 'an edited unread message is one unread message');
    assert.equal((await carol.request('delete', { ch, seq: seqs[1], cid: 'd' })).op, 'ok');
    assert.equal(await unread(), 2, 'the deleted message and its edit count for nothing');
    assert.equal((await dave.request('read', { ch, seq: seqs[0] })).seq, seqs[0]);
    assert.equal(await unread(), 1);
    const late = await carol.request('pub', { ch, data: { text: 'd' }, cid: 'd2' });
    assert.equal(await unread(), 2);
    assert.equal((await dave.request('read', { ch, seq: late.seq })).seq, late.seq);
    assert.equal(await unread(), 0);
    await carol.close();
    await dave.close();
  });
});
