// A user's own publish marks the channel read up to it (docs/protocol.md "Read cursors and
// receipts"): the checks, run on RocksDB (own_reads.test.mjs) and PostgreSQL (own_reads_pg.test.mjs).
// Real hub and frontend; receipts counted on the wire (every {"op":"read"} frame a client receives).
import assert from 'node:assert/strict';

import { Client, sleep, until } from './harness.mjs';

function receiptsOf(client) {
  const seen = [];
  client.ws.on('message', (data) => {
    const obj = JSON.parse(data.toString());
    if (obj.op === 'read' && obj.id === undefined) seen.push(obj);
  });
  return seen;
}

// hubArgs: the store's flags. Starts one hub (receipts for team:) and one frontend on `cluster`.
export async function checkOwnReads(cluster, hubArgs) {
  await cluster.startHub([...hubArgs, '--receipt-namespaces', 'team']);
  const fe = await cluster.startFrontend();
  const connect = async (user, grants = []) => {
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token(user, grants));
    return c;
  };
  const ch = 'dm:alice:bob';
  const alice = await connect('alice', ['room:*', 'team:*', 'user:bob']);
  const phone = await connect('alice');  // alice's other device, on her inbox
  const bob = await connect('bob');
  const aliceSeen = receiptsOf(alice);
  const bobSeen = receiptsOf(bob);
  const phoneSeen = receiptsOf(phone);
  assert.equal((await alice.request('sub', { ch })).op, 'ok');
  assert.equal((await bob.request('sub', { ch })).op, 'ok');
  assert.equal((await phone.request('sub', { ch: 'user:alice' })).op, 'ok');
  const pub = async (c, cid, chan = ch) => {
    const r = await c.request('pub', { ch: chan, data: cid, cid });
    assert.equal(r.op, 'ok', JSON.stringify(r));
    return r.seq;
  };
  const unread = async (c, chs) => c.request('unread', { chs });

  // alice 3, bob 2: alice has bob's 2 unread, bob none.
  const mine = [await pub(alice, 'a1'), await pub(alice, 'a2'), await pub(alice, 'a3')];
  const his = [await pub(bob, 'b1'), await pub(bob, 'b2')];
  let a = await unread(alice, [ch]);
  assert.deepEqual([a.unread[ch], a.read[ch], a.peer_read[ch]], [2, mine[2], his[1]]);
  const b = await unread(bob, [ch]);
  assert.deepEqual([b.unread[ch], b.read[ch], b.peer_read[ch]], [0, his[1], mine[2]]);
  // Receipts: the peer sees "read up to my message", one per publish here (one batch each).
  await until(() => bobSeen.length >= 3 && aliceSeen.some((r) => r.user === 'bob' && r.seq === his[1]), 'receipts', 5000);
  await sleep(200);
  assert.deepEqual(bobSeen.filter((r) => r.user === 'alice'), mine.map((seq) => ({ op: 'read', ch, user: 'alice', seq })));
  assert.deepEqual(aliceSeen.filter((r) => r.user === 'bob'), his.map((seq) => ({ op: 'read', ch, user: 'bob', seq })));
  // Her other device learns it through her inbox.
  await until(() => phoneSeen.length >= 3, 'the inbox receipts', 5000);
  assert.deepEqual(phoneSeen.map((r) => [r.ch, r.user, r.seq]), mine.map((seq) => [ch, 'alice', seq]));

  // A retried publish (same cid: deduplicated) changes nothing and sends no receipt.
  const statsBefore = await cluster.hubStats();
  const seenBefore = bobSeen.length;
  assert.equal(await pub(alice, 'a1'), mine[0]);
  const statsAfter = await cluster.hubStats();
  assert.equal(statsAfter.cursors_written, statsBefore.cursors_written, 'no cursor record for a retry');
  assert.equal(statsAfter.receipts, statsBefore.receipts);
  await sleep(200);
  assert.equal(bobSeen.length, seenBefore);
  a = await unread(alice, [ch]);
  assert.deepEqual([a.unread[ch], a.read[ch]], [2, mine[2]]);

  // The app's publish with from=alice is not her reading: her cursor stays.
  const appPub = await cluster.appRequest({ op: 'pub', ch, from: 'alice', data: 'x' });
  assert.equal(appPub.ok, true, JSON.stringify(appPub));
  a = await unread(alice, [ch]);
  assert.deepEqual([a.unread[ch], a.read[ch]], [3, mine[2]]);

  // A room (no receipts there) and a team: room (receipts): read up to her message.
  for (const room of ['room:r', 'team:t']) {
    await cluster.appRequests(Array.from({ length: 4 }, (_, i) => ({ op: 'pub', ch: room, data: i })));
    const seq = await pub(alice, `${room}-1`, room);
    assert.equal(seq, 5);
    a = await unread(alice, [room]);
    assert.deepEqual([a.unread[room], a.read[room]], [0, 5], room);
  }
  // Into someone's inbox: not reading it.
  await pub(alice, 'inbox-1', 'user:bob');
  const inbox = await cluster.appRequest({ op: 'unread', user: 'alice', chs: ['user:bob'] });
  assert.deepEqual([inbox.ok, inbox.read['user:bob']], [true, 0], JSON.stringify(inbox));
  await sleep(200);
  assert.equal(bobSeen.filter((r) => r.ch === 'room:r').length, 0, 'no receipts in a room without them');
  for (const c of [alice, phone, bob]) await c.close();
}
