// A user's own publish moves their read cursor in the message's commit (broadcast/own_reads.h: "it
// becomes durable in the same commit as the cursor record"). When that commit's sync fails, the
// RocksDB store undoes the batch (rememberUndo: messages, dedups, outbox, metas) but not its cursor
// records, and the seq is given again to the next message: the author's cursor then stands on
// someone else's message, which is never unread for them.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { Client, Cluster, sleep } from './harness.mjs';

describe('own reads and a failed sync', () => {
  const cluster = new Cluster();
  after(() => cluster.stop());

  test('the cursor of a publish whose sync failed does not mark the next message read', async () => {
    await cluster.startHubWith('hub.sync_fails=1');
    const fe = await cluster.startFrontend();
    const alice = await Client.connect(fe.url);
    await alice.auth(cluster.token('alice', ['room:*']));
    const bob = await Client.connect(fe.url);
    await bob.auth(cluster.token('bob', ['room:*']));
    const ch = 'room:z';
    const failed = await alice.request('pub', { ch, data: 'lost', cid: 'a1' });
    assert.deepEqual([failed.op, failed.code], ['err', 'unavailable'], JSON.stringify(failed));
    let next;
    for (let i = 0; i < 100; i++) {  // the store is recovering meanwhile
      next = await bob.request('pub', { ch, data: 'from bob', cid: `b${i}` });
      if (next.op === 'ok') break;
      await sleep(20);
    }
    assert.deepEqual([next.op, next.seq], ['ok', 1], JSON.stringify(next));  // seq 1 again: the lost one was undone
    const u = await alice.request('unread', { chs: [ch] });
    assert.equal(u.op, 'ok', JSON.stringify(u));
    assert.deepEqual([u.unread[ch], u.read[ch]], [1, 0], `bob's message is unread for alice: ${JSON.stringify(u)}`);
    await alice.close();
    await bob.close();
  });
});
