// Catch-up reads that fail: the hub's history reads answer `unavailable` for a while, as they do
// while its store recovers (PostgreSQL down or reconnecting; RocksDB undoing a batch whose WAL sync
// failed). Here the failpoint hub.history_unavailable=N fails the next N reads of frontends. A
// subscriber that must read history then (a `sub` with an old `since`, an event stream or a
// long-poll resuming, a gap in the hub's stream) still gets every message exactly once, in order,
// counted on the wire: the frontend tries such a read again with backoff (within hub_timeout_ms),
// and the JS client tries its own history reads again when the frontend gave up.
// (docs/architecture.md "Joining a channel" and "Gap filling")
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { Client, Cluster, WebSocket, httpGet, sleep, until } from './harness.mjs';
import { WebimClient } from '../../clients/js/webim.js';

const range = (first, last) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

function metric(body, name) {
  const line = body.split('\n').find((l) => l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : 0;
}

// Publishes `n` messages on `ch` through a WebSocket (no history read); the acks.
async function publishN(writer, ch, n, prefix) {
  const acks = await Promise.all(range(1, n).map((i) =>
    writer.request('pub', { ch, data: { i, pad: 'x'.repeat(100) }, cid: `${prefix}-${i}` }, 30000)));
  for (const a of acks) assert.equal(a.op, 'ok', JSON.stringify(a));
  return acks.sort((a, b) => a.seq - b.seq);
}

// Server-Sent Events from a fetch() response: the `data` objects.
function readEvents(response) {
  const events = [];
  const done = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer.slice(0, end).split('\n').find((l) => l.startsWith('data: '));
        buffer = buffer.slice(end + 2);
        if (data) events.push(JSON.parse(data.slice(6)));
      }
    }
  })().catch(() => {});
  return { events, done };
}

