// Hardening against tokens and requests a careless or hostile client sends: token lifetimes, user
// ids and grant patterns the frontend must refuse, the HTTP head (Host, HEAD), the Origin check,
// static files behind symlinks, and a refreshed token with fewer grants.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, makeToken, sleep } from './harness.mjs';

// One raw HTTP exchange: writes `head` and reads until the server closes.
// Resolves {status, headers (lower-case names), body (Buffer), raw (string)}.
function rawHttp(port, head, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer to ${JSON.stringify(head)}`)); }, timeoutMs);
    socket.on('data', (d) => { data = Buffer.concat([data, d]); });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const end = data.indexOf('\r\n\r\n');
      const headText = data.subarray(0, end < 0 ? data.length : end).toString('latin1');
      const [statusLine, ...lines] = headText.split('\r\n');
      const headers = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({
        status: Number((statusLine.match(/^HTTP\/1\.1 (\d{3})/) || [])[1]),
        headers,
        body: end < 0 ? Buffer.alloc(0) : data.subarray(end + 4),
        raw: data.toString('latin1'),
      });
    });
  });
}

// A WebSocket handshake with these headers; resolves with the HTTP status (101 when upgraded).
function upgradeStatus(port, headers) {
  const lines = Object.entries({
    Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13', ...headers,
  }).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET /ws HTTP/1.1\r\n${lines}\r\n`));
    let data = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('no handshake answer')); }, 5000);
    socket.on('data', (d) => {
      data += d.toString('latin1');
      const m = data.match(/^HTTP\/1\.1 (\d{3})/);
      if (m && data.includes('\r\n\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on('error', () => {});
  });
}

// One masked client text frame holding `obj` as JSON (to write several in one TCP write).
function maskedTextFrame(obj) {
  const body = Buffer.from(JSON.stringify(obj));
  const header = body.length < 126 ? Buffer.from([0x81, 0x80 | body.length]) : Buffer.from([0x81, 0x80 | 126, body.length >> 8, body.length & 0xff]);
  const mask = randomBytes(4);
  const masked = Buffer.from(body.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([header, mask, masked]);
}

// Authenticates a fresh connection with `token`; resolves {code, reason} if the server closes it
// instead of answering ok.
async function authOutcome(url, token) {
  const c = await Client.connect(url);
  c.ws.send(JSON.stringify({ op: 'auth', id: 1, token }));
  const outcome = await Promise.race([
    c.closed,
    new Promise((resolve) => c.waiting.set(1, (reply) => resolve({ reply }))),
    sleep(5000).then(() => ({ timeout: true })),
  ]);
  c.ws.terminate();
  return outcome;
}

async function postSession(port, token) {
  const res = await fetch(`http://127.0.0.1:${port}/session`, { method: 'POST', body: JSON.stringify({ token }) });
  return { status: res.status, body: await res.json() };
}

describe('hardening', () => {
  let cluster;
  let fe;
  const now = () => Math.floor(Date.now() / 1000);

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub(['--no-sync']);
    fe = await cluster.startFrontend();
  });

  after(async () => {
    await cluster.stopCleanly();
  });

  test('a token whose exp lies beyond max_token_lifetime is refused: 4001 on /ws, 401 on /session', async () => {
    const farAway = cluster.token('far', ['room:*'], { exp: 2 ** 62 });
    const ws = await authOutcome(fe.url, farAway);
    assert.equal(ws.code, 4001, JSON.stringify(ws));
    assert.match(ws.reason, /max_token_lifetime/);
    const http = await postSession(fe.port, farAway);
    assert.equal(http.status, 401);
    assert.match(http.body.msg, /max_token_lifetime/);

    // The default is 7 days, with the clock leeway (30 s) on top, as for exp and nbf.
    const week = 7 * 86400;
    const eightDays = cluster.token('far', ['room:*'], { exp: now() + week + 3600 });
    assert.equal((await authOutcome(fe.url, eightDays)).code, 4001);
    const withinLeeway = cluster.token('near', ['room:*'], { exp: now() + week + 10 });
    assert.equal((await authOutcome(fe.url, withinLeeway)).reply?.op, 'ok');
    assert.equal((await postSession(fe.port, withinLeeway)).status, 200);
  });

  test('user ids with control characters, empty or over 128 bytes are refused (4001 / 401)', async () => {
    for (const sub of ['a\u0000b', 'bob\n', '\t', 'x\u007f', '', 'u'.repeat(129)]) {
      const token = cluster.token(sub, ['room:*']);
      const ws = await authOutcome(fe.url, token);
      assert.equal(ws.code, 4001, JSON.stringify({ sub, ws }));
      assert.match(ws.reason, /invalid sub/);
      const http = await postSession(fe.port, token);
      assert.equal(http.status, 401);
      assert.match(http.body.msg, /invalid sub/);
    }
    assert.equal((await authOutcome(fe.url, cluster.token('u'.repeat(128), []))).reply?.op, 'ok');
    assert.equal((await authOutcome(fe.url, cluster.token('Jörg Müller', []))).reply?.op, 'ok');
  });

  test('grant patterns that are not channel names or prefixes ending in one * are refused (4001 / 401)', async () => {
    // "room:a\nroom:b" once made a grant set look like another user's two patterns.
    for (const ch of [['room:a\nroom:b'], ['room:a\n'], ['room:*:x'], [''], ['room 1'], ['room:\u0000']]) {
      for (const claims of [{ ch }, { ch: [], pub: ch }]) {
        const token = makeToken(cluster.secret, { sub: 'p', ...claims });
        const ws = await authOutcome(fe.url, token);
        assert.equal(ws.code, 4001, JSON.stringify({ claims, ws }));
        assert.match(ws.reason, /pattern/);
        assert.equal((await postSession(fe.port, token)).status, 401);
      }
    }
  });

  test('max_token_lifetime is a setting; a sid beyond the lifetime of the frontend it reaches is refused', async () => {
    const short = await cluster.startFrontend(['--max-token-lifetime', '600']);
    const hour = cluster.token('hour', ['room:*'], { exp: now() + 3600 });
    assert.equal((await authOutcome(short.url, hour)).code, 4001);
    assert.equal((await authOutcome(fe.url, hour)).reply?.op, 'ok');

    // A sid carries its token's exp: made by a frontend that allows a year, it is refused by one
    // that allows 10 minutes (HTTP 401, with the reason).
    const long = await cluster.startFrontend(['--max-token-lifetime', String(365 * 86400)]);
    const month = cluster.token('month', ['room:*'], { exp: now() + 30 * 86400 });
    const session = await postSession(long.port, month);
    assert.equal(session.status, 200, JSON.stringify(session.body));
    const { sid } = session.body;
    const ok = await fetch(`http://127.0.0.1:${long.port}/cmd?sid=${sid}`, {
      method: 'POST', body: JSON.stringify({ op: 'hist', id: 1, ch: 'room:m', limit: 1 }),
    });
    assert.equal(ok.status, 200);
    const refused = await fetch(`http://127.0.0.1:${short.port}/cmd?sid=${sid}`, {
      method: 'POST', body: JSON.stringify({ op: 'hist', id: 1, ch: 'room:m', limit: 1 }),
    });
    assert.equal(refused.status, 401);
    assert.match((await refused.json()).msg, /max_token_lifetime/);
    const events = await fetch(`http://127.0.0.1:${short.port}/events?sid=${sid}&ch=room:m`);
    assert.equal(events.status, 401);
  });

  test('HTTP/1.1 without Host (or with two) is answered 400 (RFC 9112 3.2)', async () => {
    const missing = await rawHttp(fe.port, 'GET /healthz HTTP/1.1\r\n\r\n');
    assert.equal(missing.status, 400);
    assert.match(missing.body.toString(), /Host/);
    assert.equal((await rawHttp(fe.port, 'GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')).status, 400);
    assert.equal((await rawHttp(fe.port, 'GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n')).status, 400);
    assert.equal((await rawHttp(fe.port, 'POST /cmd?sid=x HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}')).status, 400);
    assert.equal((await rawHttp(fe.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')).status, 200);
    assert.equal((await rawHttp(fe.port, 'GET /healthz HTTP/1.0\r\n\r\n')).status, 200);  // 1.0 may leave it out
  });

  test('same-origin means an http or https page with the same host and port; other schemes must be listed', async () => {
    const host = `127.0.0.1:${fe.port}`;
    assert.equal(await upgradeStatus(fe.port, { Host: host, Origin: `http://${host}` }), 101);
    assert.equal(await upgradeStatus(fe.port, { Host: host, Origin: `https://${host}` }), 101);
    for (const scheme of ['chrome-extension', 'moz-extension', 'file', 'ws', 'ftp']) {
      assert.equal(await upgradeStatus(fe.port, { Host: host, Origin: `${scheme}://${host}` }), 403, scheme);
    }
    // The HTTP fallback and its CORS use the same policy.
    const session = await fetch(`http://${host}/session`, {
      method: 'POST', headers: { Origin: `chrome-extension://${host}` }, body: JSON.stringify({ token: cluster.token('o', []) }),
    });
    assert.equal(session.status, 403);
    // allowed_origins entries still compare exactly, whatever their scheme.
    const listed = await cluster.startFrontend(['--allowed-origins', 'chrome-extension://abcdefghijklmnop']);
    const listedHost = `127.0.0.1:${listed.port}`;
    assert.equal(await upgradeStatus(listed.port, { Host: listedHost, Origin: 'chrome-extension://abcdefghijklmnop' }), 101);
    assert.equal(await upgradeStatus(listed.port, { Host: listedHost, Origin: `chrome-extension://${listedHost}` }), 403);
  });

  test('HEAD gets the status and headers of GET (Content-Length included) and no body', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/nope', '/ws', '/events']) {
      const port = path === '/metrics' ? fe.adminPort : fe.port;  // on the private listener
      const get = await rawHttp(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      const head = await rawHttp(port, `HEAD ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(head.body.length, 0, `HEAD ${path} carried a body: ${JSON.stringify(head.raw)}`);
      if (path === '/ws' || path === '/events') {
        assert.equal(head.status, 405);  // an upgrade, an event stream: GET only
        assert.ok(Number(head.headers['content-length']) > 0);
        continue;
      }
      assert.equal(head.status, get.status, path);
      assert.equal(head.headers['content-type'], get.headers['content-type'], path);
      if (path !== '/metrics') {  // the metrics text changes between the two requests
        assert.equal(head.headers['content-length'], String(get.body.length), path);
      }
    }
  });

  test('static files: only regular files inside the directory, at their own paths; symlinks are not followed', async () => {
    const root = join(cluster.dir, 'static');
    mkdirSync(join(root, 'sub'), { recursive: true });
    mkdirSync(join(cluster.dir, 'outside'));
    writeFileSync(join(root, 'index.html'), '<p>hi</p>');
    writeFileSync(join(root, 'sub', 'page.txt'), 'inner');
    writeFileSync(join(cluster.dir, 'target'), 'SECRET outside the static dir');
    writeFileSync(join(cluster.dir, 'outside', 'x.txt'), 'SECRET in a directory outside');
    symlinkSync('../target', join(root, 'link'));                  // a file outside
    symlinkSync(join(cluster.dir, 'target'), join(root, 'abs'));   // the same, absolute
    symlinkSync('../outside', join(root, 'dirlink'));               // a directory outside
    symlinkSync('index.html', join(root, 'alias.html'));            // inside the tree: not followed either
    const st = await cluster.startFrontend(['--static-dir', root, '--static-dir', `/m/=${root}`]);

    const get = (path, method = 'GET') => rawHttp(st.port, `${method} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    for (const prefix of ['/', '/m/']) {
      const index = await get(`${prefix}index.html`);
      assert.equal(index.status, 200);
      assert.equal(index.body.toString(), '<p>hi</p>');
      assert.equal((await get(prefix)).body.toString(), '<p>hi</p>');
      assert.equal((await get(`${prefix}sub/page.txt`)).body.toString(), 'inner');
      for (const path of ['../target', 'link', 'abs', 'dirlink/x.txt', '../outside/x.txt', 'alias.html', 'target']) {
        const r = await get(prefix + path);
        assert.equal(r.status, 404, `${prefix}${path}: ${r.raw}`);
        assert.doesNotMatch(r.raw, /SECRET/);
      }
    }
    const head = await get('/index.html', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '9');
    assert.equal(head.body.length, 0);
  });

  test('a refresh auth with fewer grants ends the subscriptions it no longer allows, telling the client per channel', async () => {
    const c = await Client.connect(fe.url);
    const events = [];
    c.ws.on('message', (data) => {
      const obj = JSON.parse(data.toString());
      if (obj.op === 'revoked') events.push(obj);
    });
    await c.auth(cluster.token('r1', ['room:ra', 'room:rb', 'room:rc*']));
    for (const ch of ['room:ra', 'room:rb', 'room:rc1', 'user:r1']) {
      assert.equal((await c.request('sub', { ch })).op, 'ok', ch);
    }
    // The same user, a new token without room:rb and room:rc*: those two are revoked, the rest stays.
    const refreshed = await c.request('auth', { token: cluster.token('r1', ['room:ra']) });
    assert.equal(refreshed.op, 'ok');
    assert.deepEqual(events.map((e) => e.ch).sort(), ['room:rb', 'room:rc1']);
    for (const e of events) {
      assert.equal(e.code, 'forbidden');
      assert.equal(typeof e.msg, 'string');
      assert.equal(e.id, undefined);
    }
    // Nothing of a revoked channel follows; the others go on.
    await cluster.appRequest({ op: 'pub', ch: 'room:rb', data: { n: 'b' } });
    await cluster.appRequest({ op: 'pub', ch: 'room:rc1', data: { n: 'c' } });
    await cluster.appRequest({ op: 'pub', ch: 'room:ra', data: { n: 'a' } });
    await cluster.appRequest({ op: 'pub', ch: 'user:r1', data: { n: 'u' } });
    await c.waitForMsgs(2, (m) => m.ch === 'room:ra' || m.ch === 'user:r1');
    await sleep(200);
    assert.deepEqual(c.msgs.filter((m) => m.op === 'msg').map((m) => m.ch).sort(), ['room:ra', 'user:r1']);
    // Subscribing again is forbidden now.
    const again = await c.request('sub', { ch: 'room:rb' });
    assert.equal(again.op, 'err');
    assert.equal(again.code, 'forbidden');

    // A sub still joining when the refresh revokes it is answered forbidden (after its revoked event).
    events.length = 0;
    await c.request('auth', { token: cluster.token('r1', ['room:ra', 'room:rd*']) });
    // Both frames in one TCP write, so the frontend reads them together: the sub is still waiting
    // for the hub's sync when the auth revokes it.
    const subId = c.nextId++;
    const authId = c.nextId++;
    const [pending, revoking] = [subId, authId].map((id) => new Promise((resolve) => c.waiting.set(id, resolve)));
    c.ws._socket.write(Buffer.concat([
      maskedTextFrame({ op: 'sub', id: subId, ch: 'room:rd-new' }),
      maskedTextFrame({ op: 'auth', id: authId, token: cluster.token('r1', ['room:ra']) }),
    ]));
    const [joined, reauthed] = await Promise.all([pending, revoking]);
    assert.equal(reauthed.op, 'ok');
    assert.equal(joined.op, 'err', JSON.stringify(joined));
    assert.equal(joined.code, 'forbidden');
    assert.deepEqual(events.map((e) => e.ch), ['room:rd-new']);
    await cluster.appRequest({ op: 'pub', ch: 'room:rd-new', data: { n: 'd' } });
    await sleep(200);
    assert.ok(!c.msgs.some((m) => m.ch === 'room:rd-new'));

    // A refresh that keeps every grant revokes nothing.
    events.length = 0;
    assert.equal((await c.request('auth', { token: cluster.token('r1', ['room:ra']) })).op, 'ok');
    await sleep(100);
    assert.equal(events.length, 0);
    await c.close();
  });
});
