// WebSocket conformance of the frontend's front door, modelled on the Autobahn|Testsuite case groups
// 1-7, 9 (at our limits) and 10, adapted to a server that is not an echo server: a text message
// `{"op":"x","id":N,"pad":"..."}` on an authenticated connection is answered with exactly
// `{"op":"err","id":N,"code":"bad_request","msg":"unknown op"}`, which proves it arrived intact.
// Every case uses its own raw TCP connection (raw_ws.mjs) and asserts the exact reply or close code.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { Cluster, makeToken } from './harness.mjs';
import {
  OP, RawWs, acceptKey, closeBody, fragments, frame, httpExchange, probe, probeReply, splitInto, upgradeRequest,
} from './raw_ws.mjs';

const T = { timeout: 10000 };

let cluster;
let fe;        // generous pacing limits, default message limits (64 KiB, 1024 fragments)
let feLimits;  // group 9: the default limits given explicitly
let feSmall;   // group 9: small configured limits (1024 bytes, 4 fragments)
let feAuth;    // group 10: auth timeout 300 ms

const generous = ['--rate-limit', '100000', '--rate-burst', '100000', '--max-forbidden', '255'];

const text = (payload, opts) => frame(OP.TEXT, payload, opts);
const cont = (payload, opts) => frame(OP.CONT, payload, opts);
const ping = (payload = Buffer.alloc(0), opts) => frame(OP.PING, payload, opts);
const pong = (payload = Buffer.alloc(0), opts) => frame(OP.PONG, payload, opts);
const close = (code, reason, opts) => frame(OP.CLOSE, closeBody(code, reason), opts);
const hex = (s) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// An authenticated raw connection (auth is id 1; probes use ids >= 2).
async function open(server = fe, connectOpts = {}) {
  const ws = await RawWs.connect(server.port, connectOpts);
  ws.send(text(JSON.stringify({ op: 'auth', id: 1, token: cluster.token('u1', ['room:*']) })));
  const reply = await ws.nextJson();
  assert.equal(reply.op, 'ok', JSON.stringify(reply));
  assert.equal(reply.id, 1);
  assert.equal(reply.user, 'u1');
  return ws;
}

async function expectProbeReplies(ws, ids) {
  for (const id of ids) assert.equal(await ws.nextText(), probeReply(id));
}

// Sends `data` (one write) and expects the probe replies for `ids` in order.
async function roundTrip(data, ids, server = fe) {
  const ws = await open(server);
  ws.send(data);
  await expectProbeReplies(ws, ids);
  await ws.expectSilence(50);
  ws.destroy();
}

// Sends `data` (one write); expects the probe replies for `answered`, then close `code` and the TCP close.
async function closesWith(data, code, answered = [], server = fe) {
  const ws = await open(server);
  ws.send(data);
  await expectProbeReplies(ws, answered);
  return ws.expectClose(code);
}

// Sends a probe of exactly `size` bytes in one frame, optionally in chunks of `chunk` bytes.
async function sizeCase(size, chunk, opts) {
  const ws = await open();
  const f = text(probe(2, size), opts);
  if (chunk) await ws.sendChunked(f, chunk);
  else ws.send(f);
  assert.equal(await ws.nextText(5000), probeReply(2));
  ws.destroy();
}

before(async () => {
  cluster = new Cluster();
  await cluster.startHub();
  fe = await cluster.startFrontend(generous);
  feLimits = await cluster.startFrontend([...generous, '--max-message-bytes', '65536', '--max-fragments', '1024']);
  feSmall = await cluster.startFrontend([...generous, '--max-message-bytes', '1024', '--max-fragments', '4']);
  feAuth = await cluster.startFrontend([...generous, '--auth-timeout-ms', '300']);
});

after(async () => {
  const results = await cluster.stop();
  for (const [name, r] of Object.entries(results)) {
    assert.deepEqual(r, { code: 0, signal: null }, `${name} did not exit cleanly on SIGTERM:\n${cluster.logs()}`);
  }
});

