// The front door under hostile or careless clients: oversized heads, endless fragments, slowloris,
// a reader that never reads, floods, forbidden-request loops, token expiry, silent peers, a hub
// that stops answering, the connection cap and running out of file descriptors.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, httpGet, sleep } from './harness.mjs';

// ---- a minimal raw client, for clients that misbehave on purpose ----

function clientFrame(opcode, payload, { fin = true, length } = {}) {
  const body = Buffer.from(payload);
  const len = length ?? BigInt(body.length);
  let header;
  if (len < 126n) {
    header = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | Number(len)]);
  } else if (len < 65536n) {
    header = Buffer.alloc(4);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(Number(len), 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = (fin ? 0x80 : 0) | opcode;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(len, 2);
  }
  const mask = randomBytes(4);
  const masked = Buffer.alloc(body.length);
  for (let i = 0; i < body.length; i++) masked[i] = body[i] ^ mask[i % 4];
  return Buffer.concat([header, mask, masked]);
}

class RawClient {
  static connect(port, head) {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        const c = new RawClient(socket);
        if (head !== undefined) socket.write(head);
        resolve(c);
      });
      socket.once('error', reject);
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.data = Buffer.alloc(0);
    this.ended = new Promise((resolve) => socket.once('close', resolve));
    socket.on('data', (d) => { this.data = Buffer.concat([this.data, d]); });
    socket.on('error', () => {});
  }

  async upgrade(port) {
    const key = randomBytes(16).toString('base64');
    this.socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await this.until(() => this.data.indexOf('\r\n\r\n') >= 0, 'handshake');
    const end = this.data.indexOf('\r\n\r\n') + 4;
    const head = this.data.subarray(0, end).toString();
    assert.match(head, /^HTTP\/1\.1 101 /);
    this.data = this.data.subarray(end);
  }

  send(opcode, payload, options) { this.socket.write(clientFrame(opcode, payload, options)); }
  sendJson(obj) { this.send(1, JSON.stringify(obj)); }

  async until(predicate, what, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(10);
    }
  }

  // Parses the server frames received so far: [{opcode, payload}].
  frames() {
    const out = [];
    let buf = this.data;
    while (buf.length >= 2) {
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (buf.length < 4) break; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) break; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      if (buf.length < off + len) break;
      out.push({ opcode: buf[0] & 0x0f, payload: buf.subarray(off, off + len) });
      buf = buf.subarray(off + len);
    }
    return out;
  }

  closeCode() {
    const close = this.frames().find((f) => f.opcode === 8);
    return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined;
  }

  async auth(token) {
    this.sendJson({ op: 'auth', id: 1, token });
    await this.until(() => this.frames().some((f) => f.opcode === 1 && f.payload.toString().includes('"id":1')), 'auth');
  }
}

async function httpStatus(port, head) {
  const c = await RawClient.connect(port, head);
  await Promise.race([c.ended, sleep(5000)]);
  const text = c.data.toString('latin1');
  return Number((text.match(/^HTTP\/1\.1 (\d{3})/) || [])[1]);
}

