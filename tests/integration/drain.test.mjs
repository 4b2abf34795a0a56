// SIGTERM drains a frontend (docs/deploy.md "Stopping, draining, reloading"): the listen queue is
// accepted rather than reset, the connections are sent away (1012) spread over drain_window_ms,
// they resume on the other frontend without losing a message, and the process exits 0. SIGHUP
// reloads the token secrets, the API keys and the allowed origins without closing anyone.
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { apiPost, Client, clusterPool, httpGet, makeToken, sleep, until, WebSocket } from './harness.mjs';

const CONNECTIONS = Number(process.env.WEBIM_DRAIN_CONNECTIONS || 5000);
const WINDOW_MS = Number(process.env.WEBIM_DRAIN_WINDOW_MS || 6000);
const WORKERS = 4;
const ROOMS = 50;
const FAST = ['--rate-limit', '5000', '--rate-burst', '5000'];

// A client that publishes round the rooms until stopped or closed; the acked seqs per channel.
async function publishLoop(client, tag, acked, state, rooms = ROOMS) {
  let closed = false;
  client.ws.once('close', () => { closed = true; });
  for (let n = 0; state.publishing && !closed; ++n) {
    const ch = `room:drain-${n % rooms}`;
    const reply = await client.request('pub', { ch, data: { tag, n }, cid: `${tag}-${n}` }, 3000).catch(() => null);
    if (reply?.op === 'ok') (acked[ch] ||= []).push(reply.seq);
    await sleep(4);
  }
}

// A TCP connection to `port` that sends nothing (resolves once connected).
function openIdle(port) {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

function workerCall(worker, message, key) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m.error) reject(new Error(m.error));
      else if (m[key] !== undefined) {
        worker.off('message', onMessage);
        resolve(m[key]);
      }
    };
    worker.on('message', onMessage);
    worker.send(message);
  });
}

function waitForLog(proc, from, pattern, what) {
  return until(() => pattern.test(proc.log.slice(from)), what, 5000);
}

