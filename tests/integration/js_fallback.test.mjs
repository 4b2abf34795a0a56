// The JS client library's HTTP fallback (docs/protocol.md section 2) in Node, against a real hub and
// frontends: forced SSE and forced long-poll (subscribe, live delivery once in order, acked
// publishes stored once when retried, resume after the serving frontend is SIGKILLed, resync when
// `since` cannot be recovered), and the automatic switch from a WebSocket URL whose upgrades are
// refused (or hang) to the fallback and back, through a small proxy in this process.
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';

import { Cluster, WebSocket, sleep, until } from './harness.mjs';
import { WebimClient, createHttpTransport } from '../../clients/js/webim.js';

const FAST = { baseMs: 50, maxMs: 400, stableMs: 2000, restartMs: 100 };

const range = (first, last) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

// An HTTP proxy in front of one frontend, standing for a network that blocks WebSocket: upgrades are
// refused with 403 ('refuse'), never answered ('hang') or passed through ('allow'); with `breakSse`,
// event-stream requests get 502 (a proxy that cannot stream). Everything else is forwarded.
async function startProxy(targetPort) {
  const proxy = { upgrades: 'refuse', breakSse: false, refused: 0, upgraded: 0, sockets: new Set() };
  const track = (socket) => { proxy.sockets.add(socket); socket.on('close', () => proxy.sockets.delete(socket)); };
  const server = createServer((req, res) => {
    if (proxy.breakSse && String(req.headers.accept).includes('text/event-stream')) {
      res.writeHead(502, { 'Content-Type': 'text/plain' }).end('no streaming here\n');
      return;
    }
    const upstream = httpRequest({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (r) => { res.writeHead(r.statusCode, r.headers); r.pipe(res); });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', track);
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    if (proxy.upgrades === 'hang') return;
    if (proxy.upgrades === 'refuse') {
      proxy.refused++;
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    proxy.upgraded++;
    const target = netConnect(targetPort, '127.0.0.1', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      target.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) target.write(head);
      socket.pipe(target).pipe(socket);
    });
    track(target);
    target.on('error', () => socket.destroy());
    socket.on('close', () => target.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = server.address().port;
  proxy.url = `ws://127.0.0.1:${proxy.port}/ws`;
  proxy.close = () => {
    for (const s of proxy.sockets) s.destroy();
    return new Promise((resolve) => server.close(resolve));
  };
  return proxy;
}

// Node 20's fetch keeps a listener on a request's signal until the request is collected: one
// signal shared by every poll of a session piles them up (MaxListenersExceededWarning floods after
// ~1,500 polls, seen in the checker's soak). Each poll gets a signal of its own, aborted with the
// session.
test('long-poll: every poll has a signal of its own, and closing the session aborts the one in flight', async () => {
  const signals = [];
  let hold = null;
  const server = createServer((req, res) => {
    if (req.url.startsWith('/session')) return res.end(JSON.stringify({ sid: 's.i.d', user: 'u' }));
    if (signals.length >= 300) {
      hold = res;  // the last poll waits: the session is closed while it is in flight
      return;
    }
    res.end('[]');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fetchImpl = (url, options) => {
    if (String(url).includes('/events')) signals.push(options.signal);
    return fetch(url, options);
  };
  const transport = createHttpTransport({ mode: 'longpoll', fetch: fetchImpl })(`ws://127.0.0.1:${server.address().port}/ws`, {
    onOpen: () => {}, onMessage: () => {}, onClose: () => {},
  });
  transport.send({ op: 'auth', id: 1, token: 't' });
  await until(() => transport.sid, 'the session');
  transport.send({ op: 'sub', id: 2, ch: 'room:x', since: { epoch: 'ed75278690ed6ccc', seq: 1 } });
  await until(() => hold, '300 polls', 30000);
  assert.equal(new Set(signals).size, signals.length, 'a signal per poll');
  const inFlight = signals[signals.length - 1];
  assert.equal(inFlight.aborted, false);
  transport.close();
  assert.equal(inFlight.aborted, true, 'the poll in flight is aborted with the session');
  hold.end('[]');
  server.close();
});

describe('the HTTP fallback of the JS client against a real hub and frontends', { timeout: 85000 }, () => {
  let cluster;
  let fe1;
  let fe2;
  let narrow; // a frontend whose recovery window is 3 messages
  const clients = [];
  const proxies = [];
  const open = (options) => {
    const c = new WebimClient({ WebSocket, backoff: FAST, requestTimeoutMs: 3000, ...options });
    clients.push(c);
    return c;
  };

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe1 = await cluster.startFrontend();
    fe2 = await cluster.startFrontend();
    narrow = await cluster.startFrontend(['--recovery-max-messages', '3']);
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const p of proxies) await p.close();
    const results = await cluster.stop();
    for (const [name, r] of Object.entries(results)) {
      if (r.signal === 'SIGKILL') continue; // killed on purpose
      assert.deepEqual(r, { code: 0, signal: null }, `${name} did not exit cleanly:\n${cluster.logs()}`);
    }
  });

  for (const mode of ['sse', 'longpoll']) {
    test(`${mode}: subscribe, every live message once and in order, publish acks with epoch and seq, history`, async () => {
      const ch = `room:${mode}-live`;
      const reader = open({ url: fe1.url, token: cluster.token(`r-${mode}`, ['room:*']), transports: [mode] });
      const writer = open({ url: fe2.url, token: cluster.token(`w-${mode}`, ['room:*']) }); // WebSocket
      const seen = [];
      const states = [];
      reader.on('state', (s, info) => states.push(`${info.state}/${info.transport}`));
      const off = reader.subscribe(ch, (m) => seen.push(m));
      await Promise.all([reader.connect(), writer.connect()]);
      assert.equal(reader.user, `r-${mode}`);
      assert.equal(reader.transportName, mode);
      const start = await off.ready;
      const acks = [];
      for (let i = 0; i < 20; i++) acks.push(await writer.publish(ch, { i }));
      const own = await reader.publish(ch, { text: 'from the fallback', big: 12345678901234567890 });
      assert.equal(own.epoch, start.epoch);
      assert.equal(own.seq, start.seq + 21);
      await until(() => seen.length >= 21, 'deliveries');
      await sleep(300);
      assert.deepEqual(seen.map((m) => m.seq), range(start.seq + 1, own.seq), 'each seq once, in order');
      assert.deepEqual(seen.at(-1).data, { text: 'from the fallback', big: 12345678901234567890 });
      assert.equal(seen.at(-1).from, `r-${mode}`);
      assert.equal(seen[0].from, `w-${mode}`);
      const page = await reader.history(ch, { before: own.seq + 1, limit: 5 });
      assert.deepEqual(page.msgs.map((m) => m.seq), range(own.seq - 4, own.seq));
      assert.equal(page.more, true);
      await assert.rejects(reader.publish('pub:news', 1), { code: 'forbidden' });
      // A channel without a grant fails its subscription; the others keep streaming.
      const denied = reader.subscribe('secret:x', () => {});
      await assert.rejects(denied.ready, { code: 'forbidden' });
      const more = await writer.publish(ch, 'after the refused subscription');
      await until(() => seen.length === 22, 'delivery after the refusal');
      assert.equal(seen.at(-1).seq, more.seq);
      assert.deepEqual(states, [`connecting/${mode}`, `open/${mode}`]);
      off();
    });

    test(`${mode}: a publish whose ack is lost is retried with the same cid and stored once`, async () => {
      const ch = `room:${mode}-lostack`;
      const posts = [];
      let dropped = false;
      // The first pub reaches the server, then the connection "breaks" before the ack is read.
      const lossyFetch = async (url, init) => {
        const res = await fetch(url, init);
        if (String(url).includes('/cmd') && init?.body?.includes('"op":"pub"')) {
          posts.push(JSON.parse(init.body).cid);
          if (!dropped) {
            dropped = true;
            throw new TypeError('fetch failed (simulated: connection lost after the request)');
          }
        }
        return res;
      };
      const a = open({ urls: [fe1.url, fe2.url], token: cluster.token(`lossy-${mode}`, ['room:*']), transports: [mode], fetch: lossyFetch });
      const watcher = open({ url: fe2.url, token: cluster.token(`watch-${mode}`, ['room:*']) });
      const seen = [];
      const states = [];
      a.on('state', (s) => states.push(s));
      const watching = watcher.subscribe(ch, (m) => seen.push(m.seq));
      await Promise.all([a.connect(), watcher.connect()]);
      await watching.ready;  // live before the publish, or its ok would already count it
      const ack = await a.publish(ch, 'once', { cid: `lost-${mode}` });
      assert.ok(dropped, 'the first ack was lost');
      assert.deepEqual(posts, [`lost-${mode}`, `lost-${mode}`], 'sent twice with the same cid');
      assert.deepEqual(states, ['connecting', 'open', 'reconnecting', 'open']);
      const page = await a.history(ch, { after: 0, limit: 50 });
      assert.deepEqual(page.msgs.map((m) => m.seq), [ack.seq], 'stored once');
      await until(() => seen.length === 1, 'delivery');
      await sleep(200);
      assert.deepEqual(seen, [ack.seq]);
    });

    test(`${mode}: the serving frontend is SIGKILLed; the client resumes on another from since, every message once, in order`, async () => {
      const ch = `room:${mode}-kill`;
      const doomed = await cluster.startFrontend();
      const reader = open({ urls: [doomed.url, fe2.url], token: cluster.token(`kr-${mode}`, ['room:*']), transports: [mode] });
      const writer = open({ url: fe1.url, token: cluster.token(`kw-${mode}`, ['room:*']) });
      const seen = [];
      const states = [];
      const recovered = [];
      reader.on('state', (s) => states.push(s));
      reader.on('recovered', (e) => recovered.push(e));
      const off = reader.subscribe(ch, (m) => seen.push(m.seq));
      await Promise.all([reader.connect(), writer.connect()]);
      const { seq: start } = await off.ready;
      const N = 40;
      let last = 0;
      for (let i = 0; i < N; i++) {
        if (i === 10) {
          await until(() => seen.length === 10, 'the first 10 live');
          doomed.child.kill('SIGKILL');
        }
        last = (await writer.publish(ch, { i })).seq;
        if (i % 10 === 5) await sleep(30); // spread over the reconnect
      }
      await until(() => seen.length >= N, `all ${N} messages (got ${seen.length})`, 15000);
      await sleep(300);
      assert.deepEqual(seen, range(start + 1, last), 'every seq once, in order');
      assert.ok(states.includes('reconnecting'), `states: ${states}`);
      assert.equal(reader.state, 'open');
      assert.equal(recovered.length, 1, JSON.stringify(recovered));
      // Resumed with since: the other frontend sent what was missed (no resync, no hist fill).
      assert.deepEqual(recovered[0], { ch, recovered: true, server: true, filled: 0 });
      assert.equal((await doomed.exited).signal, 'SIGKILL');
    });

    test(`${mode}: a since the server cannot recover gets a resync; the client fills from history or reloads`, async () => {
      const ch = `room:${mode}-window`;
      const writer = open({ url: fe1.url, token: cluster.token(`ww-${mode}`, ['room:*']) });
      await writer.connect();
      const acks = [];
      for (let i = 0; i < 8; i++) acks.push(await writer.publish(ch, { i }));
      const reader = open({ url: narrow.url, token: cluster.token(`wr-${mode}`, ['room:*']), transports: [mode] });
      const events = [];
      reader.on('recovered', (e) => events.push(['recovered', e.server, e.filled]));
      reader.on('resync', (e) => events.push(['resync', e.reason]));
      const seen = [];
      // 7 missed messages, the window is 3: the server answers a resync; the client pages hist.
      reader.subscribe(ch, (m) => seen.push(m.seq), { since: { epoch: acks[0].epoch, seq: acks[0].seq } });
      await reader.connect();
      await until(() => seen.length === 7, 'the gap filled');
      const live = await writer.publish(ch, 'live');
      await until(() => seen.length === 8, 'live after the fill');
      await sleep(200);
      assert.deepEqual(seen, range(acks[1].seq, live.seq));
      assert.deepEqual(events, [['recovered', true, 0], ['recovered', false, 7]]);

      // Another epoch (history reset): a 'resync' event, then what history has.
      const seen2 = [];
      reader.subscribe(`${ch}-b`, (m) => seen2.push(m.seq), { since: { epoch: 'ffffffffffffffff', seq: 5 } });
      await writer.publish(`${ch}-b`, 1);
      await until(() => seen2.length === 1, 'reload of the other epoch');
      assert.ok(events.some((e) => e[0] === 'resync' && e[1] === 'epoch'), JSON.stringify(events));
    });

    test(`${mode}: the token is refreshed with a new session before exp; the stream goes on without a reconnect`, async () => {
      const ch = `room:${mode}-fresh`;
      const issued = [];
      const getToken = () => {
        issued.push(Date.now());
        return cluster.token(`fresh-${mode}`, ['room:*'], { exp: Math.floor(Date.now() / 1000) + 3 });
      };
      const a = open({ url: fe1.url, getToken, transports: [mode] });
      const writer = open({ url: fe2.url, token: cluster.token(`fw-${mode}`, ['room:*']) });
      const states = [];
      a.on('state', (s) => states.push(s));
      const seen = [];
      const sub = a.subscribe(ch, (m) => seen.push(m.seq));
      await Promise.all([a.connect(), writer.connect()]);
      await sub.ready;
      const firstExp = (issued[0] + 3000);
      await until(() => issued.length >= 2, 'a refresh', 5000);
      assert.ok(Date.now() < firstExp, 'refreshed before exp');
      // Past the first session's expiry the server would have ended the stream (and refused its sid).
      await sleep(firstExp - Date.now() + 1200);
      const ack = await writer.publish(ch, 'after the first exp');
      const own = await a.publish(ch, 'mine, with the new sid');
      await until(() => seen.length === 2, 'live delivery on the refreshed stream');
      assert.deepEqual(seen, [ack.seq, own.seq]);
      assert.deepEqual(states, ['connecting', 'open'], 'never reconnected');
    });

    test(`${mode}: a refresh with fewer grants revokes the dropped channel (forbidden); the others go on`, async () => {
      let calls = 0;
      const getToken = () => {
        calls++;
        const exp = Math.floor(Date.now() / 1000) + (calls === 1 ? 3 : 3600);
        return cluster.token(`shrink-${mode}`, calls === 1 ? [`room:${mode}-keep`, `room:${mode}-drop`] : [`room:${mode}-keep`], { exp });
      };
      const a = open({ url: fe1.url, getToken, transports: [mode] });
      const writer = open({ url: fe2.url, token: cluster.token(`sw-${mode}`, ['room:*']) });
      const seen = [];
      const revoked = [];
      const errors = [];
      a.on('revoked', (e) => revoked.push(e.ch));
      a.on('error', (e) => errors.push(e.code));
      const keep = a.subscribe(`room:${mode}-keep`, (m) => seen.push(`keep:${m.data}`));
      const drop = a.subscribe(`room:${mode}-drop`, (m) => seen.push(`drop:${m.data}`));
      await Promise.all([a.connect(), writer.connect()]);
      await Promise.all([keep.ready, drop.ready]);
      await until(() => revoked.length === 1, 'the refresh', 8000);
      assert.deepEqual(revoked, [`room:${mode}-drop`]);
      assert.ok(errors.includes('forbidden'), JSON.stringify(errors));
      await writer.publish(`room:${mode}-drop`, 1);
      await writer.publish(`room:${mode}-keep`, 2);
      await until(() => seen.length === 1, 'delivery on the kept channel');
      await sleep(300);
      assert.deepEqual(seen, ['keep:2']);
    });
  }

  test('a WebSocket URL whose upgrades are refused: the client falls back to SSE, then switches back when upgrades work', async () => {
    const proxy = await startProxy(fe1.port);
    proxies.push(proxy);
    const ch = 'room:switch';
    const states = [];
    const a = open({
      url: proxy.url, token: cluster.token('switcher', ['room:*']),
      fallback: { after: 2, probeBaseMs: 400, probeMaxMs: 800 },
    });
    a.on('state', (s, info) => states.push(`${s}/${info.transport}`));
    const writer = open({ url: fe2.url, token: cluster.token('sw', ['room:*']) });
    const seen = [];
    const off = a.subscribe(ch, (m) => seen.push(m.seq));
    await Promise.all([a.connect(), writer.connect()]);
    assert.equal(a.transportName, 'sse');
    assert.ok(proxy.refused >= 2, `refused upgrades: ${proxy.refused}`);
    const { seq: start } = await off.ready;
    const mine = await a.publish(ch, 'over sse');
    assert.equal(mine.seq, start + 1);
    for (let i = 0; i < 5; i++) await writer.publish(ch, { i });
    await until(() => seen.length === 6, 'deliveries over SSE');

    proxy.upgrades = 'allow'; // the network lets WebSocket through again: the probe notices
    let last = 0;
    for (let i = 0; i < 30 && a.transportName !== 'websocket'; i++) {
      last = (await writer.publish(ch, { during: i })).seq;
      await sleep(100);
    }
    await until(() => a.transportName === 'websocket' && a.state === 'open', 'back on websocket', 8000);
    assert.ok(proxy.upgraded >= 2, 'a probe and the new connection went through the proxy');
    const back = await a.publish(ch, 'over websocket');
    last = back.seq;
    await until(() => seen.length >= last - start, `all messages (got ${seen.length})`);
    await sleep(200);
    assert.deepEqual(seen, range(start + 1, last), 'each seq once, in order, across both switches');
    const stored = await a.history(ch, { after: start, limit: 200 });
    assert.equal(stored.msgs.filter((m) => m.data === 'over sse').length, 1);
    const opens = states.filter((s) => s.startsWith('open/'));
    assert.deepEqual(opens, ['open/sse', 'open/websocket'], `states: ${states}`);
  });

  test('upgrades that hang and a proxy that cannot stream SSE: the client ends up on long-poll and chats', async () => {
    const proxy = await startProxy(fe2.port);
    proxies.push(proxy);
    proxy.upgrades = 'hang';
    proxy.breakSse = true;
    const ch = 'room:lp-auto';
    const states = [];
    const a = open({
      url: proxy.url, token: cluster.token('poller', ['room:*']),
      fallback: { after: 2, openTimeoutMs: 600, probeBaseMs: 60000 },
    });
    a.on('state', (s, info) => states.push(`${s}/${info.transport}`));
    const writer = open({ url: fe1.url, token: cluster.token('pw', ['room:*']) });
    const seen = [];
    const off = a.subscribe(ch, (m) => seen.push(m.seq));
    const t0 = Date.now();
    await Promise.all([a.connect(), writer.connect()]);
    await until(() => a.transportName === 'longpoll' && a.state === 'open', 'on long-poll');
    const elapsed = Date.now() - t0;
    const { seq: start } = await off.ready;
    const acks = [];
    for (let i = 0; i < 5; i++) acks.push(await writer.publish(ch, { i }));
    acks.push(await a.publish(ch, 'over long-poll'));
    await until(() => seen.length === 6, 'deliveries over long-poll');
    await sleep(200);
    assert.deepEqual(seen, range(start + 1, acks.at(-1).seq));
    // One hung handshake (600 ms) was enough to leave WebSocket; SSE failed twice before long-poll.
    assert.ok(elapsed < 5000, `took ${elapsed} ms`);
    assert.ok(states.includes('open/sse') && states.at(-1) === 'open/longpoll', `states: ${states}`);
  });
});