function metric(body, name, labels) {
  const line = body.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('front door', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe = await cluster.startFrontend(['--handshake-timeout-ms', '1500']);
  });

  after(() => cluster.stopCleanly());

  test('2,000 headers get 431', async () => {
    let head = `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${fe.port}\r\n`;
    for (let i = 0; i < 2000; i++) head += `X-H${i}: v\r\n`;
    assert.equal(await httpStatus(fe.port, head + '\r\n'), 431);
  });

  test('a 64 KiB header line gets 431', async () => {
    const head = `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${fe.port}\r\nX-Big: ${'a'.repeat(65536)}\r\n\r\n`;
    assert.equal(await httpStatus(fe.port, head), 431);
  });

  test('a frame declaring 2^63 bytes is refused before any payload', async () => {
    const c = await RawClient.connect(fe.port);
    await c.upgrade(fe.port);
    await c.auth(cluster.token('h1', []));
    c.send(1, '', { length: (1n << 63n) - 1n });
    await c.ended;
    assert.equal(c.closeCode(), 1009);
  });

  test('130k one-byte continuation frames are cut at the fragment limit', async () => {
    const c = await RawClient.connect(fe.port);
    await c.upgrade(fe.port);
    await c.auth(cluster.token('h2', []));
    const parts = [clientFrame(1, '{', { fin: false })];
    for (let i = 0; i < 130000; i++) parts.push(clientFrame(0, ' ', { fin: false }));
    c.socket.write(Buffer.concat(parts));
    await c.ended;
    assert.equal(c.closeCode(), 1009);
  });

  test('slowloris: dribbling sockets are closed at the handshake deadline, a normal client still connects', async () => {
    const sockets = [];
    for (let i = 0; i < 200; i++) sockets.push(await RawClient.connect(fe.port, 'G'));
    const dribble = setInterval(() => { for (const s of sockets) s.socket.write('E'); }, 400);
    const started = Date.now();
    await sleep(300);
    const normal = await Client.connect(fe.url);
    await normal.auth(cluster.token('h3', []));
    await Promise.race([Promise.all(sockets.map((s) => s.ended)), sleep(6000)]);
    clearInterval(dribble);
    const open = sockets.filter((s) => !s.socket.destroyed && s.socket.readyState === 'open').length;
    assert.equal(open, 0, 'every dribbling socket closed');
    assert.ok(Date.now() - started < 4000, 'closed near the 1.5 s handshake deadline');
    assert.equal(normal.ws.readyState, 1, 'the normal client is still connected');
    await normal.close();
  });

  test('a flood of small messages is closed 4008', async () => {
    const c = await RawClient.connect(fe.port);
    await c.upgrade(fe.port);
    await c.auth(cluster.token('h4', []));
    const frames = [];
    for (let i = 0; i < 500; i++) frames.push(clientFrame(1, JSON.stringify({ op: 'nop', id: i + 2 })));
    c.socket.write(Buffer.concat(frames));
    await c.ended;
    assert.equal(c.closeCode(), 4008);
  });

  test('repeated forbidden requests are closed 4003', async () => {
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token('h5', ['room:mine']));
    for (let i = 0; i < 9; i++) assert.equal((await c.request('sub', { ch: `room:other${i}` })).code, 'forbidden');
    c.ws.send(JSON.stringify({ op: 'sub', id: 99, ch: 'room:other99' }));
    assert.equal((await c.closed).code, 4003);
  });

  test('an expired token closes the connection 4001 unless refreshed', async () => {
    const now = Math.floor(Date.now() / 1000);
    const stays = await Client.connect(fe.url);
    await stays.auth(cluster.token('h6', [], { exp: now + 2 }));
    const expires = await Client.connect(fe.url);
    await expires.auth(cluster.token('h7', [], { exp: now + 2 }));
    const refreshed = await stays.request('auth', { token: cluster.token('h6', [], { exp: now + 60 }) });
    assert.equal(refreshed.op, 'ok');
    const closed = await Promise.race([expires.closed, sleep(5000).then(() => 'still open')]);
    assert.equal(closed.code, 4001);
    assert.equal(stays.ws.readyState, 1, 'the refreshed connection stays open');
    await stays.close();
  });

  test('auth must come within the auth timeout', async () => {
    const quick = await cluster.startFrontend(['--auth-timeout-ms', '300']);
    const c = await Client.connect(quick.url);
    const t0 = Date.now();
    assert.equal((await c.closed).code, 4001);
    assert.ok(Date.now() - t0 < 2000);
  });

  test('idle connections are pinged; a silent peer is dropped, a live one stays', async () => {
    const pinging = await cluster.startFrontend(['--ping-interval-ms', '300', '--pong-timeout-ms', '300']);
    const live = await Client.connect(pinging.url);  // ws answers pings by itself
    await live.auth(cluster.token('h8', []));
    let pings = 0;
    live.ws.on('ping', () => { pings++; });
    const silent = await RawClient.connect(pinging.port);
    await silent.upgrade(pinging.port);
    await silent.auth(cluster.token('h9', []));
    silent.socket.pause();  // reads nothing, answers nothing
    await sleep(1500);      // ping after 300 ms of silence, dropped 300 ms later
    silent.socket.resume(); // now read what is there, including the end of the stream
    const dropped = await Promise.race([silent.ended.then(() => true), sleep(2000).then(() => false)]);
    assert.ok(dropped, 'the silent peer was dropped');
    assert.ok(silent.frames().some((f) => f.opcode === 9), 'it was pinged first');
    assert.ok(pings >= 2, `the live client was pinged (${pings})`);
    assert.equal(live.ws.readyState, 1);
    await live.close();
  });

  test('a publish the hub does not answer in time gets unavailable, not a hang', async () => {
    const impatient = await cluster.startFrontend(['--hub-timeout-ms', '500']);
    const c = await Client.connect(impatient.url);
    await c.auth(cluster.token('h10', ['room:*']));
    assert.equal((await c.request('sub', { ch: 'room:stall' })).op, 'ok');
    cluster.hub.child.kill('SIGSTOP');
    try {
      const t0 = Date.now();
      const reply = await c.request('pub', { ch: 'room:stall', data: 1, cid: 'stall-1' }, 5000);
      assert.equal(reply.code, 'unavailable');
      assert.ok(Date.now() - t0 < 2000);
    } finally {
      cluster.hub.child.kill('SIGCONT');
    }
    // The same cid after the hub is back: stored once.
    const retry = await c.request('pub', { ch: 'room:stall', data: 1, cid: 'stall-1' });
    assert.equal(retry.op, 'ok', JSON.stringify(retry));
    await c.close();
  });

  test('a client that never reads is closed 4009; the others keep up', async () => {
    const busy = await cluster.startFrontend(['--rate-limit', '100000', '--rate-burst', '100000',
      '--max-backlog-bytes', '1048576', '--write-timeout-ms', '2000']);
    const room = 'room:slow';
    const stalled = await RawClient.connect(busy.port);
    await stalled.upgrade(busy.port);
    await stalled.auth(cluster.token('h11', [room]));
    stalled.sendJson({ op: 'sub', id: 2, ch: room });
    await stalled.until(() => stalled.frames().some((f) => f.payload.toString().includes('"id":2')), 'sub');
    stalled.socket.pause();

    const reader = await Client.connect(busy.url);
    await reader.auth(cluster.token('h12', [room]));
    await reader.request('sub', { ch: room });
    const writer = await Client.connect(busy.url);
    await writer.auth(cluster.token('h13', [room]));

    const pad = 'x'.repeat(30000);
    const count = 800;  // 24 MB: more than the kernel's socket buffers plus the backlog
    // A few publishes in flight at a time: a steady room, which a healthy reader keeps up with.
    for (let i = 0; i < count; i += 4) {
      const acks = [];
      for (let j = i; j < i + 4; j++) acks.push(writer.request('pub', { ch: room, data: { i: j, pad }, cid: `s${j}` }, 20000));
      for (const a of await Promise.all(acks)) assert.equal(a.op, 'ok');
    }
    const got = await reader.waitForMsgs(count, (m) => m.ch === room, 20000);
    assert.deepEqual(got.map((m) => m.data.i), [...Array(count).keys()], 'the reading client got everything in order');

    // Closed 4009 once its backlog overflowed (counted when the socket goes, after the write timeout).
    let closes4009 = 0;
    for (let i = 0; i < 50 && closes4009 === 0; i++) {
      closes4009 = metric((await httpGet(busy.port, '/metrics')).body, 'webim_closes_total', 'code="4009"');
      if (closes4009 === 0) await sleep(100);
    }
    assert.equal(closes4009, 1, 'the stalled client was closed 4009');
    stalled.socket.resume();
    await Promise.race([stalled.ended, sleep(5000)]);
    assert.ok(stalled.socket.destroyed || stalled.socket.readyState !== 'open', 'the stalled client is gone');
    const code = stalled.closeCode();
    assert.ok(code === undefined || code === 4009, `close code ${code}`);
    await reader.close();
    await writer.close();
  });

  test('subscriptions per connection are capped (too_large); unsubscribing makes room', async () => {
    const capped = await cluster.startFrontend(['--max-subscriptions', '3']);
    const c = await Client.connect(capped.url);
    await c.auth(cluster.token('h9', ['room:*']));
    for (const ch of ['user:h9', 'room:a', 'room:b']) assert.equal((await c.request('sub', { ch })).op, 'ok');
    const over = await c.request('sub', { ch: 'room:c' });
    assert.equal(over.op, 'err');
    assert.equal(over.code, 'too_large');
    assert.equal((await c.request('sub', { ch: 'room:a' })).op, 'ok');  // already held: still answered
    assert.equal((await c.request('unsub', { ch: 'room:b' })).op, 'ok');
    assert.equal((await c.request('sub', { ch: 'room:c' })).op, 'ok');
    await c.close();
  });

  test('over the connection cap, new connections get 503', async () => {
    const capped = await cluster.startFrontend(['--max-connections', '3']);
    const held = [];
    for (let i = 0; i < 3; i++) held.push(await RawClient.connect(capped.port));
    await sleep(100);
    assert.equal(await httpStatus(capped.port, `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`), 503);
    for (const h of held) h.socket.destroy();
    await sleep(200);
    assert.deepEqual(await httpGet(capped.port, '/healthz'), { status: 200, body: 'ok\n' });
  });
});

