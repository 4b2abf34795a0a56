// Conversations (docs/protocol.md "Conversations"): a message in dm:a:b leaves a notice in both
// participants' inboxes (no user:* grant), durable and resumable; `conversations` lists a user's
// channels by last activity with unread counts. One hub (every inbox on the dm's shard), two
// frontends; counted on the wire: every frame a client receives is recorded.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, until } from './harness.mjs';

// Every {"op":"msg"} frame on `client`'s inbox carrying a notice, as received.
function noticesOf(client) {
  const seen = [];
  client.ws.on('message', (data) => {
    const obj = JSON.parse(data.toString());
    if (obj.op === 'msg' && obj.notice !== undefined) seen.push(obj);
  });
  return seen;
}

async function connect(fe, cluster, user, grants = []) {
  const c = await Client.connect(fe.url);
  await c.auth(cluster.token(user, grants));
  return c;
}

async function inbox(fe, cluster, user, grants = [], since = undefined) {
  const c = await connect(fe, cluster, user, grants);
  const notices = noticesOf(c);
  const sub = await c.request('sub', { ch: `user:${user}`, ...(since ? { since } : {}) });
  assert.equal(sub.op, 'ok', JSON.stringify(sub));
  return { c, notices, sub };
}

describe('conversations (one shard, two frontends)', () => {
  let cluster;
  let fe1;
  let fe2;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe1 = await cluster.startFrontend();
    fe2 = await cluster.startFrontend();
  });

  after(() => cluster.stop());

  test('a dm message notifies both inboxes once on every device, without a user:* grant', async () => {
    const bobPhone = await inbox(fe1, cluster, 'bob');
    const bobLaptop = await inbox(fe2, cluster, 'bob');
    const alice = await inbox(fe1, cluster, 'alice');
    for (let i = 1; i <= 3; i++) {
      const r = await alice.c.request('pub', { ch: 'dm:alice:bob', data: { text: `hi ${i}` }, cid: `a${i}` });
      assert.equal(r.op, 'ok', JSON.stringify(r));
      assert.equal(r.seq, i);
    }
    // A retry (same cid) and an edit are no new messages: no notice.
    assert.equal((await alice.c.request('pub', { ch: 'dm:alice:bob', data: { text: 'hi 3' }, cid: 'a3' })).seq, 3);
    assert.equal((await alice.c.request('edit', { ch: 'dm:alice:bob', seq: 1, data: 'x', cid: 'e1' })).op, 'ok');
    for (const who of [bobPhone, bobLaptop, alice]) await until(() => who.notices.length >= 3, 'three notices');
    await new Promise((r) => setTimeout(r, 300));  // anything more would arrive by now
    for (const [who, user] of [[bobPhone, 'bob'], [bobLaptop, 'bob'], [alice, 'alice']]) {
      assert.equal(who.notices.length, 3, `${user}: ${JSON.stringify(who.notices)}`);
      who.notices.forEach((n, i) => {
        assert.equal(n.ch, `user:${user}`);
        assert.equal(n.seq, i + 1);
        assert.equal(n.from, 'alice');
        assert.deepEqual(n.notice, { ch: 'dm:alice:bob', seq: i + 1 });
        assert.equal(n.data, undefined);
        assert.equal(typeof n.ts, 'number');
      });
    }
    // hist shows the same JSON.
    const hist = await bobPhone.c.request('hist', { ch: 'user:bob' });
    assert.deepEqual(hist.msgs, bobPhone.notices);
    const stats = await cluster.hubStats();
    assert.equal(stats.dm_notices, 6);
    for (const who of [bobPhone, bobLaptop, alice]) await who.c.close();
  });

  test('a notice survives the inbox being offline (resumed)', async () => {
    const bob = await inbox(fe1, cluster, 'bob');
    const since = { epoch: bob.sub.epoch, seq: bob.sub.seq };
    await bob.c.close();
    const alice = await connect(fe2, cluster, 'alice');
    for (let i = 4; i <= 5; i++) {
      assert.equal((await alice.request('pub', { ch: 'dm:alice:bob', data: i, cid: `a${i}` })).op, 'ok');
    }
    const back = await inbox(fe2, cluster, 'bob', [], since);
    await until(() => back.notices.length >= 2, 'the missed notices');
    // dm seq 4 is the edit entry of the first test.
    assert.deepEqual(back.notices.map((n) => n.notice), [
      { ch: 'dm:alice:bob', seq: 5 }, { ch: 'dm:alice:bob', seq: 6 }]);
    await alice.close();
    await back.c.close();
  });

  test('conversations: order, paging, unread counts, rooms after pub and read, forbidden rooms left out', async () => {
    const carol = await connect(fe1, cluster, 'carol', ['room:c1', 'room:c2', 'room:gone']);
    const dave = await connect(fe2, cluster, 'dave');
    assert.equal((await dave.request('pub', { ch: 'dm:carol:dave', data: 1, cid: 'd1' })).op, 'ok');
    assert.equal((await dave.request('pub', { ch: 'dm:carol:dave', data: 2, cid: 'd2' })).op, 'ok');
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await carol.request('pub', { ch: 'room:gone', data: 1, cid: 'g1' })).op, 'ok');
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await carol.request('pub', { ch: 'room:c1', data: 1, cid: 'c1' })).op, 'ok');
    await new Promise((r) => setTimeout(r, 5));
    assert.equal((await carol.request('read', { ch: 'room:c2', seq: 0 })).op, 'ok');
    const list = async (c, fields = {}) => c.request('conversations', fields);
    await until(async () => (await list(carol)).items.length === 4, 'four conversations');
    const all = await list(carol);
    assert.equal(all.op, 'ok');
    assert.deepEqual(all.items.map((i) => i.ch), ['room:c2', 'room:c1', 'room:gone', 'dm:carol:dave']);
    assert.equal(all.more, false);
    const dm = all.items[3];
    assert.deepEqual({ seq: dm.seq, unread: dm.unread, read: dm.read, peer_read: dm.peer_read },
      { seq: 2, unread: 2, read: 0, peer_read: 0 });
    assert.equal(all.items[1].seq, 1);
    assert.equal(all.items[1].peer_read, undefined);
    for (let i = 1; i < all.items.length; i++) assert.ok(all.items[i - 1].ts >= all.items[i].ts);
    // Reading the dm: its unread count drops; the read moves nothing in the dm's place.
    assert.equal((await carol.request('read', { ch: 'dm:carol:dave', seq: 1 })).seq, 1);
    const afterRead = await list(carol);
    assert.deepEqual(afterRead.items.find((i) => i.ch === 'dm:carol:dave'),
      { ch: 'dm:carol:dave', ts: dm.ts, seq: 2, unread: 1, read: 1, peer_read: 0 });
    // Paging: limit 1, then before the last item.
    const seen = [];
    let page = await list(carol, { limit: 1 });
    for (;;) {
      assert.ok(page.items.length <= 1);
      seen.push(...page.items.map((i) => i.ch));
      if (!page.more) break;
      const last = page.items[page.items.length - 1];
      page = await list(carol, { limit: 1, before: { ts: last.ts, ch: last.ch } });
    }
    assert.deepEqual(seen, ['room:c2', 'room:c1', 'room:gone', 'dm:carol:dave']);
    // A token without the grant: the room is left out.
    const carol2 = await connect(fe2, cluster, 'carol', ['room:c1', 'room:c2']);
    assert.deepEqual((await list(carol2)).items.map((i) => i.ch), ['room:c2', 'room:c1', 'dm:carol:dave']);
    // dave: the dm only (his own messages count as unread: unread is last seq - his cursor).
    assert.deepEqual((await list(dave)).items.map((i) => [i.ch, i.unread, i.peer_read]), [['dm:carol:dave', 2, 1]]);
    for (const c of [carol, carol2, dave]) await c.close();
  });

  test('POST /cmd takes conversations', async () => {
    const token = cluster.token('frank');
    const session = await fetch(`http://127.0.0.1:${fe1.port}/session`, { method: 'POST', body: JSON.stringify({ token }) });
    const { sid } = await session.json();
    const gina = await connect(fe1, cluster, 'gina');
    assert.equal((await gina.request('pub', { ch: 'dm:frank:gina', data: 1, cid: 'f1' })).op, 'ok');
    const post = async (body) => (await fetch(`http://127.0.0.1:${fe2.port}/cmd?sid=${sid}`, { method: 'POST', body: JSON.stringify(body) })).json();
    const page = await post({ op: 'conversations', id: 1 });
    assert.equal(page.op, 'ok');
    assert.deepEqual(page.items.map((i) => [i.ch, i.seq, i.unread, i.read, i.peer_read]), [['dm:frank:gina', 1, 1, 0, 0]]);
    assert.equal((await post({ op: 'conversations', id: 2, limit: 101 })).code, 'bad_request');
    await gina.close();
  });

  test('bad input: bad_request', async () => {
    const c = await connect(fe1, cluster, 'erin');
    for (const fields of [{ limit: 0 }, { limit: 101 }, { limit: 'x' }, { before: 5 }, { before: { ts: 1 } },
      { before: { ch: 'room:a' } }, { before: { ts: 1, ch: 'bad name' } }, { before: { ts: 'x', ch: 'room:a' } }]) {
      const r = await c.request('conversations', fields);
      assert.deepEqual([r.op, r.code], ['err', 'bad_request'], JSON.stringify(fields));
    }
    const empty = await c.request('conversations', {});
    assert.deepEqual(empty, { op: 'ok', id: empty.id, items: [], more: false });
    await c.close();
  });
});