// ------------------------------------------------------------------------------------------------
describe('group 1: framing', () => {
  test('1.1.1 text message 0 bytes -> err bad_request without id, connection stays usable', T, async () => {
    const ws = await open();
    ws.send(text(Buffer.alloc(0)));
    const reply = await ws.nextJson();
    assert.equal(reply.op, 'err', JSON.stringify(reply));
    assert.equal(reply.code, 'bad_request');
    assert.equal('id' in reply, false, 'an invalid JSON request has no id to echo');
    ws.send(text(probe(2)));
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
  for (const [n, size] of [[2, 125], [3, 126], [4, 127], [5, 128], [6, 65535], [7, 65536]]) {
    test(`1.1.${n} text message ${size} bytes`, T, () => sizeCase(size));
  }
  test('1.1.8 text message 65535 bytes in chops of 997 bytes', T, () => sizeCase(65535, 997));
  test('1.2.1 text message 125 bytes sent byte by byte (7-bit length)', T, () => sizeCase(125, 1));
  test('1.2.2 text message 126 bytes sent byte by byte (16-bit length)', T, () => sizeCase(126, 1));
  test('1.2.3 text message 65536 bytes, 64-bit length header sent byte by byte', T, async () => {
    const ws = await open();
    const f = text(probe(2, 65536));
    await ws.sendChunked(f.subarray(0, 14), 1);
    ws.send(f.subarray(14));
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
  test('1.2.4 binary message 0 bytes -> close 1003', T, () => closesWith(frame(OP.BINARY), 1003));
  test('1.2.5 binary message 125 bytes -> close 1003', T, () => closesWith(frame(OP.BINARY, randomBytes(125)), 1003));
  test('1.2.6 binary message 126 bytes -> close 1003', T, () => closesWith(frame(OP.BINARY, randomBytes(126)), 1003));
  test('1.2.7 binary message 65535 bytes -> close 1003', T, () => closesWith(frame(OP.BINARY, randomBytes(65535)), 1003));
  test('1.2.8 binary message in 3 fragments after a text -> reply, close 1003', T, () =>
    closesWith(Buffer.concat([text(probe(2)), ...fragments(splitInto(randomBytes(300), 3), OP.BINARY)]), 1003, [2]));
  test('1.3.1 two text messages in one write -> two replies in order', T, () =>
    roundTrip(Buffer.concat([text(probe(2)), text(probe(3, 300))]), [2, 3]));
  test('1.3.2 non-minimal 16-bit length (30 bytes) -> close 1002', T, () => closesWith(text(probe(2, 30), { len: 16 }), 1002));
  test('1.3.3 non-minimal 64-bit length (300 bytes) -> close 1002', T, () => closesWith(text(probe(2, 300), { len: 64 }), 1002));
  test('1.3.4 text message with a zero masking key', T, () => roundTrip(text(probe(2, 100), { key: Buffer.alloc(4) }), [2]));
  test('1.3.5 text message 30000 bytes in one write (received whole)', T, () => roundTrip(text(probe(2, 30000)), [2]));
  test('1.3.6 two text messages of 20000 bytes in one write -> two replies in order', T, () =>
    roundTrip(Buffer.concat([text(probe(2, 20000)), text(probe(3, 20000))]), [2, 3]));
});

// ------------------------------------------------------------------------------------------------
describe('group 2: ping/pong', () => {
  async function pingCase(payload, chunk) {
    const ws = await open();
    const f = ping(payload);
    if (chunk) await ws.sendChunked(f, chunk);
    else ws.send(f);
    const reply = await ws.nextFrame();
    assert.equal(reply.opcode, OP.PONG);
    assert.deepEqual(reply.payload, payload);
    ws.destroy();
  }
  test('2.1 ping without payload -> pong without payload', T, () => pingCase(Buffer.alloc(0)));
  test('2.2 ping with 125-byte text payload -> identical pong', T, () => pingCase(Buffer.from('p'.repeat(125))));
  test('2.3 ping with 125-byte binary payload -> identical pong', T, () => pingCase(Buffer.from([...Array(125).keys()].map((i) => 255 - i))));
  test('2.4 ping with 1-byte non-UTF-8 payload 0xFF -> identical pong', T, () => pingCase(Buffer.from([0xff])));
  test('2.5 ping with 125 bytes sent byte by byte -> identical pong', T, () => pingCase(randomBytes(125), 1));
  test('2.6 ping with 126 bytes -> close 1002', T, () => closesWith(ping(Buffer.alloc(126, 'p')), 1002));
  test('2.7 ping with 126 bytes after a text -> reply, close 1002', T, () =>
    closesWith(Buffer.concat([text(probe(2)), ping(Buffer.alloc(126, 'p'))]), 1002, [2]));
  test('2.8 unsolicited pong without payload is ignored', T, () => roundTrip(Buffer.concat([pong(), text(probe(2))]), [2]));
  test('2.9 unsolicited pong with 125 bytes is ignored', T, () => roundTrip(Buffer.concat([pong(randomBytes(125)), text(probe(2))]), [2]));
  test('2.10 10 pings, separate writes -> 10 pongs in order', T, async () => {
    const ws = await open();
    for (let i = 0; i < 10; i++) ws.send(ping(Buffer.from(`ping-${i}`)));
    for (let i = 0; i < 10; i++) {
      const f = await ws.nextFrame();
      assert.equal(f.opcode, OP.PONG);
      assert.equal(f.payload.toString(), `ping-${i}`);
    }
    ws.destroy();
  });
  test('2.11 10 pings in one write -> 10 pongs in order', T, async () => {
    const ws = await open();
    ws.send(Buffer.concat([...Array(10).keys()].map((i) => ping(Buffer.from(`batch-${i}`)))));
    for (let i = 0; i < 10; i++) {
      const f = await ws.nextFrame();
      assert.equal(f.opcode, OP.PONG);
      assert.equal(f.payload.toString(), `batch-${i}`);
    }
    ws.destroy();
  });
  test('2.12 fragmented ping (FIN=0) -> close 1002', T, () => closesWith(ping(Buffer.from('frag'), { fin: false }), 1002));
  test('2.13 pong with 126 bytes -> close 1002', T, () => closesWith(pong(Buffer.alloc(126, 'p')), 1002));
  test('2.14 ping then close in one write -> pong then close 1000', T, async () => {
    const ws = await open();
    ws.send(Buffer.concat([ping(Buffer.from('last')), close(1000)]));
    const f = await ws.nextFrame();
    assert.equal(f.opcode, OP.PONG);
    assert.equal(f.payload.toString(), 'last');
    await ws.expectClose(1000, { reply: false });
  });
});

// ------------------------------------------------------------------------------------------------
describe('group 3: reserved bits', () => {
  test('3.1 RSV1 on a text frame -> close 1002', T, () => closesWith(text(probe(2), { rsv: 4 }), 1002));
  test('3.2 RSV2 on a text after a valid text -> reply, close 1002', T, () =>
    closesWith(Buffer.concat([text(probe(2)), text(probe(3), { rsv: 2 })]), 1002, [2]));
  test('3.3 RSV3 on a text after a valid text, then ping -> reply, close 1002, no pong', T, () =>
    closesWith(Buffer.concat([text(probe(2)), text(probe(3), { rsv: 1 }), ping()]), 1002, [2]));
  test('3.4 RSV1+RSV2 on a text, separate writes -> reply, close 1002', T, async () => {
    const ws = await open();
    ws.send(text(probe(2)));
    assert.equal(await ws.nextText(), probeReply(2));
    ws.send(text(probe(3), { rsv: 6 }));
    await ws.expectClose(1002);
  });
  test('3.5 RSV1+RSV3 on a binary frame -> close 1002', T, () => closesWith(frame(OP.BINARY, randomBytes(10), { rsv: 5 }), 1002));
  test('3.6 RSV2+RSV3 on a ping -> close 1002, no pong', T, () => closesWith(ping(Buffer.from('x'), { rsv: 3 }), 1002));
  test('3.7 RSV1+RSV2+RSV3 on a close -> close 1002', T, () => closesWith(close(1000, '', { rsv: 7 }), 1002));
  test('3.8 RSV1 on a continuation frame -> close 1002', T, () => {
    const [a, b] = splitInto(probe(2, 100), 2);
    return closesWith(Buffer.concat([text(a, { fin: false }), cont(b, { rsv: 4 })]), 1002);
  });
  test('3.9 RSV1 on a pong -> close 1002', T, () => closesWith(pong(Buffer.from('x'), { rsv: 4 }), 1002));
  test('3.10 RSV1 on a text frame whose first byte arrives alone -> close 1002', T, async () => {
    const ws = await open();
    const f = text(probe(2), { rsv: 4 });
    ws.send(f.subarray(0, 1));
    await ws.expectSilence(30);
    ws.send(f.subarray(1, 2));
    await ws.expectClose(1002);
  });
});

// ------------------------------------------------------------------------------------------------
describe('group 4: opcodes', () => {
  // Autobahn 4.1.x / 4.2.x: a valid text, the reserved frame, then a ping that must not be answered.
  for (const op of [3, 4, 5, 6, 7]) {
    test(`4.1.${op - 2} reserved non-control opcode ${op} -> reply, close 1002`, T, () =>
      closesWith(Buffer.concat([text(probe(2)), frame(op, Buffer.from('reserved')), ping()]), 1002, [2]));
  }
  for (const op of [11, 12, 13, 14, 15]) {
    test(`4.2.${op - 10} reserved control opcode ${op} -> reply, close 1002`, T, () =>
      closesWith(Buffer.concat([text(probe(2)), frame(op, Buffer.from('reserved')), ping()]), 1002, [2]));
  }
  test('4.1.6 reserved opcode 3 with empty payload, alone -> close 1002', T, () => closesWith(frame(3), 1002));
  test('4.2.6 reserved opcode 11 inside a fragmented text -> close 1002', T, () =>
    closesWith(Buffer.concat([text(Buffer.from('{"op":'), { fin: false }), frame(11)]), 1002));
});

// ------------------------------------------------------------------------------------------------
describe('group 5: fragmentation', () => {
  test('5.1 ping in 2 fragments -> close 1002', T, () =>
    closesWith(Buffer.concat([ping(Buffer.from('fr'), { fin: false }), cont(Buffer.from('ag'))]), 1002));
  test('5.2 pong in 2 fragments -> close 1002', T, () =>
    closesWith(Buffer.concat([pong(Buffer.from('fr'), { fin: false }), cont(Buffer.from('ag'))]), 1002));
  test('5.3 text in 2 fragments, one write -> one reply', T, () => roundTrip(Buffer.concat(fragments(splitInto(probe(2, 200), 2))), [2]));
  test('5.4 text in 2 fragments, separate writes -> one reply', T, async () => {
    const ws = await open();
    const [a, b] = fragments(splitInto(probe(2, 200), 2));
    ws.send(a);
    await ws.expectSilence(50);
    ws.send(b);
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
  test('5.5 text in 10 fragments -> one reply', T, () => roundTrip(Buffer.concat(fragments(splitInto(probe(2, 1000), 10))), [2]));
  test('5.6 text in 3 fragments with pings interleaved -> pongs, then the reply', T, async () => {
    const ws = await open();
    const [a, b, c] = fragments(splitInto(probe(2, 300), 3));
    ws.send(Buffer.concat([a, ping(Buffer.from('p1')), b, ping(Buffer.from('p2')), c]));
    for (const p of ['p1', 'p2']) {
      const f = await ws.nextFrame();
      assert.equal(f.opcode, OP.PONG);
      assert.equal(f.payload.toString(), p);
    }
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
  test('5.7 text in 2 fragments with a ping interleaved, separate writes -> pong before the message completes', T, async () => {
    const ws = await open();
    const [a, b] = fragments(splitInto(probe(2, 300), 2));
    ws.send(a);
    ws.send(ping(Buffer.from('mid')));
    const f = await ws.nextFrame();
    assert.equal(f.opcode, OP.PONG);
    assert.equal(f.payload.toString(), 'mid');
    ws.send(b);
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
  test('5.8 text in 2 fragments with a ping interleaved, all byte by byte', T, async () => {
    const ws = await open();
    const [a, b] = fragments(splitInto(probe(2, 60), 2));
    await ws.sendChunked(Buffer.concat([a, ping(Buffer.from('bb')), b]), 1);
    const f = await ws.nextFrame();
    assert.equal(f.opcode, OP.PONG);
    assert.equal(f.payload.toString(), 'bb');
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
  test('5.9 text in 2 fragments with an unsolicited pong interleaved -> one reply', T, () => {
    const [a, b] = fragments(splitInto(probe(2, 100), 2));
    return roundTrip(Buffer.concat([a, pong(Buffer.from('u')), b]), [2]);
  });
  test('5.10 continuation (FIN=1) without a started message -> close 1002', T, () => closesWith(cont(probe(2)), 1002));
  test('5.11 continuation (FIN=0) without a started message -> close 1002', T, () => closesWith(cont(probe(2), { fin: false }), 1002));
  test('5.12 continuation without a started message after a complete text -> reply, close 1002', T, () =>
    closesWith(Buffer.concat([text(probe(2)), cont(Buffer.from('more'))]), 1002, [2]));
  test('5.13 continuations (FIN=0, FIN=1) without a started message, separate writes -> close 1002', T, async () => {
    const ws = await open();
    ws.send(cont(Buffer.from('a'), { fin: false }));
    await ws.expectClose(1002);
  });
  test('5.14 new text frame inside a fragmented message -> close 1002', T, () => {
    const [a, b] = splitInto(probe(2, 100), 2);
    return closesWith(Buffer.concat([text(a, { fin: false }), text(b)]), 1002);
  });
  test('5.15 new binary frame inside a fragmented text -> close 1002', T, () =>
    closesWith(Buffer.concat([text(Buffer.from('{"op":'), { fin: false }), frame(OP.BINARY, Buffer.from('x'))]), 1002));
  test('5.16 text in fragments of 1 byte -> one reply', T, () => roundTrip(Buffer.concat(fragments(splitInto(probe(2, 40), 40))), [2]));
  test('5.17 text with empty first, middle and last fragments -> one reply', T, () => {
    const [a, b] = splitInto(probe(2, 50), 2);
    const empty = Buffer.alloc(0);
    return roundTrip(Buffer.concat(fragments([empty, a, empty, b, empty])), [2]);
  });
  test('5.18 text in 3 fragments of 300 bytes (16-bit lengths), then another message -> two replies in order', T, () =>
    roundTrip(Buffer.concat([...fragments(splitInto(probe(2, 900), 3)), text(probe(3))]), [2, 3]));
  test('5.19 close inside a fragmented message -> close 1000 echoed, the message is not answered', T, async () => {
    const ws = await open();
    const [a] = splitInto(probe(2, 100), 2);
    ws.send(Buffer.concat([text(a, { fin: false }), close(1000)]));
    await ws.expectClose(1000, { reply: false });
  });
  test('5.21 close with a reason split byte by byte inside a fragmented message -> close 1000 echoed', T, async () => {
    const ws = await open();
    const [a] = splitInto(probe(2, 100), 2);
    ws.send(text(a, { fin: false }));
    await ws.sendChunked(close(1000, 'split reason'), 1);
    await ws.expectClose(1000, { reply: false });
  });
  test('5.20 fragmented text sent in chops of 7 bytes across frame boundaries -> one reply', T, async () => {
    const ws = await open();
    await ws.sendChunked(Buffer.concat(fragments(splitInto(probe(2, 500), 5))), 7);
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
});

// ------------------------------------------------------------------------------------------------
describe('group 6: UTF-8', () => {
  const valid = [
    ['6.1.1 2-byte sequences (U+00E9, U+0080, U+07FF)', 'é\u0080\u07ff'],
    ['6.1.2 3-byte sequences (U+20AC, U+4E2D, U+0800, U+FFFD)', '€中\u0800\ufffd'],
    ['6.1.3 3-byte boundaries (U+D7FF, U+E000, U+FFFF)', '\ud7ff\ue000\uffff'],
    ['6.1.4 4-byte sequences (U+1F600, U+10000)', '😀\u{10000}'],
    ['6.1.5 4-byte maximum U+10FFFF', '\u{10ffff}'],
    ['6.1.6 mixed 1-4 byte text', 'κόσμε Grüße 中文 😀 ok'],
  ];
  for (const [name, s] of valid) {
    test(`${name} -> reply`, T, () => roundTrip(text(probe(2, undefined, Buffer.from(s))), [2]));
  }
  test('6.1.7 4-byte code point split inside across fragments (F0 | 9F 98 | 80) -> reply', T, () => {
    const body = probe(2, undefined, Buffer.from('😀'));
    const at = body.indexOf(0xf0);
    return roundTrip(Buffer.concat(fragments([body.subarray(0, at + 1), body.subarray(at + 1, at + 3), body.subarray(at + 3)])), [2]);
  });
  test('6.1.8 3-byte code points in fragments of 1 byte -> reply', T, () => {
    const body = probe(2, undefined, Buffer.from('€€'));
    return roundTrip(Buffer.concat(fragments(splitInto(body, body.length))), [2]);
  });
  test('6.1.9 2-byte code point split across fragments in separate writes -> reply', T, async () => {
    const ws = await open();
    const body = probe(2, undefined, Buffer.from('é'));
    const at = body.indexOf(0xc3) + 1;
    const [a, b] = fragments([body.subarray(0, at), body.subarray(at)]);
    ws.send(a);
    await ws.expectSilence(30);
    ws.send(b);
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
  test('6.1.10 multi-byte text frame sent byte by byte -> reply', T, async () => {
    const ws = await open();
    await ws.sendChunked(text(probe(2, undefined, Buffer.from('é€😀'))), 1);
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });

  const invalid = [
    ['6.2.1 overlong 2-byte NUL C0 80', 'c080'],
    ['6.2.2 overlong 2-byte C1 BF', 'c1bf'],
    ['6.2.3 overlong 3-byte E0 80 80', 'e08080'],
    ['6.2.4 overlong 3-byte E0 9F BF', 'e09fbf'],
    ['6.2.5 overlong 4-byte F0 80 80 80', 'f0808080'],
    ['6.2.6 overlong 4-byte F0 8F BF BF', 'f08fbfbf'],
    ['6.2.7 surrogate U+D800 (ED A0 80)', 'eda080'],
    ['6.2.8 surrogate U+DFFF (ED BF BF)', 'edbfbf'],
    ['6.2.9 surrogate pair as CESU-8 (ED A0 BD ED B8 80)', 'eda0bdedb880'],
    ['6.2.10 beyond U+10FFFF (F4 90 80 80)', 'f4908080'],
    ['6.2.11 lead byte F5', 'f5808080'],
    ['6.2.12 5-byte sequence F8 88 80 80 80', 'f888808080'],
    ['6.2.13 6-byte sequence FC 84 80 80 80 80', 'fc8480808080'],
    ['6.2.14 byte FE', 'fe'],
    ['6.2.15 byte FF', 'ff'],
    ['6.2.16 lone continuation byte 80', '80'],
    ['6.2.17 lone continuation byte BF', 'bf'],
    ['6.2.18 2-byte sequence cut by ASCII (C3 41)', 'c341'],
    ['6.2.19 3-byte sequence cut by ASCII (E2 82 41)', 'e28241'],
  ];
  for (const [name, bytes] of invalid) {
    test(`${name} -> close 1007`, T, () => closesWith(text(probe(2, undefined, hex(bytes))), 1007));
  }
  test('6.2.20 text truncated at the end inside a 3-byte sequence (E2 82) -> close 1007', T, () =>
    closesWith(text(Buffer.concat([Buffer.from('{"op":"x","id":2,"pad":"'), hex('e282')])), 1007));
  test('6.2.21 text truncated at the end inside a 4-byte sequence (F0 9F 98) -> close 1007', T, () =>
    closesWith(text(Buffer.concat([Buffer.from('{"op":"x","id":2,"pad":"'), hex('f09f98')])), 1007));
  test('6.2.22 invalid byte in a middle fragment -> close 1007 before the final fragment is sent', T, () =>
    closesWith(Buffer.concat([text(Buffer.from('{"op":"x",'), { fin: false }), cont(hex('22ff22'), { fin: false })]), 1007));
  test('6.2.23 invalid byte in the first fragment -> close 1007 before any other fragment', T, () =>
    closesWith(text(Buffer.concat([Buffer.from('{"op":"'), hex('eda080')]), { fin: false }), 1007));
  test('6.2.24 overlong split across fragments (E0 | 80 80) -> close 1007 at the second fragment', T, () =>
    closesWith(Buffer.concat([text(Buffer.from([0x22, 0xe0]), { fin: false }), cont(hex('8080'), { fin: false })]), 1007));
  test('6.2.25 fragmented message ending inside a code point -> close 1007', T, () =>
    closesWith(Buffer.concat([text(Buffer.from('{"op":"x","id":2,"pad":"'), { fin: false }), cont(hex('e282'))]), 1007));
  test('6.2.26 invalid byte early in a large frame -> close 1007 before the rest of the frame is sent', T, () => {
    const body = probe(2, 4000, hex('ff'));
    const f = text(body);
    return closesWith(f.subarray(0, 200), 1007);  // the frame declares 4000 bytes, 192 of them sent
  });
  test('6.2.27 valid message then an invalid one in the same write -> reply, close 1007', T, () =>
    closesWith(Buffer.concat([text(probe(2, undefined, Buffer.from('é'))), text(probe(3, undefined, hex('c0af')))]), 1007, [2]));
  test('6.2.28 invalid UTF-8 before auth -> close 1007', T, async () => {
    const ws = await RawWs.connect(fe.port);
    ws.send(text(hex('7b22ff227d')));
    await ws.expectClose(1007);
  });
  test('6.2.29 invalid UTF-8 in a close reason -> close 1007', T, () => closesWith(close(1000, hex('6f6bff')), 1007));
  test('6.2.30 valid multi-byte close reason -> close 1000 echoed', T, async () => {
    const ws = await open();
    ws.send(close(1000, Buffer.from('bye 😀 é')));
    await ws.expectClose(1000, { reply: false });
  });
});

// ------------------------------------------------------------------------------------------------
describe('group 7: close', () => {
  test('7.1.1 close 1000 -> close 1000 echoed with an empty reason, then TCP closed', T, async () => {
    const ws = await open();
    ws.send(close(1000, 'done'));
    const c = await ws.expectClose(1000, { reply: false });
    assert.deepEqual(c.payload, closeBody(1000));
  });
  test('7.1.2 close without a body -> close 1000', T, async () => {
    const ws = await open();
    ws.send(close(null));
    const c = await ws.expectClose(1000, { reply: false });
    assert.deepEqual(c.payload, closeBody(1000));
  });
  test('7.1.3 close with a 1-byte body -> close 1002', T, () => closesWith(frame(OP.CLOSE, Buffer.from([0x03])), 1002));
  test('7.1.4 close 1000 with a 123-byte reason -> close 1000', T, async () => {
    const ws = await open();
    ws.send(close(1000, 'r'.repeat(123)));
    await ws.expectClose(1000, { reply: false });
  });
  test('7.1.5 close with a 124-byte reason (126-byte payload) -> close 1002', T, () => closesWith(close(1000, 'r'.repeat(124)), 1002));
  test('7.1.6 text after close in the same write is ignored', T, async () => {
    const ws = await open();
    ws.send(Buffer.concat([close(1000), text(probe(2))]));
    await ws.expectClose(1000, { reply: false });
  });
  test('7.1.7 text and ping after close in separate writes are ignored', T, async () => {
    const ws = await open();
    ws.send(close(1000));
    ws.send(text(probe(2)));
    ws.send(ping(Buffer.from('late')));
    await ws.expectClose(1000, { reply: false });
  });
  test('7.1.8 text before close in the same write is answered first', T, async () => {
    const ws = await open();
    ws.send(Buffer.concat([text(probe(2)), close(1000)]));
    assert.equal(await ws.nextText(), probeReply(2));
    await ws.expectClose(1000, { reply: false });
  });
  test('7.1.9 close sent byte by byte -> close echoed', T, async () => {
    const ws = await open();
    await ws.sendChunked(close(1001, 'going away'), 1);
    await ws.expectClose(1001, { reply: false });
  });
  test('7.1.10 unmasked text frame -> close 1002', T, () => closesWith(text(probe(2), { mask: false }), 1002));
  test('7.1.11 unmasked close frame -> close 1002', T, () => closesWith(close(1000, '', { mask: false }), 1002));
  test('7.1.12 unmasked ping -> close 1002, no pong', T, () => closesWith(ping(Buffer.from('x'), { mask: false }), 1002));
  test('7.1.13 unmasked text after a masked one -> reply, close 1002', T, () =>
    closesWith(Buffer.concat([text(probe(2)), text(probe(3), { mask: false })]), 1002, [2]));
  test('7.1.14 close before auth -> close 1000', T, async () => {
    const ws = await RawWs.connect(fe.port);
    ws.send(close(1000));
    await ws.expectClose(1000, { reply: false });
  });
  test('7.1.15 TCP FIN without a close frame -> the server closes TCP', T, async () => {
    const ws = await open();
    ws.socket.end();
    await ws.waitFor(() => (ws.closed ? true : undefined), 3000, () => 'socket not closed');
    assert.equal(ws.frames.length, 0);
  });

  const validCodes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
  validCodes.forEach((code, i) => {
    test(`7.7.${i + 1} close with valid code ${code} -> echoed`, T, async () => {
      const ws = await open();
      ws.send(close(code, 'reason'));
      const c = await ws.expectClose(code, { reply: false });
      assert.deepEqual(c.payload, closeBody(code));
    });
  });
  const invalidCodes = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
  invalidCodes.forEach((code, i) => {
    test(`7.9.${i + 1} close with invalid code ${code} -> close 1002`, T, () => closesWith(close(code), 1002));
  });
});

// ------------------------------------------------------------------------------------------------
describe('group 9: limits', () => {
  test('9.1.1 text message of exactly 65536 bytes (the limit, inclusive) -> reply', T, () => roundTrip(text(probe(2, 65536)), [2], feLimits));
  test('9.1.2 text message of 65537 bytes, header only -> close 1009 before the payload', T, () =>
    closesWith(text(Buffer.alloc(0), { declared: 65537 }).subarray(0, 14), 1009, [], feLimits));
  test('9.1.3 text message of 65537 bytes, fully sent -> close 1009', T, () => closesWith(text(probe(2, 65537)), 1009, [], feLimits));
  test('9.1.4 valid text then a 65537-byte header -> reply, close 1009', T, () =>
    closesWith(Buffer.concat([text(probe(2)), text(Buffer.alloc(0), { declared: 65537 }).subarray(0, 14)]), 1009, [2], feLimits));
  test('9.1.5 64-bit length 2^63 (top bit set) -> close 1002', T, () =>
    closesWith(text(Buffer.alloc(0), { declared: 1n << 63n }).subarray(0, 14), 1002, [], feLimits));
  test('9.1.6 64-bit length 2^63-1 -> close 1009', T, () =>
    closesWith(text(Buffer.alloc(0), { declared: (1n << 63n) - 1n }).subarray(0, 14), 1009, [], feLimits));
  test('9.1.7 64-bit length 2^32 -> close 1009', T, () =>
    closesWith(text(Buffer.alloc(0), { declared: 1n << 32n }).subarray(0, 14), 1009, [], feLimits));
  test('9.1.8 binary frame of 65537 bytes, header only -> close 1009', T, () =>
    closesWith(frame(OP.BINARY, Buffer.alloc(0), { declared: 65537 }).subarray(0, 14), 1009, [], feLimits));
  test('9.1.9 fragmented message of exactly 65536 bytes (2 x 32768) -> reply', T, () =>
    roundTrip(Buffer.concat(fragments(splitInto(probe(2, 65536), 2))), [2], feLimits));
  test('9.1.10 fragmented message reaching 65537 bytes -> close 1009 at the header of the last fragment', T, () => {
    const [a, b] = splitInto(probe(2, 65537), 2);
    return closesWith(Buffer.concat([text(a, { fin: false }), cont(Buffer.alloc(0), { declared: b.length }).subarray(0, 8)]), 1009, [], feLimits);
  });
  test('9.1.11 message in 1024 fragments -> reply', T, () => roundTrip(Buffer.concat(fragments(splitInto(probe(2, 3000), 1024))), [2], feLimits));
  test('9.1.12 message in 1025 fragments -> close 1009', T, () => closesWith(Buffer.concat(fragments(splitInto(probe(2, 3000), 1025))), 1009, [], feLimits));
  test('9.1.13 1024 fragments then a 1025th that is still not final -> close 1009', T, () => {
    const frames = fragments(splitInto(probe(2, 3000), 1025));
    frames[1024] = cont(Buffer.alloc(0), { fin: false });
    return closesWith(Buffer.concat(frames), 1009, [], feLimits);
  });
  test('9.1.14 configured limit 1024 bytes: 1024-byte message -> reply', T, () => roundTrip(text(probe(2, 1024)), [2], feSmall));
  test('9.1.15 configured limit 1024 bytes: 1025-byte message -> close 1009', T, () => closesWith(text(probe(2, 1025)), 1009, [], feSmall));
  test('9.1.16 configured limit 4 fragments: 4 fragments -> reply', T, () => roundTrip(Buffer.concat(fragments(splitInto(probe(2, 100), 4))), [2], feSmall));
  test('9.1.17 configured limit 4 fragments: 5 fragments -> close 1009', T, () => closesWith(Buffer.concat(fragments(splitInto(probe(2, 100), 5))), 1009, [], feSmall));
  test('9.1.18 configured limit 4 fragments: control frames between fragments do not count', T, async () => {
    const ws = await open(feSmall);
    const frames = fragments(splitInto(probe(2, 100), 4));
    ws.send(Buffer.concat([frames[0], ping(), frames[1], ping(), pong(), frames[2], ping(), frames[3]]));
    for (let i = 0; i < 3; i++) assert.equal((await ws.nextFrame()).opcode, OP.PONG);
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
  test('9.1.19 message at the 1024-byte limit in 2 fragments with a 125-byte ping split byte by byte between them', T, async () => {
    const ws = await open(feSmall);
    const [a, b] = fragments(splitInto(probe(2, 1024), 2));
    ws.send(a);
    const payload = randomBytes(125);
    await ws.sendChunked(ping(payload), 1);
    const f = await ws.nextFrame();
    assert.equal(f.opcode, OP.PONG);
    assert.deepEqual(f.payload, payload);
    ws.send(b);
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
  test('9.2.1 1000 requests in one write -> 1000 replies in order', T, async () => {
    const ws = await open(feLimits);
    ws.send(Buffer.concat([...Array(1000).keys()].map((i) => text(probe(i + 2, 100)))));
    for (let i = 0; i < 1000; i++) assert.equal(await ws.nextText(), probeReply(i + 2));
    await ws.expectSilence(50);
    ws.destroy();
  });
  test('9.2.2 1000 requests in 1000 writes -> 1000 replies in order', T, async () => {
    const ws = await open(feLimits);
    for (let i = 0; i < 1000; i++) ws.send(text(probe(i + 2)));
    for (let i = 0; i < 1000; i++) assert.equal(await ws.nextText(), probeReply(i + 2));
    ws.destroy();
  });
  test('9.2.3 65536-byte frame in writes of 1000 bytes -> reply', T, async () => {
    const ws = await open(feLimits);
    await ws.sendChunked(text(probe(2, 65536)), 1000);
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
  test('9.2.4 64 messages of 60000 bytes in a row -> replies in order', T, async () => {
    const ws = await open(feLimits);
    for (let i = 0; i < 64; i++) ws.send(text(probe(i + 2, 60000)));
    for (let i = 0; i < 64; i++) assert.equal(await ws.nextText(5000), probeReply(i + 2));
    ws.destroy();
  });
  test('9.2.5 65536-byte message in 16 fragments sent in writes of 4093 bytes -> reply', T, async () => {
    const ws = await open(feLimits);
    await ws.sendChunked(Buffer.concat(fragments(splitInto(probe(2, 65536), 16))), 4093);
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
});

// ------------------------------------------------------------------------------------------------
describe('group 10: misc (handshake, auth)', () => {
  const upgrade = (port, opts) => upgradeRequest(port, opts).text;

  test('10.1.1 Sec-WebSocket-Version 8 -> 426 with Sec-WebSocket-Version: 13', T, async () => {
    const r = await httpExchange(fe.port, upgrade(fe.port, { headers: { 'Sec-WebSocket-Version': '8' } }));
    assert.equal(r.status, 426);
    assert.equal(r.headers['sec-websocket-version'], '13');
  });
  test('10.1.2 missing Sec-WebSocket-Key -> 400', T, async () => {
    const r = await httpExchange(fe.port, upgrade(fe.port, { headers: { 'Sec-WebSocket-Key': null } }));
    assert.equal(r.status, 400);
  });
  test('10.1.3 Sec-WebSocket-Key not 16 bytes -> 400', T, async () => {
    const r = await httpExchange(fe.port, upgrade(fe.port, { key: randomBytes(8).toString('base64') }));
    assert.equal(r.status, 400);
  });
  test('10.1.4 POST /ws -> 405', T, async () => {
    const r = await httpExchange(fe.port, upgrade(fe.port, { method: 'POST' }));
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, 'GET');
  });
  test('10.1.5 disallowed Origin -> 403', T, async () => {
    const r = await httpExchange(fe.port, upgrade(fe.port, { headers: { Origin: 'http://evil.example' } }));
    assert.equal(r.status, 403);
  });
  test('10.1.6 Origin on another port -> 403', T, async () => {
    const r = await httpExchange(fe.port, upgrade(fe.port, { headers: { Origin: `http://127.0.0.1:${fe.port + 1}` } }));
    assert.equal(r.status, 403);
  });
  test('10.1.7 same-origin Origin -> 101', T, async () => {
    const ws = await open(fe, { headers: { Origin: `http://127.0.0.1:${fe.port}` } });
    ws.destroy();
  });
  test('10.1.8 missing Origin -> 101 (default policy)', T, async () => {
    const ws = await RawWs.connect(fe.port);
    assert.equal(ws.handshake.status, 101);
    ws.destroy();
  });
  test('10.1.9 RFC 6455 sample key -> Sec-WebSocket-Accept s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', T, async () => {
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    assert.equal(acceptKey(key), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    const ws = new RawWs((await import('node:net')).default.connect({ port: fe.port, host: '127.0.0.1', allowHalfOpen: true }));
    ws.socket.write(upgrade(fe.port, { key }));
    const head = await ws.readHead(3000);
    assert.equal(head.status, 101);
    assert.equal(head.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    ws.destroy();
  });
  test('10.1.10 missing Upgrade header -> 426', T, async () => {
    const r = await httpExchange(fe.port, upgrade(fe.port, { headers: { Upgrade: null } }));
    assert.equal(r.status, 426);
    assert.equal(r.headers.upgrade, 'websocket');
  });
  test('10.1.11 Connection header without upgrade -> 400', T, async () => {
    const r = await httpExchange(fe.port, upgrade(fe.port, { headers: { Connection: 'keep-alive' } }));
    assert.equal(r.status, 400);
  });
  test('10.1.12 HTTP/1.0 upgrade -> 400', T, async () => {
    const r = await httpExchange(fe.port, upgrade(fe.port, { version: 'HTTP/1.0' }));
    assert.equal(r.status, 400);
  });
  test('10.1.13 upgrade request sent byte by byte -> 101', T, async () => {
    const ws = await RawWs.connect(fe.port, { byteByByte: true });
    ws.destroy();
  });
  test('10.1.14 permessage-deflate offered -> 101 without Sec-WebSocket-Extensions; RSV1 then -> close 1002', T, async () => {
    const ws = await open(fe, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' } });
    assert.equal(ws.handshake.headers['sec-websocket-extensions'], undefined);
    ws.send(text(probe(2), { rsv: 4 }));
    await ws.expectClose(1002);
  });
  test('10.1.15 subprotocol offered -> not echoed', T, async () => {
    const ws = await open(fe, { headers: { 'Sec-WebSocket-Protocol': 'chat, superchat' } });
    assert.equal(ws.handshake.headers['sec-websocket-protocol'], undefined);
    ws.destroy();
  });
  test('10.1.16 auth frame pipelined behind the upgrade request -> auth ok', T, async () => {
    const auth = text(JSON.stringify({ op: 'auth', id: 1, token: cluster.token('u1', ['room:*']) }));
    const ws = await RawWs.connect(fe.port, { pipelined: auth });
    const reply = await ws.nextJson();
    assert.equal(reply.op, 'ok', JSON.stringify(reply));
    assert.equal(reply.id, 1);
    ws.destroy();
  });
  test('10.1.17 auth, probe and ping pipelined behind the upgrade request -> all answered in order', T, async () => {
    const auth = text(JSON.stringify({ op: 'auth', id: 1, token: cluster.token('u1', ['room:*']) }));
    const ws = await RawWs.connect(fe.port, { pipelined: Buffer.concat([auth, text(probe(2)), ping(Buffer.from('pp'))]) });
    assert.equal((await ws.nextJson()).op, 'ok');
    assert.equal(await ws.nextText(), probeReply(2));
    const f = await ws.nextFrame();
    assert.equal(f.opcode, OP.PONG);
    assert.equal(f.payload.toString(), 'pp');
    ws.destroy();
  });
  test('10.1.18 GET /healthz -> 200 ok', T, async () => {
    const r = await httpExchange(fe.port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${fe.port}\r\n\r\n`);
    assert.equal(r.status, 200);
    assert.equal(r.body.trim(), 'ok');
  });
  test('10.1.19 GET of an unknown path -> 404', T, async () => {
    const r = await httpExchange(fe.port, `GET /nope HTTP/1.1\r\nHost: 127.0.0.1:${fe.port}\r\n\r\n`);
    assert.equal(r.status, 404);
  });
  test('10.1.20 upgrade on an unknown path -> 404', T, async () => {
    const r = await httpExchange(fe.port, upgrade(fe.port, { path: '/other' }));
    assert.equal(r.status, 404);
  });
  test('10.1.21 upgrade request in 2 writes, the second also carrying an auth frame -> auth ok', T, async () => {
    const net = (await import('node:net')).default;
    const ws = new RawWs(net.connect({ port: fe.port, host: '127.0.0.1', allowHalfOpen: true }));
    const { text: req, key } = upgradeRequest(fe.port);
    const auth = text(JSON.stringify({ op: 'auth', id: 1, token: cluster.token('u1', ['room:*']) }));
    ws.socket.write(req.slice(0, 40));
    await new Promise((r) => setTimeout(r, 20));
    ws.socket.write(Buffer.concat([Buffer.from(req.slice(40)), auth, text(probe(2))]));
    const head = await ws.readHead(3000);
    assert.equal(head.status, 101);
    assert.equal(head.headers['sec-websocket-accept'], acceptKey(key));
    const reply = await ws.nextJson();
    assert.equal(reply.op, 'ok', JSON.stringify(reply));
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
  test('10.1.22 Connection: keep-alive, Upgrade (Firefox) -> 101', T, async () => {
    const ws = await open(fe, { headers: { Connection: 'keep-alive, Upgrade' } });
    ws.destroy();
  });
  test('10.1.23 Upgrade: WebSocket in mixed case -> 101', T, async () => {
    const ws = await open(fe, { headers: { Upgrade: 'WebSocket' } });
    ws.destroy();
  });
  test('10.1.24 half an auth frame pipelined behind the upgrade request, the rest later -> auth ok', T, async () => {
    const auth = text(JSON.stringify({ op: 'auth', id: 1, token: cluster.token('u1', ['room:*']) }));
    const ws = await RawWs.connect(fe.port, { pipelined: auth.subarray(0, 5) });
    await ws.expectSilence(30);
    ws.send(auth.subarray(5));
    const reply = await ws.nextJson();
    assert.equal(reply.op, 'ok', JSON.stringify(reply));
    ws.destroy();
  });
  test('10.2.1 no auth within --auth-timeout-ms 300 -> close 4001', T, async () => {
    const ws = await RawWs.connect(feAuth.port);
    const started = Date.now();
    await ws.expectClose(4001);
    assert.ok(Date.now() - started >= 250, 'closed before the auth timeout');
  });
  test('10.2.2 pings do not extend the auth timeout -> close 4001', T, async () => {
    const ws = await RawWs.connect(feAuth.port);
    ws.send(ping());
    assert.equal((await ws.nextFrame()).opcode, OP.PONG);
    await ws.expectClose(4001);
  });
  test('10.2.3 auth in time on the short-timeout frontend -> stays open past the timeout', T, async () => {
    const ws = await open(feAuth);
    await new Promise((r) => setTimeout(r, 450));
    ws.send(text(probe(2)));
    assert.equal(await ws.nextText(), probeReply(2));
    ws.destroy();
  });
  test('10.2.4 bad token signature -> close 4001', T, async () => {
    const ws = await RawWs.connect(fe.port);
    ws.send(text(JSON.stringify({ op: 'auth', id: 1, token: makeToken('x'.repeat(32), { sub: 'u1', ch: [] }) })));
    await ws.expectClose(4001);
  });
  test('10.2.5 garbage token -> close 4001', T, async () => {
    const ws = await RawWs.connect(fe.port);
    ws.send(text(JSON.stringify({ op: 'auth', id: 1, token: 'not.a.jwt' })));
    await ws.expectClose(4001);
  });
  test('10.2.6 expired token -> close 4001', T, async () => {
    const ws = await RawWs.connect(fe.port);
    const past = Math.floor(Date.now() / 1000) - 3600;
    ws.send(text(JSON.stringify({ op: 'auth', id: 1, token: cluster.token('u1', [], { iat: past - 60, exp: past }) })));
    await ws.expectClose(4001);
  });
  test('10.2.7 token with alg none -> close 4001', T, async () => {
    const ws = await RawWs.connect(fe.port);
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    ws.send(text(JSON.stringify({ op: 'auth', id: 1, token: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'u1', exp: now + 3600 })}.` })));
    await ws.expectClose(4001);
  });
  test('10.2.8 first frame is not auth -> close 4001', T, async () => {
    const ws = await RawWs.connect(fe.port);
    ws.send(text(probe(1)));
    await ws.expectClose(4001);
  });
  test('10.2.9 first frame is invalid JSON -> close 4001', T, async () => {
    const ws = await RawWs.connect(fe.port);
    ws.send(text('{"op":'));
    await ws.expectClose(4001);
  });
  test('10.2.10 first frame is binary -> close 1003', T, async () => {
    const ws = await RawWs.connect(fe.port);
    ws.send(frame(OP.BINARY, Buffer.from('{"op":"auth"}')));
    await ws.expectClose(1003);
  });
  test('10.2.11 frames sent after the server closed 4001 are ignored; the client close ends it', T, async () => {
    const ws = await RawWs.connect(fe.port);
    ws.send(text(probe(1)));
    const f = await ws.nextFrame();
    assert.equal(f.opcode, OP.CLOSE);
    assert.equal(f.payload.readUInt16BE(0), 4001);
    ws.send(Buffer.concat([text(JSON.stringify({ op: 'auth', id: 2, token: cluster.token('u1', ['room:*']) })), ping(Buffer.from('z')), close(4001)]));
    await ws.waitFor(() => (ws.ended ? true : undefined), 3000, () => 'the server did not send FIN');
    await ws.expectSilence(100);
    ws.socket.end();
    await ws.waitFor(() => (ws.closed ? true : undefined), 3000, () => 'the connection did not close');
    ws.checkViolations();
    assert.deepEqual(ws.afterClose, []);
  });
  test('10.2.12 auth sent again later (refresh) -> ok with the same id', T, async () => {
    const ws = await open();
    ws.send(text(JSON.stringify({ op: 'auth', id: 7, token: cluster.token('u1', ['room:*']) })));
    const reply = await ws.nextJson();
    assert.equal(reply.op, 'ok', JSON.stringify(reply));
    assert.equal(reply.id, 7);
    assert.equal(reply.user, 'u1');
    ws.destroy();
  });
});