// Not against a UBSan build (sanitize.sh sets WEBIM_TEST_UBSAN): UBSan's vptr check probes memory
// through pipe(), which fails in a process at its fd limit, and then reports virtual calls as made
// on an invalid vptr (false positives, seen in ~Connection and hub_link). integration/front_door
// runs this case against the ordinary build.
if (!process.env.WEBIM_TEST_UBSAN) describe('out of file descriptors', () => {
  test('EMFILE does not spin the loop and the frontend recovers', async () => {
    const cluster = new Cluster();
    const sockets = [];
    let results;
    try {
      await cluster.startHub();
      // The frontend's fd limit is set low through prlimit on its own process.
      const fe = await cluster.startFrontend();
      const { execFileSync } = await import('node:child_process');
      execFileSync('prlimit', ['--pid', String(fe.child.pid), '--nofile=40:40']);
      let closedByServer = 0;
      for (let i = 0; i < 60; i++) {
        const s = net.connect(fe.port, '127.0.0.1');
        s.on('error', () => {});
        s.on('close', () => { closedByServer++; });
        sockets.push(s);
      }
      await sleep(500);
      // Beyond the limit, libuv accepts with its reserve fd and closes at once: no spinning.
      assert.ok(closedByServer > 0, 'connections beyond the fd limit are closed');
      const cpu = () => {
        const fields = readFileSync(`/proc/${fe.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
        return Number(fields[11]) + Number(fields[12]);  // utime + stime, in clock ticks
      };
      const before = cpu();
      await sleep(1000);
      const used = cpu() - before;
      assert.ok(used < 30, `the loop spins at EMFILE (${used} ticks in 1 s)`);
      for (const s of sockets) s.destroy();
      await sleep(300);
      assert.deepEqual(await httpGet(fe.port, '/healthz'), { status: 200, body: 'ok\n' });
    } catch (e) {
      e.message += `\n${cluster.logs().slice(-4000)}`;
      throw e;
    } finally {
      // Also on failure: a frontend or hub left running would keep this file from ever ending.
      for (const s of sockets) s.destroy();
      results = await cluster.stop();
    }
    assert.deepEqual(results.fe1, { code: 0, signal: null }, cluster.logs().slice(-4000));
  });
});
