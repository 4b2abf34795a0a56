// Read cursors and receipts (docs/protocol.md "Read cursors and receipts"): `read` is monotonic,
// clamped to the last seq, stored by the channel's hub and answered once durable; receipts reach
// the dm peer (and opted-in rooms), the reader's other devices learn it through their inbox (on
// another shard here); `unread` merges one answer per shard. Two shards and two frontends; counted
// on the wire: every frame a client receives is recorded.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';

import { Client, Cluster, WebSocket, sleep, until } from './harness.mjs';
import { WebimClient } from '../../clients/js/webim.js';

const slot = (name) => crc32(name) % 1024;
const shardOf = (name) => (slot(name) < 512 ? 0 : 1);

// Every {"op":"read"} frame `client` receives, as received.
function receiptsOf(client) {
  const seen = [];
  client.ws.on('message', (data) => {
    const obj = JSON.parse(data.toString());
    if (obj.op === 'read' && obj.id === undefined) seen.push(obj);
  });
  return seen;
}

async function connect(fe, cluster, user, grants = [], extra = {}) {
  const c = await Client.connect(fe.url);
  await c.auth(cluster.token(user, grants, extra));
  return c;
}

// n messages from the app, on the channel's shard (a client would hit its rate limit).
async function publish(cluster, shards, ch, n) {
  const replies = await cluster.appRequests(Array.from({ length: n }, (_, i) => ({ op: 'pub', ch, data: i })), 5000,
    shards[shardOf(ch)].app_ingress);
  const last = replies[replies.length - 1];
  assert.equal(last.ok, true, JSON.stringify(last));
  return last.seq;
}

// A name of `prefix`+N owned by shard `want`.
function nameOn(want, prefix) {
  for (let i = 0; ; i++) if (shardOf(`${prefix}${i}`) === want) return `${prefix}${i}`;
}

