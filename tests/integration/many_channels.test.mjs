// A user in many channels: one batched `sub` per reconnect (up to 256 channels, answered per
// channel, counted once by the rate limit) and replays paced by the socket, so that coming back
// never trips the rate limit (4008) or the slow-consumer limit (4009). The last case is the issue's
// test: 1,000 users in 200 channels each come back together after a frontend restart, with default
// limits.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, WebSocket, freePort, sleep } from './harness.mjs';
import { WebimClient } from '../../clients/js/webim.js';

// Reads replies of request `id` until `count` arrived; returns them with every msg seen meanwhile.
async function batchReplies(client, id, count, timeoutMs = 10000) {
  const got = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < count) {
    if (Date.now() > deadline) throw new Error(`got ${got.length}/${count} answers to #${id}: ${JSON.stringify(got).slice(0, 400)}`);
    await sleep(10);
    got.splice(0, got.length, ...client.frames.filter((f) => f.id === id));
  }
  return got;
}

// A Client that also keeps every frame in arrival order (replies and msgs interleaved).
async function connectRecording(url) {
  const c = await Client.connect(url);
  c.frames = [];
  c.ws.on('message', (data) => c.frames.push(JSON.parse(data.toString())));
  return c;
}

describe('batched sub', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    // A tight rate limit: a batch of 256 channels is one request.
    fe = await cluster.startFrontend(['--rate-limit', '1', '--rate-burst', '3']);
  });
  after(() => cluster.stopCleanly());

  test('answers each channel by name, its recovered messages right after its answer', async () => {
    const first = await cluster.appRequest({ op: 'pub', ch: 'room:b1', data: 1 });
    await cluster.appRequest({ op: 'pub', ch: 'room:b1', data: 2 });
    await cluster.appRequest({ op: 'pub', ch: 'room:b1', data: 3 });
    const c = await connectRecording(fe.url);
    await c.auth(cluster.token('batcher', ['room:b*']));
    c.ws.send(JSON.stringify({ op: 'sub', id: 7, subs: [
      { ch: 'room:b1', since: { epoch: first.epoch, seq: 1 } },
      { ch: 'room:b2' },
      { ch: 'room:other' },
      { ch: 'bad name!' },
    ] }));
    const answers = await batchReplies(c, 7, 4);
    const byCh = Object.fromEntries(answers.map((a) => [a.ch, a]));
    assert.deepEqual([byCh['room:b1'].op, byCh['room:b1'].seq, byCh['room:b1'].recovered], ['ok', 3, true]);
    assert.deepEqual([byCh['room:b2'].op, byCh['room:b2'].seq], ['ok', 0]);
    assert.deepEqual([byCh['room:other'].op, byCh['room:other'].code], ['err', 'forbidden']);
    assert.deepEqual([byCh['bad name!'].op, byCh['bad name!'].code], ['err', 'bad_request']);
    // room:b1's answer, then seq 2 and 3 of room:b1, in order.
    await sleep(100);
    const at = c.frames.findIndex((f) => f.id === 7 && f.ch === 'room:b1');
    const after1 = c.frames.slice(at + 1).filter((f) => f.op === 'msg' && f.ch === 'room:b1').map((f) => f.seq);
    assert.deepEqual(after1, [2, 3]);
    assert.equal(c.frames.slice(0, at).filter((f) => f.op === 'msg').length, 0, 'nothing of room:b1 before its answer');
    // Live afterwards, on every channel of the batch.
    await cluster.appRequest({ op: 'pub', ch: 'room:b2', data: 'live' });
    await c.waitForMsgs(3, (m) => m.ch === 'room:b2' || m.ch === 'room:b1');
    await c.close();
  });

  test('256 channels are one request for the rate limit; 257 are too_large', async () => {
    const c = await connectRecording(fe.url);
    await c.auth(cluster.token('many', ['room:*']));
    const subs = Array.from({ length: 256 }, (_, i) => ({ ch: `room:m${i}` }));
    c.ws.send(JSON.stringify({ op: 'sub', id: 2, subs }));
    const answers = await batchReplies(c, 2, 256);
    assert.equal(answers.filter((a) => a.op === 'ok').length, 256);
    assert.equal(new Set(answers.map((a) => a.ch)).size, 256);
    c.ws.send(JSON.stringify({ op: 'sub', id: 3, subs: [...subs, { ch: 'room:one-more' }] }));
    const [tooMany] = await batchReplies(c, 3, 1);
    assert.deepEqual([tooMany.op, tooMany.code], ['err', 'too_large']);
    assert.equal(tooMany.ch, undefined, 'the whole request is refused');
    assert.equal(c.ws.readyState, WebSocket.OPEN, 'not closed 4008');
    await c.close();
  });
});

