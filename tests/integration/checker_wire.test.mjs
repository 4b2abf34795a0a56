// The fault-injection checker's wire accounting (checker/lib.mjs: Wire, wireWebSocket, wireFetch)
// can fail: a server that sends a message twice is caught even though the JS client library hides
// it from the application. A scripted WebSocket "frontend" (Node `ws`) and scripted HTTP answers
// send duplicates on purpose; no webim process is involved.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';

import { WebSocket } from './harness.mjs';
import { Wire, wireFetch, wireWebSocket } from './checker/lib.mjs';
import { WebimClient } from '../../clients/js/webim.js';

const E = '00000000000000e1';
const msg = (seq, ch = 'room:a', epoch = E) => ({ op: 'msg', ch, epoch, seq, from: 'u', ts: 0, data: { n: seq } });

describe('checker wire accounting', () => {
  test('classifies twice, covered, resent and unsolicited', () => {
    const w = new Wire('c');
    const a = w.open('websocket');
    w.sub(a, 'room:a', undefined, 1);
    w.reply(a, { op: 'ok', id: 1, epoch: E, seq: 5 });
    for (const seq of [5, 6, 7, 7]) w.msg(a, msg(seq));
    w.msg(a, msg(1, 'room:other'));
    const b = w.open('websocket');
    w.sub(b, 'room:a', { epoch: E, seq: 6 }, 2); // 7 was not delivered (say, held): re-sending it is fine
    for (const seq of [6, 7, 8]) w.msg(b, msg(seq));
    assert.deepEqual(w.dups.map((d) => [d.stream, d.why, d.seq]), [[1, 'covered', 5], [1, 'twice', 7], [2, 'covered', 6]]);
    assert.equal(w.resent, 1);
    assert.equal(w.unsolicited, 1);
    assert.equal(w.msgs, 8);
  });

  test('a new epoch is a new sequence, not a duplicate', () => {
    const w = new Wire('c');
    const s = w.open('websocket');
    w.sub(s, 'room:a', { epoch: E, seq: 3 });
    w.msg(s, msg(4));
    w.msg(s, msg(1, 'room:a', '00000000000000e2'));
    w.msg(s, msg(2, 'room:a', '00000000000000e2'));
    assert.deepEqual(w.dups, []);
  });

  test('through the library on a WebSocket: the handler sees each message once, the wire both copies', async (t) => {
    // First connection: the subscription starts at 0, then 1, 2, 2, 3 and a restart (1012). Second
    // connection: the client resumes with since 3; the server sends 3 again, then 4.
    const server = new WebSocket.Server({ host: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    t.after(() => server.close());
    let connections = 0;
    server.on('connection', (ws) => {
      const n = ++connections;
      ws.on('message', (d) => {
        const req = JSON.parse(d.toString());
        if (req.op === 'auth') return ws.send(JSON.stringify({ op: 'ok', id: req.id, user: 'u' }));
        if (req.op !== 'sub') return;
        if (n === 1) {
          ws.send(JSON.stringify({ op: 'ok', id: req.id, epoch: E, seq: 0 }));
          for (const seq of [1, 2, 2, 3]) ws.send(JSON.stringify(msg(seq)));
          setTimeout(() => ws.close(1012), 50);
        } else {
          assert.deepEqual(req.since, { epoch: E, seq: 3 });
          ws.send(JSON.stringify({ op: 'ok', id: req.id, epoch: E, seq: 3, recovered: true }));
          for (const seq of [3, 4]) ws.send(JSON.stringify(msg(seq)));
        }
      });
    });
    const run = { sockets: [], closeCodes: {}, errCodes: {} };
    const wire = new Wire('c');
    const client = new WebimClient({
      url: `ws://127.0.0.1:${server.address().port}/ws`, token: 'x', transports: ['websocket'],
      WebSocket: wireWebSocket(run, 'c', wire), backoff: { baseMs: 10, maxMs: 20, restartMs: 10 },
    });
    t.after(() => client.close());
    const got = [];
    let done;
    const four = new Promise((r) => { done = r; });
    await client.connect();
    client.subscribe('room:a', (m) => { got.push(m.seq); if (m.seq === 4) done(); });
    let timer;
    await Promise.race([four, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`got ${got}`)), 5000); })]);
    clearTimeout(timer);
    assert.deepEqual(got, [1, 2, 3, 4], 'the library de-duplicated');
    assert.equal(wire.msgs, 6);
    assert.deepEqual(wire.dups.map((d) => [d.stream, d.why, d.seq]), [[1, 'twice', 2], [2, 'covered', 3]]);
    assert.deepEqual(run.closeCodes, { 1012: 1 });
  });

  test('long-poll answers and SSE streams are counted per GET /events', async () => {
    const wire = new Wire('c');
    const answers = [
      // Long-poll: the new subscription's position comes as a resync, then 4 twice.
      JSON.stringify([{ op: 'resync', ch: 'room:a', epoch: E, seq: 3 }, msg(3), msg(4), msg(4)]),
      // SSE resuming from 4: 4 again is covered, 5 is new.
      [4, 5].map((s) => `id: room:a:${E}:${s}\ndata: ${JSON.stringify(msg(s))}\n\n`).join(''),
    ];
    const inner = async () => new Response(answers.shift(), { status: 200 });
    const f = wireFetch(wire, inner);
    const lp = await f(`http://x/events?sid=s&ch=room:a&since=room:a:0000000000000000:0`);
    assert.equal((await lp.json()).length, 4, 'the library still gets the whole answer');
    const sse = await f(`http://x/events?sid=s&ch=room:a&since=room:a:${E}:4`, { headers: { Accept: 'text/event-stream' } });
    assert.match(await sse.text(), /data: .*"seq":5/);
    await new Promise((r) => setTimeout(r, 50)); // the teed copy is parsed asynchronously
    assert.equal(wire.msgs, 5);
    assert.deepEqual(wire.dups.map((d) => [d.kind, d.why, d.seq]), [['longpoll', 'covered', 3], ['longpoll', 'twice', 4], ['sse', 'covered', 4]]);
  });
});