describe('read cursors (two shards, two frontends)', () => {
  let cluster;
  let fe1;
  let fe2;
  let shards;
  const app = (i) => shards[i].app_ingress;

  before(async () => {
    cluster = new Cluster();
    shards = await cluster.startShards(['0-511', '512-1023'], ['--receipt-namespaces', 'team']);
    fe1 = await cluster.startFrontend();
    fe2 = await cluster.startFrontend(['--rate-limit', '5', '--rate-burst', '5']);
  });

  after(() => cluster.stop());

  test('read is monotonic, clamped to the last seq, and answered with the cursor', async () => {
    const c = await connect(fe1, cluster, 'mono', ['room:m', 'room:m-empty']);
    const last = await publish(cluster, shards, 'room:m', 5);
    assert.equal(last, 5);
    const first = await c.request('read', { ch: 'room:m', seq: 3 });
    assert.deepEqual(first, { op: 'ok', id: first.id, seq: 3 });
    assert.equal((await c.request('read', { ch: 'room:m', seq: 2 })).seq, 3, 'lower: unchanged');
    assert.equal((await c.request('read', { ch: 'room:m', seq: 99 })).seq, 5, 'clamped to the last seq');
    assert.equal((await c.request('read', { ch: 'room:m', seq: 4 })).seq, 5);
    // A channel never written: clamped to 0.
    assert.equal((await c.request('read', { ch: 'room:m-empty', seq: 10 })).seq, 0);
    await c.close();
  });

  test('bad input: forbidden (revealing nothing), bad_request, too_large', async () => {
    const c = await connect(fe1, cluster, 'eve', ['room:open']);
    for (const ch of ['room:private', 'dm:amy:ben', 'user:ben', 'pub:x']) {
      const r = await c.request('read', { ch, seq: 1 });
      assert.deepEqual([r.op, r.code], ['err', 'forbidden'], ch);
    }
    // The same answer whether the private channel exists (written) or not.
    const owner = await connect(fe1, cluster, 'own', ['room:private']);
    await publish(cluster, shards, 'room:private', 1);
    const again = await c.request('read', { ch: 'room:private', seq: 1 });
    const never = await c.request('read', { ch: 'room:never-written', seq: 1 });
    assert.deepEqual([again.code, again.msg], [never.code, never.msg]);
    assert.equal((await c.request('read', { ch: 'bad name', seq: 1 })).code, 'bad_request');
    assert.equal((await c.request('read', { ch: 'room:open' })).code, 'bad_request');
    assert.equal((await c.request('read', { ch: 'room:open', seq: -1 })).code, 'bad_request');
    assert.equal((await c.request('unread', { chs: [] })).code, 'bad_request');
    assert.equal((await c.request('unread', { chs: 'room:open' })).code, 'bad_request');
    const u = await c.request('unread', { chs: ['room:open', 'room:private'] });
    assert.deepEqual([u.op, u.code], ['err', 'forbidden']);
    const big = Array.from({ length: 501 }, (_, i) => `room:open${i}`);
    assert.equal((await c.request('unread', { chs: big })).code, 'too_large');
    await c.close();
    await owner.close();
  });

  test('a dm receipt reaches the peer on the other frontend; a room gets none unless its namespace opts in', async () => {
    const amy = await connect(fe1, cluster, 'amy', ['room:*', 'team:*']);
    const ben = await connect(fe2, cluster, 'ben', ['room:*', 'team:*']);
    const benSeen = receiptsOf(ben);
    for (const ch of ['dm:amy:ben', 'room:plain', 'team:t1']) {
      assert.equal((await ben.request('sub', { ch })).op, 'ok');
      await publish(cluster, shards, ch, 2);
    }
    assert.equal((await amy.request('read', { ch: 'dm:amy:ben', seq: 2 })).seq, 2);
    assert.equal((await amy.request('read', { ch: 'room:plain', seq: 2 })).seq, 2);
    assert.equal((await amy.request('read', { ch: 'team:t1', seq: 1 })).seq, 1);
    await until(() => benSeen.length >= 2, 'the receipts', 5000);
    await sleep(300);
    assert.deepEqual(benSeen, [
      { op: 'read', ch: 'dm:amy:ben', user: 'amy', seq: 2 },
      { op: 'read', ch: 'team:t1', user: 'amy', seq: 1 },
    ]);
    // A read that moves nothing sends no receipt.
    assert.equal((await amy.request('read', { ch: 'dm:amy:ben', seq: 1 })).seq, 2);
    await sleep(300);
    assert.equal(benSeen.length, 2);
    // Receipts missed while away: unread tells the peer's cursor of a dm (and the user's own).
    const u = await ben.request('unread', { chs: ['dm:amy:ben', 'team:t1'] });
    assert.deepEqual([u.unread, u.read, u.peer_read], [{ 'dm:amy:ben': 2, 'team:t1': 2 }, { 'dm:amy:ben': 0, 'team:t1': 0 }, { 'dm:amy:ben': 2 }]);
    await amy.close();
    await ben.close();
  });

  test("the reader's other devices learn the cursor through their inbox (the inbox on the other shard)", async () => {
    // A user whose inbox lives on the other shard than the channel read.
    const ch = nameOn(0, 'room:dev');
    let user;
    for (let i = 0; ; i++) if (shardOf(`user:dev${i}`) === 1) { user = `dev${i}`; break; }
    const phone = await connect(fe1, cluster, user, ['room:*']);
    const laptop = await connect(fe2, cluster, user, ['room:*']);
    const laptopSeen = receiptsOf(laptop);
    assert.equal((await laptop.request('sub', { ch: `user:${user}` })).op, 'ok');
    await publish(cluster, shards, ch, 4);
    assert.equal((await phone.request('read', { ch, seq: 3 })).seq, 3);
    await until(() => laptopSeen.length === 1, 'the inbox receipt', 5000);
    assert.deepEqual(laptopSeen[0], { op: 'read', ch, user, seq: 3 });
    await phone.close();
    await laptop.close();
  });

  test('unread counts for channels of both shards, one request per shard, merged', async () => {
    const c = await connect(fe2, cluster, 'counter', ['room:*']);
    const a = nameOn(0, 'room:ua');
    const b = nameOn(1, 'room:ub');
    await publish(cluster, shards, a, 4);
    await publish(cluster, shards, b, 6);
    assert.equal((await c.request('read', { ch: b, seq: 2 })).seq, 2);
    const before = await Promise.all([cluster.hubStats(app(0)), cluster.hubStats(app(1))]);
    const u = await c.request('unread', { chs: [a, b, 'room:nothing', a] });
    assert.deepEqual(u, {
      op: 'ok', id: u.id, unread: { [a]: 4, [b]: 4, 'room:nothing': 0 }, read: { [a]: 0, [b]: 2, 'room:nothing': 0 }, peer_read: {},
    });
    const afterStats = await Promise.all([cluster.hubStats(app(0)), cluster.hubStats(app(1))]);
    for (const i of [0, 1]) assert.equal(afterStats[i].frontend_requests - before[i].frontend_requests >= 1, true);
    await c.close();
  });

  test('many reads of one key in one batch write one cursor and send one receipt', async () => {
    const amy = await connect(fe1, cluster, 'amy2');
    const ben = await connect(fe1, cluster, 'ben2');
    const benSeen = receiptsOf(ben);
    assert.equal((await ben.request('sub', { ch: 'dm:amy2:ben2' })).op, 'ok');
    await publish(cluster, shards, 'dm:amy2:ben2', 30);
    const endpoint = app(shardOf('dm:amy2:ben2'));
    const before = await cluster.hubStats(endpoint);
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => amy.request('read', { ch: 'dm:amy2:ben2', seq: i + 1 })));
    assert.ok(replies.every((r) => r.op === 'ok'));
    assert.equal(Math.max(...replies.map((r) => r.seq)), 30);
    const after = await cluster.hubStats(endpoint);
    assert.equal(after.reads - before.reads, 30);
    assert.ok(after.cursors_written - before.cursors_written < 30, `coalesced: ${after.cursors_written - before.cursors_written} records`);
    await until(() => benSeen.some((r) => r.seq === 30), 'the last receipt', 5000);
    assert.equal(benSeen.length, after.receipts - before.receipts, 'one receipt per cursor written');
    assert.ok(benSeen.every((r, i) => i === 0 || r.seq > benSeen[i - 1].seq), 'receipts only move forward');
    await amy.close();
    await ben.close();
  });

  test('sub replies carry the read cursor, and on a dm the peer\'s (single and batched sub, both shards)', async () => {
    const a = nameOn(0, 'room:sa');
    const b = nameOn(1, 'room:sb');
    const dm = 'dm:suba:subb';
    await publish(cluster, shards, a, 5);
    await publish(cluster, shards, b, 3);
    await publish(cluster, shards, dm, 4);
    const me = await connect(fe1, cluster, 'suba', ['room:*']);
    const peer = await connect(fe2, cluster, 'subb');
    assert.equal((await me.request('read', { ch: a, seq: 2 })).seq, 2);
    assert.equal((await me.request('read', { ch: dm, seq: 3 })).seq, 3);
    assert.equal((await peer.request('read', { ch: dm, seq: 4 })).seq, 4);

    const single = await me.request('sub', { ch: a });
    assert.deepEqual([single.op, single.seq, single.read, single.peer_read], ['ok', 5, 2, undefined]);
    const dmReply = await peer.request('sub', { ch: dm });
    assert.deepEqual([dmReply.read, dmReply.peer_read], [4, 3]);

    // A batch over both shards: one cursor request per shard, every answer carries its cursor.
    const other = await connect(fe2, cluster, 'suba', ['room:*']);
    const answers = [];
    other.ws.on('message', (d) => { const o = JSON.parse(d.toString()); if (o.id === 99) answers.push(o); });
    const stats = async () => (await Promise.all([0, 1].map((i) => cluster.hubStats(app(i))))).map((x) => x.unreads);
    const before = await stats();
    other.ws.send(JSON.stringify({ op: 'sub', id: 99, subs: [{ ch: a }, { ch: b }, { ch: dm }, { ch: 'room:nograntx' }] }));
    await until(() => answers.length === 4, 'four answers', 5000);
    const byCh = Object.fromEntries(answers.map((o) => [o.ch, o]));
    assert.deepEqual([byCh[a].read, byCh[b].read, byCh[dm].read, byCh[dm].peer_read], [2, 0, 3, 4]);
    assert.equal(byCh['room:nograntx'].op, 'ok');  // granted by room:*, never written
    assert.equal(byCh['room:nograntx'].read, 0);
    const after = await stats();
    assert.deepEqual([after[0] - before[0], after[1] - before[1]], [1, 1], 'one cursor request per shard for the batch');
    for (const c of [me, peer, other]) await c.close();
  });

  test('POST /cmd takes read and unread', async () => {
    const token = cluster.token('cmdr', ['room:*']);
    const session = await fetch(`http://127.0.0.1:${fe1.port}/session`, { method: 'POST', body: JSON.stringify({ token }) });
    const { sid } = await session.json();
    const c = await connect(fe1, cluster, 'cmdw', ['room:*']);
    await publish(cluster, shards, 'room:cmd', 3);
    const post = async (body) => (await fetch(`http://127.0.0.1:${fe2.port}/cmd?sid=${sid}`, { method: 'POST', body: JSON.stringify(body) })).json();
    assert.deepEqual(await post({ op: 'read', id: 1, ch: 'room:cmd', seq: 2 }), { op: 'ok', id: 1, seq: 2 });
    assert.deepEqual(await post({ op: 'unread', id: 2, chs: ['room:cmd'] }),
      { op: 'ok', id: 2, unread: { 'room:cmd': 1 }, read: { 'room:cmd': 2 }, peer_read: {} });
    assert.equal((await post({ op: 'read', id: 3, ch: 'dm:x:y', seq: 2 })).code, 'forbidden');
    await c.close();
  });

  test('reads count against the rate limit (4008 beyond it)', async () => {
    const fast = await connect(fe2, cluster, 'fastr', ['room:*']);
    for (let i = 0; i < 20; i++) fast.ws.send(JSON.stringify({ op: 'read', id: 100 + i, ch: 'room:r', seq: i }));
    assert.equal((await fast.closed).code, 4008);
  });

  for (const transport of ['websocket', 'sse', 'longpoll']) {
    test(`the JS client (${transport}): read(), unread(), 'read' events from the peer and from the user's other device`, async () => {
      const opts = { WebSocket, requestTimeoutMs: 3000, backoff: { baseMs: 50, maxMs: 400 } };
      const me = `jsr${transport}`;
      const ch = `dm:${me}:zpeer`;
      const mine = new WebimClient({ ...opts, url: fe1.url, token: cluster.token(me), transports: [transport] });
      const other = new WebimClient({ ...opts, url: fe2.url, token: cluster.token(me) });  // the same user's other device
      const peer = new WebimClient({ ...opts, url: fe2.url, token: cluster.token('zpeer') });
      const mineSeen = [];
      const otherSeen = [];
      const peerSeen = [];
      mine.on('read', (e) => mineSeen.push(e));
      other.on('read', (e) => otherSeen.push(e));
      peer.on('read', (e) => { if (e.user === me) peerSeen.push(e); });  // (its own publishes' receipts too)
      const subs = [mine.subscribe(ch, () => {}), peer.subscribe(ch, () => {}), other.subscribe(`user:${me}`, () => {})];
      await Promise.all([mine.connect(), other.connect(), peer.connect()]);
      const ready = await Promise.all(subs.map((s) => s.ready));
      if (transport === 'websocket') assert.deepEqual([ready[0].read, ready[0].peerRead], [0, 0], 'sub cursors (WebSocket)');
      await peer.publish(ch, 'one');
      await peer.publish(ch, 'two');
      assert.equal(await mine.read(ch, 2), 2);
      await until(() => peerSeen.length === 1 && otherSeen.length === 1, `receipts: ${JSON.stringify({ peerSeen, otherSeen })}`, 5000);
      assert.deepEqual(peerSeen[0], { op: 'read', ch, user: me, seq: 2 });
      assert.deepEqual(otherSeen[0], { op: 'read', ch, user: me, seq: 2 });
      // The peer's own publishes marked the dm read up to them (docs/protocol.md "Read cursors").
      const counts = await peer.unread([ch]);
      assert.deepEqual(counts, { unread: { [ch]: 0 }, read: { [ch]: 2 }, peerRead: { [ch]: 2 } });
      assert.equal(await peer.read(ch, 1), 2);
      // A long-poll client misses what comes between two of its polls (receipts are best effort).
      if (transport !== 'longpoll') await until(() => mineSeen.some((e) => e.user === 'zpeer'), `the peer's receipt: ${JSON.stringify(mineSeen)}`, 5000);
      await assert.rejects(mine.read('room:nope', 1), { code: 'forbidden' });
      // A new subscription of the peer's other client carries both cursors.
      const late = new WebimClient({ ...opts, url: fe1.url, token: cluster.token('zpeer') });
      const cursors = [];
      late.on('cursors', (c) => cursors.push(c));
      const lateSub = late.subscribe(ch, () => {});
      await late.connect();
      const pos = await lateSub.ready;
      assert.deepEqual([pos.read, pos.peerRead], [2, 2]);
      assert.deepEqual(cursors, [{ ch, read: 2, peerRead: 2 }]);
      late.close();
      for (const c of [mine, other, peer]) c.close();
    });
  }
});
