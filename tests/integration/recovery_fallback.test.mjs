// Recovery on `sub` with `since` (docs/protocol.md section 1) and the HTTP fallback (section 2):
// POST /session, GET /events as Server-Sent Events and as long-poll, POST /cmd.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, sleep } from './harness.mjs';

async function publishN(client, ch, n, prefix) {
  const acks = [];
  for (let i = 0; i < n; i++) acks.push(await client.request('pub', { ch, data: { i }, cid: `${prefix}-${i}` }));
  for (const a of acks) assert.equal(a.op, 'ok', JSON.stringify(a));
  return acks;
}

// Reads Server-Sent Events from a fetch() response body: [{id, data}].
class EventReader {
  constructor(response) {
    this.events = [];
    this.buffer = '';
    this.done = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of response.body) {
        this.buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = this.buffer.indexOf('\n\n')) >= 0) {
          const block = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          const event = {};
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) event.id = line.slice(4);
            if (line.startsWith('data: ')) event.data = JSON.parse(line.slice(6));
          }
          if (event.data) this.events.push(event);
        }
      }
    })().catch(() => {});
  }

  async waitFor(count, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < count) {
      if (Date.now() > deadline) throw new Error(`got ${this.events.length}/${count} events`);
      await sleep(20);
    }
    return this.events.slice(0, count);
  }
}

