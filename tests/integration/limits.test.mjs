// One memory policy for every stream kind, and the bounds that are not per connection: an event
// stream that is not read ends (backlog limit, stalled write) instead of holding everything; a
// long-poll answer holds at most max_backlog_bytes; connections per user and per client address
// (behind a trusted proxy, X-Forwarded-For) are capped; POST /cmd shares one rate limit per user.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, WebSocket, httpGet, sleep } from './harness.mjs';

const rssKb = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
const metric = (body, name) => body.split('\n').filter((l) => l.startsWith(`${name}{`)).reduce((a, l) => a + Number(l.split(' ').pop()), 0);

async function session(fe, cluster, user, ch) {
  const res = await fetch(`http://127.0.0.1:${fe.port}/session`, { method: 'POST', body: JSON.stringify({ token: cluster.token(user, ch) }) });
  assert.equal(res.status, 200);
  return (await res.json()).sid;
}

// A GET /events that never reads what it is sent (its receive buffer kept small).
function stalledStream(port, path) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', onread: undefined });
    socket.on('error', () => {});
    socket.once('connect', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`);
      socket.once('data', () => {
        socket.pause();  // read the head, then nothing more
        resolve(socket);
      });
    });
    socket.once('close', () => resolve(socket));
    setTimeout(() => reject(new Error('no answer to GET /events')), 5000);
  });
}

async function publishMany(publisher, ch, count, bytes) {
  const pad = 'x'.repeat(bytes);
  for (let i = 0; i < count; i += 50) {
    const batch = Array.from({ length: Math.min(50, count - i) }, (_, k) =>
      publisher.request('pub', { ch, cid: `${ch}-${i + k}`, data: { n: i + k, pad } }, 20000));
    for (const r of await Promise.all(batch)) assert.equal(r.op, 'ok', JSON.stringify(r).slice(0, 200));
  }
}

describe('event streams that are not read', () => {
  let cluster;
  let fe;
  let publisher;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe = await cluster.startFrontend(['--max-backlog-bytes', '262144', '--write-timeout-ms', '1500',
      '--rate-limit', '100000', '--rate-burst', '100000']);
    publisher = await Client.connect(fe.url);
    await publisher.auth(cluster.token('pusher', ['room:*']));
  });
  after(async () => {
    await publisher.close();
    await cluster.stopCleanly();
  });

  test('an SSE stream over the backlog limit ends; the frontend does not keep what it was sent', async () => {
    const sid = await session(fe, cluster, 'sleeper', ['room:flood']);
    const before = rssKb(fe.child.pid);
    const socket = await stalledStream(fe.port, `/events?sid=${sid}&ch=room:flood`);
    await sleep(300);  // joined
    await publishMany(publisher, 'room:flood', 400, 50000);  // 20 MB to a reader that reads nothing
    await sleep(500);
    const grown = (rssKb(fe.child.pid) - before) / 1024;
    const metrics = (await httpGet(fe.port, '/metrics')).body;
    assert.ok(metric(metrics, 'webim_streams_too_slow_total') >= 1, 'the stream was ended');
    // Under ASan freed memory stays in its quarantine: the size says nothing there.
    if (!process.env.WEBIM_SANITIZED) assert.ok(grown < 12, `the frontend grew by ${grown.toFixed(1)} MB for one unread stream`);
    socket.destroy();
  });

  test('an SSE stream whose writes stall ends after write_timeout_ms', async () => {
    // A backlog limit far above what is sent: only the stalled write can end this stream.
    const roomy = await cluster.startFrontend(['--max-backlog-bytes', '67108864', '--write-timeout-ms', '1000']);
    const sid = await session(roomy, cluster, 'staller', ['room:trickle']);
    const socket = await stalledStream(roomy.port, `/events?sid=${sid}&ch=room:trickle`);
    await sleep(300);
    await publishMany(publisher, 'room:trickle', 200, 50000);  // 10 MB: the kernel's buffers fill, the rest waits
    let ended = false;
    socket.once('close', () => { ended = true; });
    const tooSlow = async () => metric((await httpGet(roomy.port, '/metrics')).body, 'webim_streams_too_slow_total');
    for (let i = 0; i < 60 && (await tooSlow()) === 0; i++) await sleep(100);
    assert.equal(await tooSlow(), 1, 'ended as too slow');
    socket.resume();
    for (let i = 0; i < 50 && !ended; i++) await sleep(100);
    assert.ok(ended, 'the connection is closed');
  });

  test('a long-poll answer holds at most max_backlog_bytes; the next polls get the rest, once each', async () => {
    const first = await publisher.request('pub', { ch: 'room:lp', cid: 'lp-0', data: { n: 0 } });
    await publishMany(publisher, 'room:lp', 60, 10000);  // 600 KB after the first
    const sid = await session(fe, cluster, 'poller', ['room:lp']);
    const seen = [];
    let since = `room:lp:${first.epoch}:${first.seq}`;
    for (let polls = 0; polls < 20 && seen.length < 60; polls++) {
      const res = await fetch(`http://127.0.0.1:${fe.port}/events?sid=${sid}&ch=room:lp&since=${since}`);
      const body = await res.text();
      assert.ok(body.length <= 262144 + 11000, `an answer of ${body.length} bytes`);
      const msgs = JSON.parse(body).filter((m) => m.op === 'msg');
      seen.push(...msgs.map((m) => m.seq));
      if (msgs.length) since = `room:lp:${first.epoch}:${msgs[msgs.length - 1].seq}`;
    }
    assert.deepEqual(seen, Array.from({ length: 60 }, (_, i) => first.seq + 1 + i));
  });
});

