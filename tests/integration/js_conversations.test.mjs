// The JS client's conversations (clients/js/webim.js; docs/protocol.md "Conversations"):
// `conversations({limit, before})` sends the request as the protocol spells it and maps the page
// (peer_read -> peerRead), refusals reject with their code; inbox DM notices fire 'notice' events,
// live and gap-filled alike, in order with the inbox's messages. Through the client's transport seam
// (a scripted server), then against a real hub and frontend on WebSocket and long-poll: a dm from a
// user with no grant at all reaches the peer's 'notice' listener, and conversations() lists it with
// its unread count.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Cluster, WebSocket, until } from './harness.mjs';
import { WebimClient } from '../../clients/js/webim.js';

const FAST = { baseMs: 50, maxMs: 400, stableMs: 2000, restartMs: 100 };

function fakeServer() {
  const server = { sent: [], handlers: null, onRequest: () => {} };
  server.transport = (url, handlers) => {
    server.handlers = handlers;
    queueMicrotask(() => handlers.onOpen());
    return {
      send: (obj) => { server.sent.push(obj); server.onRequest(obj, (reply) => queueMicrotask(() => handlers.onMessage({ id: obj.id, ...reply }))); },
      close: (code = 1000) => handlers.onClose({ code, reason: '' }),
    };
  };
  server.push = (frame) => server.handlers.onMessage(frame);
  return server;
}

const notice = (seq, dm, dmSeq, from) => ({ op: 'msg', ch: 'user:bob', epoch: 'e1', seq, from, ts: 1000 + seq, notice: { ch: dm, seq: dmSeq } });

describe('conversations and DM notices (JS client, scripted server)', () => {
  test('conversations(): the request as the protocol spells it, the page mapped, errors with their code', async () => {
    const s = fakeServer();
    s.onRequest = (req, reply) => {
      if (req.op === 'auth') return reply({ op: 'ok', user: 'bob' });
      if (req.op !== 'conversations') return undefined;
      if (req.limit === 0) return reply({ op: 'err', code: 'bad_request', msg: 'limit 1..100' });
      return reply({
        op: 'ok',
        items: [{ ch: 'dm:alice:bob', ts: 20, seq: 5, unread: 2, read: 3, peer_read: 5 }, { ch: 'room:7', ts: 10, seq: 40, unread: 0, read: 40 }],
        more: true,
      });
    };
    const c = new WebimClient({ url: 'fake', token: 't', transport: s.transport, backoff: FAST });
    await c.connect();
    const page = await c.conversations({ limit: 2 });
    assert.deepEqual(page, {
      items: [{ ch: 'dm:alice:bob', ts: 20, seq: 5, unread: 2, read: 3, peerRead: 5 }, { ch: 'room:7', ts: 10, seq: 40, unread: 0, read: 40 }],
      more: true,
    });
    await c.conversations({ before: { ts: 10, ch: 'room:7', extra: 1 } });
    await c.conversations();
    const sent = s.sent.filter((r) => r.op === 'conversations').map(({ id, ...rest }) => rest);
    assert.deepEqual(sent, [
      { op: 'conversations', limit: 2 },
      { op: 'conversations', before: { ts: 10, ch: 'room:7' } },
      { op: 'conversations' },
    ]);
    await assert.rejects(c.conversations({ limit: 0 }), { code: 'bad_request' });
    c.close();
  });

  test("inbox notices fire 'notice' in order, live and gap-filled, once each; the handler sees them too", async () => {
    const s = fakeServer();
    const history = [notice(1, 'dm:alice:bob', 1, 'alice'), notice(2, 'dm:bob:carol', 1, 'carol'), notice(3, 'dm:alice:bob', 2, 'bob')];
    s.onRequest = (req, reply) => {
      if (req.op === 'auth') return reply({ op: 'ok', user: 'bob' });
      if (req.op === 'sub') return reply({ op: 'ok', epoch: 'e1', seq: 0 });
      if (req.op === 'hist') return reply({ op: 'ok', epoch: 'e1', msgs: history.filter((m) => m.seq > req.after), more: false });
      return undefined;
    };
    const c = new WebimClient({ url: 'fake', token: 't', transport: s.transport, backoff: FAST });
    const notices = [];
    const inbox = [];
    c.on('notice', (n) => notices.push(n));
    const off = c.subscribe('user:bob', (m) => inbox.push(m.seq));
    await c.connect();
    await off.ready;
    s.push(history[0]);
    s.push(history[2]);  // seq 2 missing: filled from history first
    s.push(history[0]);  // a duplicate: nothing
    await until(() => notices.length === 3, 'three notices');
    assert.deepEqual(inbox, [1, 2, 3]);
    assert.deepEqual(notices, [
      { ch: 'dm:alice:bob', seq: 1, from: 'alice', ts: 1001, inbox: 'user:bob', by: 1 },
      { ch: 'dm:bob:carol', seq: 1, from: 'carol', ts: 1002, inbox: 'user:bob', by: 2 },
      { ch: 'dm:alice:bob', seq: 2, from: 'bob', ts: 1003, inbox: 'user:bob', by: 3 },
    ]);
    c.close();
  });
});

describe('conversations and DM notices (JS client, real hub and frontend)', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe = await cluster.startFrontend();
  });

  after(() => cluster.stopCleanly());

  for (const transport of ['websocket', 'longpoll']) {
    test(`${transport}: a dm without any grant fires 'notice' on both sides; conversations() lists it, unread counted`, async () => {
      const [a, b] = [`a-${transport}`, `b-${transport}`];
      const dm = `dm:${a}:${b}`;
      const opts = { url: fe.url, WebSocket, transports: [transport], requestTimeoutMs: 3000, backoff: FAST };
      const sender = new WebimClient({ ...opts, token: cluster.token(a, [`user:${a}`]) });
      const peer = new WebimClient({ ...opts, token: cluster.token(b, [`user:${b}`]) });
      const notices = { [a]: [], [b]: [] };
      sender.on('notice', (n) => notices[a].push(n));
      peer.on('notice', (n) => notices[b].push(n));
      sender.connect().catch(() => {});
      peer.connect().catch(() => {});
      await peer.subscribe(`user:${b}`, () => {}).ready;
      await sender.subscribe(`user:${a}`, () => {}).ready;
      const first = await sender.publish(dm, { text: 'one' });
      const second = await sender.publish(dm, { text: 'two' });
      await until(() => notices[b].length === 2 && notices[a].length === 2, 'two notices each side', 8000);
      assert.deepEqual(notices[b].map(({ ch, seq, from }) => ({ ch, seq, from })),
        [{ ch: dm, seq: first.seq, from: a }, { ch: dm, seq: second.seq, from: a }]);
      const page = await peer.conversations({ limit: 10 });
      assert.equal(page.more, false);
      assert.deepEqual(page.items.map(({ ch, seq, unread }) => ({ ch, seq, unread })), [{ ch: dm, seq: second.seq, unread: 2 }]);
      assert.equal(typeof page.items[0].ts, 'number');
      await assert.rejects(peer.conversations({ limit: 0 }), { code: 'bad_request' });
      sender.close();
      peer.close();
    });
  }
});