describe('recovery and the HTTP fallback', () => {
  let cluster;
  let fe1;
  let fe2;
  let writer;
  let base;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe1 = await cluster.startFrontend(['--rate-limit', '1000', '--rate-burst', '1000']);
    fe2 = await cluster.startFrontend(['--recovery-max-messages', '3', '--poll-timeout-ms', '1500']);
    base = `http://127.0.0.1:${fe2.port}`;
    writer = await Client.connect(fe1.url);
    await writer.auth(cluster.token('writer', ['room:*']));
  });

  after(async () => {
    await writer.close();
    const results = await cluster.stop();
    for (const [name, r] of Object.entries(results)) {
      assert.deepEqual(r, { code: 0, signal: null }, `${name} did not exit cleanly:\n${cluster.logs()}`);
    }
  });

  test('sub with since recovers every missed message in order, then live ones', async () => {
    const acks = await publishN(writer, 'room:rec', 5, 'rec');
    const c = await Client.connect(fe1.url);
    await c.auth(cluster.token('r1', ['room:rec']));
    const ok = await c.request('sub', { ch: 'room:rec', since: { epoch: acks[0].epoch, seq: acks[1].seq } });
    assert.deepEqual([ok.op, ok.recovered, ok.seq, ok.epoch], ['ok', true, acks[4].seq, acks[0].epoch]);
    const missed = await c.waitForMsgs(3);
    assert.deepEqual(missed.map((m) => m.seq), [acks[2].seq, acks[3].seq, acks[4].seq]);
    const [live] = await publishN(writer, 'room:rec', 1, 'rec-live');
    const all = await c.waitForMsgs(4);
    assert.deepEqual(all.map((m) => m.seq), [acks[2].seq, acks[3].seq, acks[4].seq, live.seq]);
    await sleep(100);
    assert.equal(c.msgs.length, 4, 'nothing twice');
    // Already up to date: recovered with nothing to send.
    const c2 = await Client.connect(fe1.url);
    await c2.auth(cluster.token('r2', ['room:rec']));
    const ok2 = await c2.request('sub', { ch: 'room:rec', since: { epoch: live.epoch, seq: live.seq } });
    assert.deepEqual([ok2.recovered, ok2.seq], [true, live.seq]);
    await c.close();
    await c2.close();
  });

  test('another epoch or a window overflow answers recovered:false and sends nothing', async () => {
    const acks = await publishN(writer, 'room:win', 6, 'win');
    const c = await Client.connect(fe2.url);  // recovery window: 3 messages
    await c.auth(cluster.token('r3', ['room:win']));
    const tooFar = await c.request('sub', { ch: 'room:win', since: { epoch: acks[0].epoch, seq: acks[0].seq } });
    assert.deepEqual([tooFar.op, tooFar.recovered], ['ok', false]);
    const d = await Client.connect(fe2.url);
    await d.auth(cluster.token('r4', ['room:win']));
    const otherEpoch = await d.request('sub', { ch: 'room:win', since: { epoch: '0123456789abcdef', seq: 1 } });
    assert.deepEqual([otherEpoch.recovered, otherEpoch.seq], [false, acks[5].seq]);
    const e = await Client.connect(fe2.url);
    await e.auth(cluster.token('r5', ['room:win']));
    const within = await e.request('sub', { ch: 'room:win', since: { epoch: acks[0].epoch, seq: acks[2].seq } });
    assert.equal(within.recovered, true);
    assert.deepEqual((await e.waitForMsgs(3)).map((m) => m.seq), [acks[3].seq, acks[4].seq, acks[5].seq]);
    await sleep(100);
    assert.equal(c.msgs.length + d.msgs.length, 0);
    for (const x of [c, d, e]) await x.close();
  });

  async function session(sub, ch, origin) {
    const res = await fetch(`${base}/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(origin ? { Origin: origin } : {}) },
      body: JSON.stringify({ token: cluster.token(sub, ch) }),
    });
    return { status: res.status, body: await res.json(), headers: res.headers };
  }

  test('POST /session trades a token for a sid; a bad token gets 401', async () => {
    const s = await session('h1', ['room:*']);
    assert.equal(s.status, 200);
    assert.equal(s.body.user, 'h1');
    assert.match(s.body.sid, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const bad = await fetch(`${base}/session`, { method: 'POST', body: JSON.stringify({ token: 'x.y.z' }) });
    assert.equal(bad.status, 401);
  });

  test('SSE: events carry ch:epoch:seq ids and Last-Event-ID resumes without a gap', async () => {
    const { body: { sid } } = await session('h2', ['room:sse']);
    const acks = await publishN(writer, 'room:sse', 2, 'sse-a');
    const since = `room:sse:${acks[1].epoch}:${acks[1].seq}`;
    const res = await fetch(`${base}/events?sid=${sid}&ch=room:sse&since=${since}`, {
      headers: { Accept: 'text/event-stream' },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /text\/event-stream/);
    const reader = new EventReader(res);
    await sleep(200);
    const more = await publishN(writer, 'room:sse', 2, 'sse-b');
    const events = await reader.waitFor(2);
    assert.deepEqual(events.map((e) => e.data.seq), [more[0].seq, more[1].seq]);
    assert.equal(events[0].id, `room:sse:${more[0].epoch}:${more[0].seq}`);
    assert.equal(events[0].data.from, 'writer');

    // The browser reconnects with Last-Event-ID after missing two messages.
    const missed = await publishN(writer, 'room:sse', 2, 'sse-c');
    const resumed = await fetch(`${base}/events?sid=${sid}&ch=room:sse`, {
      headers: { Accept: 'text/event-stream', 'Last-Event-ID': events[1].id },
    });
    const reader2 = new EventReader(resumed);
    const again = await reader2.waitFor(2);
    assert.deepEqual(again.map((e) => e.data.seq), [missed[0].seq, missed[1].seq]);
    res.body.cancel().catch(() => {});
    resumed.body.cancel().catch(() => {});
  });

  test('long-poll answers what was missed at once, else the next message, else [] at the timeout', async () => {
    const { body: { sid } } = await session('h3', ['room:lp']);
    const acks = await publishN(writer, 'room:lp', 3, 'lp');
    const missed = await fetch(`${base}/events?sid=${sid}&ch=room:lp&since=room:lp:${acks[0].epoch}:${acks[0].seq}`);
    assert.equal(missed.status, 200);
    assert.deepEqual((await missed.json()).map((m) => m.seq), [acks[1].seq, acks[2].seq]);

    const waiting = fetch(`${base}/events?sid=${sid}&ch=room:lp&since=room:lp:${acks[2].epoch}:${acks[2].seq}`);
    await sleep(300);
    const [next] = await publishN(writer, 'room:lp', 1, 'lp-next');
    const answer = await (await waiting).json();
    assert.deepEqual(answer.map((m) => m.seq), [next.seq]);

    const t0 = Date.now();
    const idle = await fetch(`${base}/events?sid=${sid}&ch=room:lp&since=room:lp:${next.epoch}:${next.seq}`);
    assert.deepEqual(await idle.json(), []);
    assert.ok(Date.now() - t0 >= 1000, 'held until the poll timeout');
  });

  test('POST /cmd runs one pub or hist with the sid; grants and sids are checked', async () => {
    const { body: { sid } } = await session('h4', ['room:cmd']);
    const pub = await fetch(`${base}/cmd?sid=${sid}`, {
      method: 'POST',
      body: JSON.stringify({ op: 'pub', id: 7, ch: 'room:cmd', data: { via: 'cmd' }, cid: 'cmd-1' }),
    });
    const ack = await pub.json();
    assert.deepEqual([pub.status, ack.op, ack.id], [200, 'ok', 7]);
    const hist = await (await fetch(`${base}/cmd?sid=${sid}`, {
      method: 'POST',
      body: JSON.stringify({ op: 'hist', id: 8, ch: 'room:cmd', after: 0, limit: 10 }),
    })).json();
    assert.deepEqual(hist.msgs.map((m) => [m.seq, m.from, m.data.via]), [[ack.seq, 'h4', 'cmd']]);
    const denied = await (await fetch(`${base}/cmd?sid=${sid}`, {
      method: 'POST', body: JSON.stringify({ op: 'pub', id: 9, ch: 'room:other', data: 1, cid: 'c2' }),
    })).json();
    assert.equal(denied.code, 'forbidden');
    const sub = await (await fetch(`${base}/cmd?sid=${sid}`, {
      method: 'POST', body: JSON.stringify({ op: 'sub', id: 10, ch: 'room:cmd' }),
    })).json();
    assert.equal(sub.code, 'bad_request');
    const noSid = await fetch(`${base}/cmd?sid=forged.sid.value`, { method: 'POST', body: '{}' });
    assert.equal(noSid.status, 401);
    const noGrant = await fetch(`${base}/events?sid=${sid}&ch=room:secret`);
    assert.equal(noGrant.status, 403);
  });

  test('CORS: allowed origins get their headers and a preflight; others get 403', async () => {
    const own = `http://127.0.0.1:${fe2.port}`;
    const s = await session('h5', ['room:*'], own);
    assert.equal(s.status, 200);
    assert.equal(s.headers.get('access-control-allow-origin'), own);
    const preflight = await fetch(`${base}/cmd`, { method: 'OPTIONS', headers: { Origin: own } });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-methods'), /POST/);
    const evil = await session('h6', ['room:*'], 'http://evil.example');
    assert.equal(evil.status, 403);
  });
});
