// Signals (docs/protocol.md "Signals"): ephemeral publishes such as "typing". Not stored, no seq,
// answered once handed to the hub, delivered to the channel's current subscribers on every
// frontend (the sender's own connections included), refused where a pub would be. Counted on the
// wire: every frame a client receives is recorded, not what a client library makes of it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, WebSocket, openEventStream, sleep, until } from './harness.mjs';
import { WebimClient } from '../../clients/js/webim.js';

// Every {"op":"signal"} frame `client` receives, as received.
function signalsOf(client) {
  const seen = [];
  client.ws.on('message', (data) => {
    const obj = JSON.parse(data.toString());
    if (obj.op === 'signal') seen.push(obj);
  });
  return seen;
}

async function connect(fe, cluster, user, grants = [], extra = {}) {
  const c = await Client.connect(fe.url);
  await c.auth(cluster.token(user, grants, extra));
  return c;
}

describe('signals', () => {
  let cluster;
  let fe1;
  let fe2;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe1 = await cluster.startFrontend();
    fe2 = await cluster.startFrontend(['--rate-limit', '5', '--rate-burst', '5']);
  });

  after(() => cluster.stopCleanly());

  test('a signal reaches every current subscriber on every frontend, once, and is not stored', async () => {
    const alice = await connect(fe1, cluster, 'alice', ['room:s']);
    const bob = await connect(fe2, cluster, 'bob', ['room:s']);
    const carol = await connect(fe1, cluster, 'carol', ['room:s']);  // same frontend as the sender
    const seen = [alice, bob, carol].map(signalsOf);
    for (const c of [alice, bob, carol]) assert.equal((await c.request('sub', { ch: 'room:s' })).op, 'ok');

    const reply = await alice.request('signal', { ch: 'room:s', data: { typing: true } });
    assert.deepEqual(reply, { op: 'ok', id: reply.id });
    await until(() => seen.every((s) => s.length === 1), 'the signal at all three', 5000);
    for (const s of seen) {
      assert.equal(s[0].ch, 'room:s');
      assert.equal(s[0].from, 'alice');
      assert.deepEqual(s[0].data, { typing: true });
      assert.equal(typeof s[0].ts, 'number');
      assert.equal(s[0].seq, undefined);
      assert.equal(s[0].epoch, undefined);
    }
    await sleep(200);
    assert.deepEqual(seen.map((s) => s.length), [1, 1, 1], 'once per connection');

    // Nothing stored: history is empty and the next message is seq 1.
    const page = await cluster.appRequest({ op: 'hist', ch: 'room:s', after: 0 });
    assert.deepEqual(page.msgs, []);
    const pub = await alice.request('pub', { ch: 'room:s', data: 'hi', cid: 's-1' });
    assert.equal(pub.seq, 1);
    assert.equal((await cluster.hubStats()).signals, 1);

    // A subscriber that joins later gets no signal replayed.
    const dave = await connect(fe2, cluster, 'dave', ['room:s']);
    const daveSeen = signalsOf(dave);
    assert.equal((await dave.request('sub', { ch: 'room:s', since: { epoch: pub.epoch, seq: 0 } })).recovered, true);
    await dave.waitForMsgs(1);
    await sleep(200);
    assert.equal(daveSeen.length, 0);
    for (const c of [alice, bob, carol, dave]) await c.close();
  });

  test('signals on dm: channels and inboxes follow the pub rules', async () => {
    const amy = await connect(fe1, cluster, 'amy');
    const ben = await connect(fe2, cluster, 'ben');
    const eve = await connect(fe1, cluster, 'eve', ['room:*']);
    const benSeen = signalsOf(ben);
    assert.equal((await ben.request('sub', { ch: 'dm:amy:ben' })).op, 'ok');
    assert.equal((await ben.request('sub', { ch: 'user:ben' })).op, 'ok');

    assert.equal((await amy.request('signal', { ch: 'dm:amy:ben', data: { typing: 1 } })).op, 'ok');
    await until(() => benSeen.length === 1, 'the dm signal', 5000);
    assert.equal(benSeen[0].ch, 'dm:amy:ben');

    // Not a participant, no publish grant, the app's own namespace: forbidden, nothing delivered.
    for (const ch of ['dm:amy:ben', 'user:ben', 'pub:news']) {
      const refused = await eve.request('signal', { ch, data: 1 });
      assert.deepEqual([refused.op, refused.code], ['err', 'forbidden'], ch);
    }
    const noGrant = await connect(fe1, cluster, 'gil', ['room:a'], { pub: [] });
    const refused = await noGrant.request('signal', { ch: 'room:a', data: 1 });
    assert.equal(refused.code, 'forbidden');

    // An inbox with a publish grant: routed like an inbox message.
    const sys = await connect(fe1, cluster, 'sys', [], { pub: ['user:*'] });
    assert.equal((await sys.request('signal', { ch: 'user:ben', data: { ring: true } })).op, 'ok');
    await until(() => benSeen.length === 2, 'the inbox signal', 5000);
    assert.deepEqual([benSeen[1].ch, benSeen[1].from], ['user:ben', 'sys']);
    await sleep(200);
    assert.equal(benSeen.length, 2);
    for (const c of [amy, ben, eve, noGrant, sys]) await c.close();
  });

  test('bad signals: too large, bad channel, missing data; over the rate limit the connection closes 4008', async () => {
    const c = await connect(fe1, cluster, 'big', ['room:*']);
    const big = await c.request('signal', { ch: 'room:b', data: 'x'.repeat(4097) });
    assert.deepEqual([big.op, big.code], ['err', 'too_large']);
    assert.equal((await c.request('signal', { ch: 'room:b', data: 'x'.repeat(4000) })).op, 'ok');
    assert.equal((await c.request('signal', { ch: 'bad name', data: 1 })).code, 'bad_request');
    assert.equal((await c.request('signal', { ch: 'room:b' })).code, 'bad_request');
    await c.close();

    // fe2: rate_limit 5/s, burst 5. Signals are requests like any other.
    const fast = await connect(fe2, cluster, 'fast', ['room:*']);
    for (let i = 0; i < 20; i++) fast.ws.send(JSON.stringify({ op: 'signal', id: 100 + i, ch: 'room:r', data: i }));
    const closed = await fast.closed;
    assert.equal(closed.code, 4008);
  });

  test('the HTTP fallback: /cmd takes a signal, an SSE stream gets it as an event without an id', async () => {
    const stream = await openEventStream(fe1.port, fe2.port, cluster.token('ssa', ['room:h']), 'room:h');
    const { sid } = stream;
    // The stream says nothing until its subscription is confirmed: signal until one shows.
    for (let i = 0; i < 20 && !stream.text().includes('"op":"signal"'); i++) {
      const res = await fetch(`http://127.0.0.1:${fe1.port}/cmd?sid=${sid}`, {
        method: 'POST', body: JSON.stringify({ op: 'signal', id: i, ch: 'room:h', data: { typing: i } }),
      });
      assert.deepEqual(await res.json(), { op: 'ok', id: i });
      await sleep(100);
    }
    const event = stream.text().split('\n\n').find((e) => e.includes('"op":"signal"'));
    assert.ok(event, `no signal event on the stream: ${JSON.stringify(stream.text())}`);
    assert.ok(!event.includes('id:'), `a signal event carries no id: ${JSON.stringify(event)}`);
    assert.match(event, /^data: \{"op":"signal","ch":"room:h","from":"ssa",/m);
    await stream.cancel();
  });

  for (const transport of ['websocket', 'sse', 'longpoll']) {
    test(`the JS client (${transport}): signal() and 'signal' events; messages keep their seqs around them`, async () => {
      const ch = `room:js-${transport}`;
      const opts = { WebSocket, requestTimeoutMs: 3000, backoff: { baseMs: 50, maxMs: 400 } };
      const reader = new WebimClient({ ...opts, url: fe1.url, token: cluster.token(`jr-${transport}`, ['room:*']), transports: [transport] });
      const writer = new WebimClient({ ...opts, url: fe1.url, token: cluster.token(`jw-${transport}`, ['room:*']) });
      await assert.rejects(writer.signal(ch, 1), { code: 'unavailable' });  // not connected: not queued
      const signals = [];
      const msgs = [];
      reader.on('signal', (s) => signals.push(s));
      const sub = reader.subscribe(ch, (m) => msgs.push(m.seq));
      await Promise.all([reader.connect(), writer.connect()]);
      await sub.ready;
      writer.subscribe(ch, () => {});
      for (let i = 0; i < 3 && signals.length === 0; i++) {
        await writer.signal(ch, { typing: true });
        await until(() => signals.length > 0, 'a signal', 1000).catch(() => {});
      }
      assert.ok(signals.length > 0, 'the reader got the signal');
      assert.deepEqual([signals[0].ch, signals[0].from, signals[0].data], [ch, `jw-${transport}`, { typing: true }]);
      const ack = await writer.publish(ch, 'after the signal');
      await writer.signal(ch, { typing: false });
      const ack2 = await writer.publish(ch, 'and another');
      // A long-poll client misses signals sent between two of its polls (best effort); the others do not.
      await until(() => msgs.length === 2 && (transport === 'longpoll' || signals.some((s) => s.data.typing === false)),
        `messages and the second signal: ${JSON.stringify({ msgs, signals })}`);
      assert.deepEqual(msgs, [ack.seq, ack2.seq]);
      assert.equal(ack2.seq, ack.seq + 1, 'signals take no seq');
      await assert.rejects(reader.signal('pub:x', 1), { code: 'forbidden' });
      reader.close();
      writer.close();
    });
  }
});

// max_signal_bytes above the hub's max_data_bytes: the hub would refuse the signal after the
// frontend said ok (a signal is never answered), so it would vanish without a word.
describe('signals over the hub limit', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub(['--max-data-bytes', '100']);
    fe = await cluster.startFrontend(['--max-signal-bytes', '4096']);
  });

  after(() => cluster.stopCleanly());

  test('a signal over the hub max_data_bytes is too_large, not ok and lost', async () => {
    const reader = await connect(fe, cluster, 'hl-r', ['room:hl']);
    const seen = signalsOf(reader);
    assert.equal((await reader.request('sub', { ch: 'room:hl' })).op, 'ok');
    const writer = await connect(fe, cluster, 'hl-w', ['room:hl']);
    await until(async () => (await writer.request('signal', { ch: 'room:hl', data: 'x' })).op === 'ok' && seen.length > 0,
      'a small signal goes through');
    const big = await writer.request('signal', { ch: 'room:hl', data: 'y'.repeat(200) });
    assert.equal(big.op === 'ok' ? 'ok' : big.code, 'too_large', JSON.stringify(big));
  });
});