describe('catch-up reads while the hub cannot read history', { timeout: 150000 }, () => {
  const clusters = [];
  const closers = [];
  after(async () => {
    for (const close of closers) await close();
    for (const c of clusters) await c.stopCleanly();
  });

  // A hub whose next `failures` history reads for frontends answer `unavailable`, one frontend, and
  // a writer on it.
  async function setUp(failures, { hubArgs = [], frontendArgs = [] } = {}) {
    const cluster = new Cluster();
    clusters.push(cluster);
    await cluster.startHubWith(`hub.history_unavailable=${failures}`, hubArgs);
    const fe = await cluster.startFrontend(['--rate-limit', '100000', '--rate-burst', '100000', ...frontendArgs]);
    const writer = await Client.connect(fe.url);
    await writer.auth(cluster.token('writer', ['room:*']));
    closers.push(() => writer.close());
    return { cluster, fe, writer };
  }

  // The failpoint fired: the frontend tried its reads again (only a failed read is retried).
  async function assertRetried(fe, atLeast) {
    const retries = metric((await httpGet(fe.port, '/metrics')).body, 'webim_catch_up_read_retries_total');
    assert.ok(retries >= atLeast, `the frontend retried its reads (${retries} retries)`);
  }

  test('WebSocket: a sub with an old since is recovered (recovered:true), every missed message once', async () => {
    const { cluster, fe, writer } = await setUp(3);
    const acks = await publishN(writer, 'room:ws', 30, 'ws');
    const reader = await Client.connect(fe.url);
    closers.push(() => reader.close());
    await reader.auth(cluster.token('reader', ['room:ws']));
    const ok = await reader.request('sub', { ch: 'room:ws', since: { epoch: acks[0].epoch, seq: 5 } }, 10000);
    assert.deepEqual([ok.op, ok.recovered, ok.seq], ['ok', true, 30], JSON.stringify(ok));
    const live = await publishN(writer, 'room:ws', 3, 'ws-live');
    const got = await reader.waitForMsgs(28, () => true, 10000);
    await sleep(200);
    assert.deepEqual(reader.msgs.map((m) => `${m.op}:${m.seq}`), range(6, live[2].seq).map((s) => `msg:${s}`));
    await assertRetried(fe, 3);
    assert.equal(got.length, 28);
  });

  test('SSE: an event stream resuming from since gets every missed message once, no resync', async () => {
    const { cluster, fe, writer } = await setUp(3);
    const acks = await publishN(writer, 'room:sse', 30, 'sse');
    const base = `http://127.0.0.1:${fe.port}`;
    const session = await (await fetch(`${base}/session`, {
      method: 'POST', body: JSON.stringify({ token: cluster.token('sse-reader', ['room:sse']) }),
    })).json();
    const aborter = new AbortController();
    closers.push(() => aborter.abort());
    const res = await fetch(`${base}/events?sid=${session.sid}&ch=room:sse&since=room:sse:${acks[0].epoch}:5`, {
      headers: { Accept: 'text/event-stream' }, signal: aborter.signal,
    });
    assert.equal(res.status, 200);
    const stream = readEvents(res);
    await until(() => stream.events.length >= 25, 'the missed messages', 10000);
    const live = await publishN(writer, 'room:sse', 3, 'sse-live');
    await until(() => stream.events.length >= 28, 'the live messages', 10000);
    await sleep(200);
    assert.deepEqual(stream.events.map((e) => `${e.op}:${e.seq}`), range(6, live[2].seq).map((s) => `msg:${s}`));
    await assertRetried(fe, 3);
  });

  test('long-poll: a poll resuming from since is answered with every missed message, no resync', async () => {
    const { cluster, fe, writer } = await setUp(3, { frontendArgs: ['--poll-timeout-ms', '2000'] });
    const acks = await publishN(writer, 'room:lp', 30, 'lp');
    const base = `http://127.0.0.1:${fe.port}`;
    const session = await (await fetch(`${base}/session`, {
      method: 'POST', body: JSON.stringify({ token: cluster.token('lp-reader', ['room:lp']) }),
    })).json();
    const seen = [];
    let position = 5;
    while (position < 30) {
      const res = await fetch(`${base}/events?sid=${session.sid}&ch=room:lp&since=room:lp:${acks[0].epoch}:${position}`);
      assert.equal(res.status, 200);
      const answer = await res.json();
      assert.ok(answer.length > 0, 'a poll behind the channel is answered with what it missed');
      for (const m of answer) seen.push(`${m.op}:${m.seq}`);
      if (answer.at(-1).op !== 'msg') break;
      position = answer.at(-1).seq;
    }
    assert.deepEqual(seen, range(6, 30).map((s) => `msg:${s}`));
    await assertRetried(fe, 3);
  });

  test('WebSocket: holes in the hub\'s stream are filled while reads fail, no resync', async () => {
    // Publish HWM 20: a burst loses messages on the way to the frontend, which fills the holes.
    // A generous backlog: this is about holes, not slow consumers (the fill delivers in bursts).
    const { cluster, fe, writer } = await setUp(4, {
      hubArgs: ['--pub-hwm', '20', '--sync-interval-ms', '300'], frontendArgs: ['--max-backlog-bytes', '67108864'],
    });
    const reader = await Client.connect(fe.url);
    closers.push(() => reader.close());
    await reader.auth(cluster.token('gap-reader', ['room:gap']));
    assert.equal((await reader.request('sub', { ch: 'room:gap' })).op, 'ok');
    const count = 800;
    const pad = 'p'.repeat(2000);
    const acks = await Promise.all(range(1, count).map((i) =>
      writer.request('pub', { ch: 'room:gap', data: { i, pad }, cid: `g${i}` }, 30000)));
    for (const a of acks) assert.equal(a.op, 'ok');
    await reader.waitForMsgs(count, () => true, 30000).catch(() => {});
    const closed = await Promise.race([reader.closed, sleep(0)]);
    assert.equal(closed, undefined, `the reader stays connected: ${JSON.stringify(closed)}`);
    await sleep(500);
    assert.equal(reader.msgs.filter((m) => m.op === 'resync').length, 0, 'no resync');
    const seqs = reader.msgs.map((m) => m.seq);
    const missing = range(1, count).filter((s) => !seqs.includes(s));
    assert.deepEqual(seqs, range(1, count), `every message once, in order (${missing.length} missing from ${missing[0]})`);
    const body = (await httpGet(fe.port, '/metrics')).body;
    assert.ok(metric(body, 'webim_gaps_total') > 0, 'the HWM dropped messages and the frontend filled the holes');
    await assertRetried(fe, 1);
  });

  // The frontend's retries are bounded (hub_timeout_ms, here 600 ms): reads that fail longer end
  // them (recovered:false, a resync on the fallback), and then the JS client reads history itself,
  // trying again while it gets `unavailable`, until it has caught up.
  for (const transport of ['websocket', 'sse', 'longpoll']) {
    test(`JS client over ${transport}: catches up from since after the frontend gave up`, async () => {
      const { cluster, fe, writer } = await setUp(25, { frontendArgs: ['--hub-timeout-ms', '600'] });
      const acks = await publishN(writer, 'room:js', 30, 'js');
      const client = new WebimClient({
        url: fe.url, WebSocket, token: cluster.token(`js-${transport}`, ['room:js']), transports: [transport],
        backoff: { baseMs: 50, maxMs: 400, stableMs: 2000, restartMs: 100 }, requestTimeoutMs: 3000,
      });
      closers.push(() => client.close());
      const errors = [];
      client.on('error', (e) => errors.push(e));
      const recoveries = [];
      client.on('recovered', (r) => recoveries.push(r));
      const seen = [];
      client.subscribe('room:js', (m) => seen.push(m.seq), { since: { epoch: acks[0].epoch, seq: 5 } });
      await client.connect();
      await until(() => seen.length >= 25, `the missed messages (got ${seen.length})`, 20000);
      const live = await publishN(writer, 'room:js', 3, 'js-live');
      await until(() => seen.length >= 28, 'the live messages', 10000);
      await sleep(300);
      assert.deepEqual(seen, range(6, live[2].seq), 'every message once, in order');
      const retries = metric((await httpGet(fe.port, '/metrics')).body, 'webim_catch_up_read_retries_total');
      assert.ok(retries >= 1, 'the frontend tried again before it gave up');
      assert.deepEqual(errors.map((e) => e.code), [], 'no error reached the application');
      // The frontend gave up (recovered:false, or the fallback's resync; the fallback's transport
      // answers a resumed sub at once first): the client filled the gap itself.
      const filled = recoveries.filter((r) => !r.server).map((r) => [r.recovered, r.filled]);
      assert.deepEqual(filled, [[true, 25]], JSON.stringify(recoveries));
    });
  }
});