describe('connections per user and per address', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe = await cluster.startFrontend(['--max-connections-per-user', '3', '--max-connections-per-address', '4',
      '--trusted-proxies', '127.0.0.1', '--rate-limit', '5', '--rate-burst', '10']);
  });
  after(() => cluster.stopCleanly());

  const xff = (address) => ({ headers: { 'X-Forwarded-For': address } });

  test('a user has at most max_connections_per_user WebSockets and event streams', async () => {
    const token = cluster.token('capped', ['room:cap']);
    const open = [];
    for (let i = 0; i < 3; i++) {
      const c = await Client.connect(fe.url, xff(`198.51.100.${10 + i}`));
      await c.auth(token);
      open.push(c);
    }
    const fourth = await Client.connect(fe.url, xff('198.51.100.20'));
    fourth.ws.send(JSON.stringify({ op: 'auth', id: 1, token }));
    assert.equal((await fourth.closed).code, 4029);
    const sid = await session(fe, cluster, 'capped', ['room:cap']);
    const stream = await fetch(`http://127.0.0.1:${fe.port}/events?sid=${sid}&ch=room:cap`, { headers: { 'X-Forwarded-For': '198.51.100.21' } });
    assert.equal(stream.status, 429);
    await open.pop().close();
    await sleep(100);
    const again = await Client.connect(fe.url, xff('198.51.100.22'));
    await again.auth(token);  // room again
    open.push(again);
    // Other users are not affected.
    const other = await Client.connect(fe.url, xff('198.51.100.23'));
    await other.auth(cluster.token('someone', []));
    for (const c of [...open, other]) await c.close();
    assert.ok(metric((await httpGet(fe.port, '/metrics')).body, 'webim_user_cap_refusals_total') >= 2);
  });

  test('a client address behind a trusted proxy has at most max_connections_per_address', async () => {
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await Client.connect(fe.url, xff('203.0.113.5')));
    await assert.rejects(Client.connect(fe.url, xff('203.0.113.5')), /HTTP 429/);
    // A client's own X-Forwarded-For entries before our proxy's do not count.
    await assert.rejects(Client.connect(fe.url, xff('192.0.2.99, 203.0.113.5')), /HTTP 429/);
    const elsewhere = await Client.connect(fe.url, xff('203.0.113.6'));
    await held.pop().close();
    await sleep(100);
    held.push(await Client.connect(fe.url, xff('203.0.113.5')));
    for (const c of [...held, elsewhere]) await c.close();
  });

  test('POST /cmd shares one rate limit per user', async () => {
    const sid = await session(fe, cluster, 'commander', ['room:cmd']);
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      fetch(`http://127.0.0.1:${fe.port}/cmd?sid=${sid}`, {
        method: 'POST', headers: { 'X-Forwarded-For': `192.0.2.${i}` },
        body: JSON.stringify({ op: 'pub', id: i, ch: 'room:cmd', cid: `c${i}`, data: i }),
      }).then((r) => r.json())));
    const limited = replies.filter((r) => r.code === 'rate_limited').length;
    const ok = replies.filter((r) => r.op === 'ok').length;
    assert.ok(ok >= 10 && ok <= 12, `${ok} accepted of 40 (burst 10)`);
    assert.equal(limited, 40 - ok);
  });
});