describe('drain and reload', () => {
  const newCluster = clusterPool(after);

  test(`a drain of ${CONNECTIONS} connections: spread over the window, no message lost, exit 0`, async () => {
    const cluster = newCluster();
    await cluster.startHub();
    const fe1 = await cluster.startFrontend(['--drain-window-ms', String(WINDOW_MS), ...FAST]);
    const fe2 = await cluster.startFrontend(FAST);
    const workers = Array.from({ length: WORKERS }, () => fork(new URL('./drain_clients.mjs', import.meta.url)));
    try {
      const per = Math.ceil(CONNECTIONS / WORKERS);
      await Promise.all(workers.map((w, k) => workerCall(w, {
        cmd: 'connect', secret: cluster.secret, urlA: fe1.url, urlB: fe2.url, rooms: ROOMS,
        from: k * per, to: Math.min(CONNECTIONS, (k + 1) * per),
      }, 'ready')));

      // Messages flow through both frontends while fe1 drains: acked ones must reach everyone.
      const acked = {};
      const state = { publishing: true };
      const pubs = [];
      for (const [fe, tag] of [[fe1, 'a'], [fe2, 'b']]) {
        const p = await Client.connect(fe.url);
        await p.auth(makeToken(cluster.secret, { sub: `pub-${tag}`, ch: ['room:*'] }));
        pubs.push(publishLoop(p, tag, acked, state));
      }
      await sleep(500);
      const t0 = Date.now();
      fe1.child.kill('SIGTERM');
      const exit = await fe1.exited;
      const tExit = Date.now() - t0;
      assert.deepEqual(exit, { code: 0, signal: null }, fe1.log.slice(-2000));
      await sleep(1000);
      state.publishing = false;
      await Promise.all(pubs);

      // Every acked message reached every subscriber of its room (resumed on fe2 with since).
      let reports;
      await until(async () => {
        reports = await Promise.all(workers.map((w) => workerCall(w, { cmd: 'verify', acked }, 'report')));
        return reports.every((r) => r.missing === 0 && r.onB === r.clients);
      }, 'every client resumed on fe2 with every acked message', 20000, 500).catch(() => {});
      const sum = (key) => reports.reduce((n, r) => n + r[key], 0);
      const ackedCount = Object.values(acked).reduce((n, list) => n + list.length, 0);
      const closes = reports.flatMap((r) => r.closeTimes).map((t) => t - t0).sort((a, b) => a - b);
      const seconds = Math.ceil(WINDOW_MS / 1000);
      const histogram = Array.from({ length: seconds + 3 }, () => 0);
      for (const t of closes) histogram[Math.min(histogram.length - 1, Math.floor(t / 1000))]++;
      const share = CONNECTIONS / (WINDOW_MS / 1000);
      console.log(`drain of ${CONNECTIONS} over ${WINDOW_MS} ms: closes per second ${JSON.stringify(histogram)} ` +
        `(share ${share.toFixed(0)}), first ${closes[0]} ms, last ${closes.at(-1)} ms, exit after ${tExit} ms; ` +
        `${ackedCount} messages acked, missing ${sum('missing')}, duplicates ${sum('dupes')}, ` +
        `not recovered ${sum('unrecovered')}, close codes ${JSON.stringify(reports.map((r) => r.codes))}`);

      assert.deepEqual(reports.flatMap((r) => r.errors), []);
      assert.equal(closes.length, CONNECTIONS, 'every client was sent away with 1012');
      assert.equal(sum('onB'), CONNECTIONS, 'every client resumed on fe2');
      for (let s = 0; s < seconds; ++s) {
        assert.ok(histogram[s] <= 2 * share, `second ${s} holds ${histogram[s]} closes, over twice its share`);
      }
      assert.ok(closes.at(-1) >= WINDOW_MS - 1000, `the last close came at ${closes.at(-1)} ms, not near the end`);
      assert.ok(closes.at(-1) <= WINDOW_MS + 2000, `the last close came at ${closes.at(-1)} ms`);
      assert.ok(ackedCount > 100, `only ${ackedCount} messages were acked`);
      assert.equal(sum('missing'), 0, JSON.stringify(reports.map((r) => r.examples)));
      assert.equal(sum('dupes'), 0, 'no message delivered twice');
      assert.equal(sum('unrecovered'), 0, 'every resume recovered');
    } finally {
      for (const w of workers) w.send({ cmd: 'exit' });
    }
  });

  test('a client resuming on a frontend that lags behind the one it left gets no message twice', async () => {
    // Sent away by a drain, a client may reach a frontend whose stream of the channel is behind
    // what the client saw there: its `since` is ahead of that frontend's position. Here fe2 lags
    // for good: stopped during a burst, the hub's HWM (20) dropped the burst's tail for it, and it
    // learns of the hole only with the next message.
    const cluster = newCluster();
    await cluster.startHub(['--pub-hwm', '20']);
    const fe1 = await cluster.startFrontend();
    const fe2 = await cluster.startFrontend();
    const token = makeToken(cluster.secret, { sub: 'lag', ch: ['room:*'] });
    const other = await Client.connect(fe2.url);  // fe2 holds the channel live
    await other.auth(makeToken(cluster.secret, { sub: 'other', ch: ['room:*'] }));
    await other.request('sub', { ch: 'room:lag' });
    const a = await Client.connect(fe1.url);
    await a.auth(token);
    await a.request('sub', { ch: 'room:lag' });
    fe2.child.kill('SIGSTOP');
    const burst = 200;
    const data = 'x'.repeat(4000);
    await cluster.appRequests(Array.from({ length: burst }, (_, i) => ({ op: 'pub', ch: 'room:lag', data, cid: `b${i}` })));
    const seen1 = await a.waitForMsgs(burst, () => true, 10000);
    const last = seen1.at(-1);
    fe2.child.kill('SIGCONT');
    await sleep(300);
    const b = await Client.connect(fe2.url);
    await b.auth(token);
    const sub = await b.request('sub', { ch: 'room:lag', since: { epoch: last.epoch, seq: last.seq } });
    const after = await a.request('pub', { ch: 'room:lag', data: 'y', cid: 'after' });
    await b.waitForMsgs(1, (m) => m.seq === after.seq, 5000);
    await sleep(100);
    assert.equal(sub.op, 'ok', JSON.stringify(sub));
    assert.equal(sub.recovered, true);
    assert.ok(sub.seq >= last.seq, `sub answered at seq ${sub.seq}, behind since ${last.seq}`);
    assert.deepEqual(b.msgs.map((m) => m.seq), [after.seq], 'only what came after since');
    const gaps = /^webim_gaps_total\S* (\d+)/m.exec((await httpGet(fe2.port, '/metrics')).body);
    assert.ok(Number(gaps?.[1]) >= 1, 'fe2 lagged (it had a hole to fill), else this tested nothing');
  });

  test('connections in the accept queue at SIGTERM are accepted and sent away, not reset', async () => {
    const cluster = newCluster();
    await cluster.startHub();
    const fe = await cluster.startFrontend(['--drain-window-ms', '1500']);
    const queued = 200;
    const first = await Client.connect(fe.url);  // accepting (it has every hub's revocations)
    first.ws.terminate();
    fe.child.kill('SIGSTOP');  // the kernel completes the handshakes; nobody accepts them
    const results = [];
    const clients = Array.from({ length: queued }, () => new Promise((resolve) => {
      const ws = new WebSocket(fe.url, { handshakeTimeout: 10000 });
      let opened = false;
      ws.on('open', () => { opened = true; });
      ws.on('error', (e) => results.push(e.code || e.message));
      ws.on('close', (code) => resolve({ opened, code }));
    }));
    await sleep(300);
    fe.child.kill('SIGTERM');
    fe.child.kill('SIGCONT');
    const outcomes = await Promise.all(clients);
    const exit = await fe.exited;
    const opened = outcomes.filter((o) => o.opened && o.code === 1012).length;
    console.log(`accept queue at SIGTERM: ${opened}/${queued} upgraded then closed 1012; errors ${JSON.stringify(results.slice(0, 5))}`);
    assert.deepEqual(results, [], 'no connection was reset');
    assert.equal(opened, queued);
    assert.deepEqual(exit, { code: 0, signal: null });
  });

  test('a second SIGTERM sends everyone left away at once; an idle frontend exits at once', async () => {
    const cluster = newCluster();
    await cluster.startHub();
    const fe = await cluster.startFrontend(['--drain-window-ms', '60000']);
    const clients = [];
    for (let i = 0; i < 20; ++i) clients.push(await Client.connect(fe.url));
    const t0 = Date.now();
    fe.child.kill('SIGTERM');
    await sleep(500);
    fe.child.kill('SIGTERM');
    const codes = await Promise.all(clients.map((c) => c.closed.then((r) => r.code)));
    assert.deepEqual(await fe.exited, { code: 0, signal: null });
    assert.ok(Date.now() - t0 < 5000, `exited ${Date.now() - t0} ms after the first SIGTERM`);
    assert.deepEqual([...new Set(codes)], [1012]);
    assert.match(fe.log, /draining: 20 connections sent away over 60000 ms/);
    assert.match(fe.log, /second signal: sending the remaining \d+ connections away now/);

    const idle = await cluster.startFrontend(['--drain-window-ms', '60000']);
    const t1 = Date.now();
    idle.child.kill('SIGTERM');
    assert.deepEqual(await idle.exited, { code: 0, signal: null });
    assert.ok(Date.now() - t1 < 2000, 'nobody to send away: no window to wait');
  });

  test('after the window a drain waits at most 1 s for close handshakes, not close_timeout_ms', async () => {
    // A restart is stop-then-start: every second the old process lingers, clients reconnecting
    // find nobody listening (integration/many_channels saw p50 3.7 s instead of ~1.2 s).
    const cluster = newCluster();
    await cluster.startHub();
    const fe = await cluster.startFrontend(['--drain-window-ms', '0', '--close-timeout-ms', '10000']);
    const mute = await Client.connect(fe.url);
    mute.ws.pause();  // reads nothing: never answers the close frame
    const t0 = Date.now();
    fe.child.kill('SIGTERM');
    assert.deepEqual(await fe.exited, { code: 0, signal: null });
    const took = Date.now() - t0;
    assert.ok(took < 3000, `exited ${took} ms after SIGTERM: it waited close_timeout_ms for a peer that never answers`);
    mute.ws.terminate();
  });

  test('a drain waits for the browsers, not for connections on the private listener', async () => {
    const cluster = newCluster();
    await cluster.startHub();
    const fe = await cluster.startFrontend(['--drain-window-ms', '1000']);
    const browser = await Client.connect(fe.url);
    // A scraper that connected and has not sent its request yet (and one more during the drain).
    const idle = [await openIdle(fe.adminPort)];
    const t0 = Date.now();
    fe.child.kill('SIGTERM');
    await sleep(200);
    idle.push(await openIdle(fe.adminPort));
    assert.equal((await browser.closed).code, 1012);
    assert.deepEqual(await fe.exited, { code: 0, signal: null });
    const took = Date.now() - t0;
    assert.ok(took < 2500, `exited ${took} ms after SIGTERM (window 1000 ms): it waited for the private connections`);
    for (const socket of idle) socket.destroy();
  });

  test('SIGHUP rotates secrets, API keys and origins under load without closing anyone', async () => {
    const cluster = newCluster();
    await cluster.startHub();
    const config = join(cluster.dir, 'fe.toml');
    writeFileSync(config, 'allowed_origins = ["https://a.example"]\n');
    const fe = await cluster.startFrontend(['--config', config, ...FAST]);
    const oldSecret = cluster.secret;
    const newSecret = randomBytes(32).toString('hex');
    const works = async (secret, user) => {
      const c = await Client.connect(fe.url);
      c.ws.send(JSON.stringify({ op: 'auth', id: 1, token: makeToken(secret, { sub: user, ch: ['room:*'] }) }));
      const outcome = await Promise.race([
        new Promise((resolve) => c.ws.on('message', (d) => resolve(JSON.parse(d.toString()).op === 'ok'))),
        c.closed.then(() => false),
      ]);
      c.ws.terminate();
      return outcome;
    };
    const origin = (value) => new Promise((resolve) => {
      const ws = new WebSocket(fe.url, { origin: value });
      ws.on('open', () => { ws.terminate(); resolve(101); });
      ws.on('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy(); });
      ws.on('error', () => {});
    });
    const reload = async (what, pattern) => {
      const from = fe.log.length;
      fe.child.kill('SIGHUP');
      await waitForLog(fe, from, pattern, what);
      await sleep(300);  // under load for a while after each reload
    };

    // The load: 300 clients on one room, a message every 10 ms, new connections all along.
    const held = [];
    for (let i = 0; i < 300; ++i) {
      const c = await Client.connect(fe.url);
      await c.auth(makeToken(oldSecret, { sub: `h${i}`, ch: ['room:drain-0'] }));
      await c.request('sub', { ch: 'room:drain-0' });
      held.push(c);
    }
    const closes = [];
    held.forEach((c, i) => c.ws.on('close', (code) => closes.push([i, code])));
    const acked = {};
    const state = { publishing: true };
    const publisher = await Client.connect(fe.url);
    await publisher.auth(makeToken(oldSecret, { sub: 'pub', ch: ['room:*'] }));
    const pub = publishLoop(publisher, 'h', acked, state, 1);
    let churn = 0;
    const churnLoop = (async () => {
      while (state.publishing) {
        if (await works(oldSecret, `churn${churn}`).catch(() => false)) ++churn;
      }
    })();

    assert.equal(await works(newSecret, 'n1'), false, 'the new secret is unknown before the reload');
    writeFileSync(cluster.secretFile, `${oldSecret}\n${newSecret}\n`);
    await reload('the reload with both secrets', /reloaded: 2 token secrets/);
    assert.equal(await works(newSecret, 'n2'), true, 'a token signed with the new secret');
    assert.equal(await works(oldSecret, 'o2'), true, 'the old secret, still in the file');

    writeFileSync(cluster.secretFile, 'too short\n');
    await reload('the bad file refused', /reload failed, the old secrets, API keys and origins stay: .*at least 32 bytes/);
    assert.equal(await works(newSecret, 'n3'), true, 'a bad file keeps the secrets');
    assert.equal(await works(oldSecret, 'o3'), true);

    writeFileSync(cluster.secretFile, `${newSecret}\n`);
    const newKey = randomBytes(24).toString('hex');
    writeFileSync(cluster.apiKeyFile, `${newKey}\n`);
    writeFileSync(config, 'allowed_origins = ["https://b.example"]\n');
    await reload('the rotation done', /reloaded: 1 token secrets, 1 API keys, 1 allowed origins/);
    assert.equal(await works(oldSecret, 'o4'), false, 'the old secret is gone');
    assert.equal(await works(newSecret, 'n4'), true);
    assert.equal((await apiPost(fe.port, 'stats', {}, newKey)).status, 200);
    assert.equal((await apiPost(fe.port, 'stats', {}, cluster.apiKey)).status, 401);
    assert.equal(await origin('https://b.example'), 101);
    assert.equal(await origin('https://a.example'), 403);

    // Load all along: at least 50 messages and 10 new connections across the reloads.
    const ackedSoFar = () => Object.values(acked).reduce((n, list) => n + list.length, 0);
    await until(() => ackedSoFar() >= 50 && churn >= 10, 'some load', 10000).catch(() => {});
    state.publishing = false;
    await pub;
    await churnLoop;
    const count = Object.values(acked).reduce((n, list) => n + list.length, 0);
    await until(() => held.every((c) => c.msgs.length === count), 'every held client has every message', 5000)
      .catch(() => {});
    console.log(`reload under load: ${count} messages acked, ${churn} new connections, closes ${JSON.stringify(closes)}`);
    assert.deepEqual(closes, [], 'no held connection was closed');
    assert.ok(held.every((c) => c.msgs.length === count), 'every held client got every message');
    assert.ok(count > 50 && churn > 10, `only ${count} messages and ${churn} new connections`);
  });
});