describe('replays paced by the socket', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    // A small backlog limit: 100 channels of ~100 KB to replay each would trip it at once, unpaced.
    // (No rate limit: the publisher pipelines 100 publishes; the replayer's sub is one request.)
    fe = await cluster.startFrontend(['--max-backlog-bytes', '262144', '--rate-limit', '100000', '--rate-burst', '100000']);
  });
  after(() => cluster.stopCleanly());

  test('100 channels with 100 KB missed each come back in order, without 4009', async () => {
    const pad = 'p'.repeat(10000);
    const starts = {};
    // Another user publishes 10 messages of 10 KB to each of 100 channels (pipelined).
    const publisher = await Client.connect(fe.url);
    await publisher.auth(cluster.token('publisher', ['room:*']));
    for (let i = 0; i < 10; i++) {
      const replies = await Promise.all(Array.from({ length: 100 }, (_, ch) =>
        publisher.request('pub', { ch: `room:r${ch}`, cid: `r${ch}-${i}`, data: { i, pad } }, 20000)));
      replies.forEach((r, ch) => {
        assert.equal(r.op, 'ok', JSON.stringify(r));
        if (i === 0) starts[`room:r${ch}`] = r;
      });
    }
    await publisher.close();
    const c = await connectRecording(fe.url);
    await c.auth(cluster.token('replayer', ['room:*']));
    const subs = Object.entries(starts).map(([ch, s]) => ({ ch, since: { epoch: s.epoch, seq: 0 } }));
    c.ws.send(JSON.stringify({ op: 'sub', id: 5, subs }));
    const answers = await batchReplies(c, 5, 100, 30000);
    assert.equal(answers.filter((a) => a.op === 'ok' && a.recovered === true).length, 100, JSON.stringify(answers.find((a) => a.recovered !== true)));
    await c.waitForMsgs(1000, () => true, 30000);
    for (const ch of Object.keys(starts)) {
      const seqs = c.msgs.filter((m) => m.ch === ch).map((m) => m.seq);
      assert.deepEqual(seqs, Array.from({ length: 10 }, (_, i) => i + 1), `${ch} once each, in order`);
    }
    assert.equal(c.ws.readyState, WebSocket.OPEN, 'not closed as too slow');
    await c.close();
  });
});

describe('1,000 users in 200 channels each, after a frontend restart (default limits)', () => {
  const USERS = 1000;
  const CHANNELS = 200;
  let cluster;
  let port;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    port = await freePort();
    await cluster.startFrontend(['--listen', `127.0.0.1:${port}`, '--id', 'restarted']);
  });
  after(() => cluster.stopCleanly());

  test('p50 back within 2 s, all within 5 s, no 4008 or 4009', { timeout: 150000 }, async () => {
    const channels = Array.from({ length: CHANNELS }, (_, i) => `room:c${i}`);
    for (const ch of channels) await cluster.appRequest({ op: 'pub', ch, data: 'before' });
    const url = `ws://127.0.0.1:${port}/ws`;
    const closeCodes = {};
    const clients = [];
    for (let u = 0; u < USERS; u++) {
      const token = cluster.token(`u${u}`, ['room:c*']);
      const client = new WebimClient({ url, token, WebSocket, transports: ['websocket'] });
      const state = { client, resumed: new Set(), subscribed: 0, backAt: null };
      client.on('recovered', ({ ch }) => {
        state.resumed.add(ch);
        if (state.resumed.size === CHANNELS && state.backAt === null) state.backAt = Date.now();
      });
      client.on('subscribed', () => { state.subscribed++; });
      client.on('close', () => {});
      const raw = client.onClose.bind(client);
      client.onClose = (ev) => { closeCodes[ev.code] = (closeCodes[ev.code] ?? 0) + 1; return raw(ev); };
      clients.push(state);
    }
    // Connect and subscribe everyone (in groups, so the ramp does not look like a flood).
    for (let i = 0; i < USERS; i += 100) {
      await Promise.all(clients.slice(i, i + 100).map(async (s) => {
        await s.client.connect();
        await Promise.all(channels.map((ch) => s.client.subscribe(ch, () => {}).ready));
      }));
    }
    assert.equal(clients.reduce((n, s) => n + s.subscribed, 0), USERS * CHANNELS);

    const fe = cluster.frontends[0];
    const stoppedAt = Date.now();
    await fe.stop();
    cluster.frontends.length = 0;
    await cluster.startFrontend(['--listen', `127.0.0.1:${port}`, '--id', 'restarted']);
    const deadline = Date.now() + 20000;
    while (clients.some((s) => s.backAt === null) && Date.now() < deadline) await sleep(100);
    const times = clients.map((s) => (s.backAt === null ? Infinity : s.backAt - stoppedAt)).sort((a, b) => a - b);
    const p50 = times[Math.floor(times.length / 2)];
    const max = times[times.length - 1];
    console.log(`# back after the restart: p50 ${p50} ms, p99 ${times[Math.floor(times.length * 0.99)]} ms, ` +
      `max ${max} ms; closes ${JSON.stringify(closeCodes)}`);
    assert.ok(Number.isFinite(max), `${times.filter((t) => !Number.isFinite(t)).length} clients not back in 20 s`);
    assert.equal(closeCodes[4008] ?? 0, 0, 'rate limited');
    assert.equal(closeCodes[4009] ?? 0, 0, 'too slow');
    assert.ok(p50 <= 2000, `p50 ${p50} ms`);
    assert.ok(max <= 5000, `max ${max} ms`);
    // Live again everywhere: one message per channel reaches every user once.
    const got = new Map();
    for (const s of clients) {
      for (const ch of channels) s.client.channels.get(ch).handlers.add((m) => got.set(`${s.client.user}/${ch}/${m.seq}`, (got.get(`${s.client.user}/${ch}/${m.seq}`) ?? 0) + 1));
    }
    for (const ch of channels) await cluster.appRequest({ op: 'pub', ch, data: 'after' });
    const want = USERS * CHANNELS;
    const until = Date.now() + 20000;
    while (got.size < want && Date.now() < until) await sleep(100);
    assert.equal(got.size, want);
    assert.ok([...got.values()].every((n) => n === 1));
    for (const s of clients) s.client.close();
  });
});
