// The PHP library (clients/php) against a real hub and two real frontends, with real php-cli:
// tokens from Webim\Token authenticate Node `ws` clients; Webim\Hub pushes, dedups, pages history,
// times out and recovers on the same object; Webim\HttpApi builds its requests right (against a
// `php -S` stub) and against the real /api/publish. PHP runs through
// tests/integration/php/driver.php (one JSON command per line) so one Hub object lives across steps.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { BROADCAST, Client, Cluster, Process, freePort, sleep } from './harness.mjs';
import { PHP, PHP_DIR, PhpDriver, phpSkipReason } from './php_driver.mjs';

const run = promisify(execFile);

// Debian's php-cli loads php-zmq through /etc/php/8.2/cli/conf.d, so plain `php` is enough.
const SKIP = phpSkipReason();

// One long-lived `php driver.php`; call() sends a command and resolves with its reply line.
async function waitForPort(port, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const up = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port}`);
}

async function waitForLog(proc, pattern, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  while (!pattern.test(proc.log)) {
    if (Date.now() > until || proc.child.exitCode !== null) throw new Error(`${proc.name} not ready:\n${proc.log}`);
    await sleep(20);
  }
}

// The raw text of the next msg frame on `ws` (to check `data` byte for byte).
function nextRawMsg(client, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no msg frame')), timeoutMs);
    const onMessage = (d) => {
      const text = d.toString();
      if (text.includes('"op":"msg"')) {
        clearTimeout(timer);
        client.ws.off('message', onMessage);
        resolve(text);
      }
    };
    client.ws.on('message', onMessage);
  });
}

describe('PHP client library (clients/php)', { skip: SKIP }, () => {
  let cluster;
  let fe1;
  let fe2;
  let php;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe1 = await cluster.startFrontend();
    fe2 = await cluster.startFrontend();
    php = new PhpDriver();
    assert.equal((await php.hub('h', cluster.endpoints.app, 2000)).ok, true);
  });

  after(async () => {
    if (php) assert.equal(await php.close(), 0, `php driver did not exit cleanly:\n${php.stderr}`);
    if (!cluster) return;
    const results = await cluster.stop();
    for (const [name, r] of Object.entries(results)) {
      assert.deepEqual(r, { code: 0, signal: null }, `${name} did not exit cleanly on SIGTERM:\n${cluster.logs()}`);
    }
  });

  test('unit_tests.php: Token vectors, base64url, slots, shard table, request building, Hub resets', async () => {
    let out;
    try {
      out = await run(PHP, [join(PHP_DIR, 'unit_tests.php')], { timeout: 30000 });
    } catch (e) {
      assert.fail(`unit_tests.php failed (exit ${e.code}):\n${e.stdout}\n${e.stderr}`);
    }
    assert.match(out.stdout, /# all \d+ passed/, out.stdout);
  });

  test('tokens from Token::issue are accepted; tampered, expired, alg none, HS384 are closed 4001', async () => {
    const { stdout } = await run(PHP, [join(PHP_DIR, 'tokens.php'), cluster.secret, 'pat']);
    const tokens = JSON.parse(stdout);

    const c = await Client.connect(fe1.url);
    const auth = await c.auth(tokens.valid);
    assert.equal(auth.user, 'pat');
    assert.equal((await c.request('sub', { ch: 'room:php' })).op, 'ok', 'ch grant');
    assert.equal((await c.request('sub', { ch: 'user:pat' })).op, 'ok');
    assert.equal((await c.request('sub', { ch: 'room:other' })).code, 'forbidden', 'no grant outside ch');
    const pub = await c.request('pub', { ch: 'room:php', data: { t: 1 }, cid: 'tok-1' });
    assert.equal(pub.op, 'ok', `pub grant: ${JSON.stringify(pub)}`);
    await c.close();

    for (const name of ['tampered', 'expired', 'none', 'none_signed', 'hs384', 'wrong_secret']) {
      const bad = await Client.connect(fe2.url);
      bad.ws.send(JSON.stringify({ op: 'auth', id: 1, token: tokens[name] }));
      assert.equal((await bad.closed).code, 4001, `${name} token`);
    }
  });

  test('Hub::publish reaches clients on both frontends with the seq it returned', async () => {
    const a = await Client.connect(fe1.url);
    const b = await Client.connect(fe2.url);
    await a.auth(cluster.token('ann', ['room:push']));
    await b.auth(cluster.token('ben', ['room:*']));
    const subA = await a.request('sub', { ch: 'room:push' });
    await b.request('sub', { ch: 'room:push' });

    const r1 = await php.ok('h', 'publish', 'room:push', { text: 'héllo', list: [1, 2] }, null, 'app');
    assert.deepEqual(Object.keys(r1).sort(), ['epoch', 'seq']);
    assert.equal(r1.epoch, subA.epoch);
    assert.equal(r1.seq, subA.seq + 1);
    const r2 = await php.ok('h', 'publish', 'room:push', 'second');
    assert.equal(r2.seq, r1.seq + 1);

    const msA = await a.waitForMsgs(2);
    const msB = await b.waitForMsgs(2);
    assert.deepEqual(msA, msB, 'same messages, same order on both frontends');
    assert.deepEqual(msA.map((m) => m.seq), [r1.seq, r2.seq]);
    assert.equal(msA[0].from, 'app');
    assert.equal(msA[1].from, 'system', 'default sender');
    assert.deepEqual(msA[0].data, { text: 'héllo', list: [1, 2] });
    assert.equal(msA[1].data, 'second');
    await a.close();
    await b.close();
  });

  test('a retried publish with the same cid is stored once; generated cids differ per call', async () => {
    const first = await php.ok('h', 'publish', 'room:dedup', { n: 1 }, 'order-17');
    const again = await php.ok('h', 'publish', 'room:dedup', { n: 1 }, 'order-17');
    assert.deepEqual(again, first);
    const x = await php.ok('h', 'publish', 'room:dedup', 'auto');
    const y = await php.ok('h', 'publish', 'room:dedup', 'auto');
    assert.equal(y.seq, x.seq + 1, 'no cid given: two calls are two messages');
    const hist = await php.ok('h', 'history', 'room:dedup', null, 0, 50);
    assert.equal(hist.epoch, first.epoch);
    assert.deepEqual(hist.msgs.map((m) => m.seq), [first.seq, x.seq, y.seq]);
    assert.deepEqual(hist.msgs[0].data, { n: 1 });
    assert.equal(hist.more, false);
    const page = await php.ok('h', 'history', 'room:dedup', y.seq, null, 1);
    assert.deepEqual(page.msgs.map((m) => m.seq), [x.seq], 'before + limit');
    assert.equal(page.more, true);
    // The same cid on another channel is refused.
    const other = await php.call('h', 'publish', 'room:dedup2', 1, 'order-17');
    assert.deepEqual([other.ok, other.class, other.code], [false, 'Webim\\HubException', 'bad_request'], JSON.stringify(other));
  });

  test('RawJson data with a 25-digit integer arrives verbatim', async () => {
    const c = await Client.connect(fe2.url);
    await c.auth(cluster.token('raw', ['room:raw']));
    await c.request('sub', { ch: 'room:raw' });
    const raw = '{"id":1234567890123456789012345,"z":1,"a":[1.50,"\\u00e9"]}';
    const frame = nextRawMsg(c);
    const r = await php.ok('h', 'publish', 'room:raw', { $raw: raw });
    const text = await frame;
    assert.ok(text.includes(`"data":${raw}`), `data not verbatim: ${text}`);
    assert.ok(text.includes(`"seq":${r.seq}`));
    const hist = await php.ok('h', 'history', 'room:raw', null, 0, 10);
    assert.equal(hist.msgs[0].data.id, '1234567890123456789012345', 'history keeps big integers (as strings in PHP)');
    await c.close();
  });

  test('malformed input gets HubException bad_request and the hub keeps serving', async () => {
    const cases = [
      ['publish', 'bad name!', 1],
      ['publish', 'room:x', 1, ''],
      ['publish', 'room:x', 1, 'c', ''],
      ['history', 'room:x', 5, 3],
      ['history', 'room:x', null, null, 500],
      ['request', '{"op":"pub",'],
      ['request', '[1,2]'],
      ['request', '{"op":"nope"}'],
    ];
    for (const [method, ...args] of cases) {
      const r = await php.call('h', method, ...args);
      assert.deepEqual([r.ok, r.class, r.code], [false, 'Webim\\HubException', 'bad_request'], `${method} ${JSON.stringify(args)}: ${JSON.stringify(r)}`);
    }
    const local = await php.call('h', 'publish', 'room:x', { $raw: '{"a":' });
    assert.equal(local.class, 'InvalidArgumentException', 'an invalid RawJson never leaves PHP');
    assert.equal((await php.ok('h', 'publish', 'room:x', 'still fine')).seq, 1);
  });

  test('stats() reports counters per hub', async () => {
    const stats = await php.ok('h', 'stats');
    assert.deepEqual(Object.keys(stats), ['hub0']);
    assert.ok(stats.hub0.published >= 5, JSON.stringify(stats));
    assert.ok(stats.hub0.bad_requests >= 1, JSON.stringify(stats));
  });

  test('kick closes every connection of the user on every frontend', async () => {
    const probe = await php.call('h', 'kick', 'nobody-here', 4003, 'probe');
    assert.equal(probe.ok, true, JSON.stringify(probe));
    const k1 = await Client.connect(fe1.url);
    const k2 = await Client.connect(fe2.url);
    const other = await Client.connect(fe1.url);
    await k1.auth(cluster.token('kicked', ['room:k']));
    await k2.auth(cluster.token('kicked', ['room:k']));
    await other.auth(cluster.token('stays', ['room:k']));
    await php.ok('h', 'kick', 'kicked', 4003, 'banned');
    const timeout = (ms) => sleep(ms).then(() => ({ code: 'still open' }));
    assert.deepEqual(await Promise.race([k1.closed, timeout(5000)]), { code: 4003, reason: 'banned' });
    assert.deepEqual(await Promise.race([k2.closed, timeout(5000)]), { code: 4003, reason: 'banned' });
    assert.equal((await other.request('sub', { ch: 'room:k' })).op, 'ok', 'other users are untouched');
    await other.close();
  });

  test('hub stopped (SIGSTOP): TimeoutException within the timeout, then the same Hub works after SIGCONT', async () => {
    await php.hub('stop', cluster.endpoints.app, 1000);
    assert.equal((await php.ok('stop', 'publish', 'room:stop', 'before')).seq, 1);
    cluster.hub.child.kill('SIGSTOP');
    let r;
    try {
      r = await php.call('stop', 'publish', 'room:stop', 'while stopped', 'stop-cid');
    } finally {
      cluster.hub.child.kill('SIGCONT');
    }
    assert.deepEqual([r.ok, r.class, r.code, r.cid], [false, 'Webim\\TimeoutException', 'timeout', 'stop-cid'], JSON.stringify(r));
    assert.ok(r.ms >= 950 && r.ms < 1500, `timed out after ${r.ms} ms (timeout 1000)`);
    assert.ok(r.resets >= 1, 'the stuck REQ socket was discarded');
    // Same object: a new socket. The app retries with the same cid: stored once.
    const retry = await php.ok('stop', 'publish', 'room:stop', 'while stopped', 'stop-cid');
    const next = await php.ok('stop', 'publish', 'room:stop', 'after');
    assert.equal(next.seq, retry.seq + 1);
    const hist = await php.ok('stop', 'history', 'room:stop', null, 0, 50);
    assert.deepEqual(hist.msgs.map((m) => m.data), ['before', 'while stopped', 'after'], 'the timed-out message stored exactly once');
  });

  test('hub killed: TimeoutException, then the same Hub works once the hub is restarted', async () => {
    await php.hub('kill', cluster.endpoints.app, 800);
    const before = await php.ok('kill', 'publish', 'room:kill', 'one');
    const status = await cluster.hub.stop('SIGKILL');
    assert.equal(status.signal, 'SIGKILL');
    const r = await php.call('kill', 'publish', 'room:kill', 'lost?', 'kill-cid');
    assert.deepEqual([r.ok, r.class], [false, 'Webim\\TimeoutException'], JSON.stringify(r));
    assert.ok(r.ms >= 750 && r.ms < 1300, `timed out after ${r.ms} ms (timeout 800)`);
    await cluster.startHub();
    const retry = await php.ok('kill', 'publish', 'room:kill', 'lost?', 'kill-cid');
    assert.equal(retry.epoch, before.epoch, 'history survived the restart');
    assert.equal(retry.seq, before.seq + 1);
  });

  test('a shard table routes channels by crc32 % 1024 to two hubs', async () => {
    const dir = cluster.dir;
    const hub1 = new Process('hub1', BROADCAST, [
      '--app-ingress', `ipc://${dir}/app1`, '--hub-ingress', `ipc://${dir}/ingress1`,
      '--hub-pub', `ipc://${dir}/pub1`, '--data', join(dir, 'hub1'), '--log-level', 'info',
    ]);
    try {
      await waitForLog(hub1, /webim-broadcast ready/);
      const table = {
        slots: 1024,
        shards: [
          { name: 'hub0', slots: '0-511', app_ingress: cluster.endpoints.app },
          { name: 'hub1', slots: '512-1023', app_ingress: `ipc://${dir}/app1` },
        ],
      };
      const file = join(dir, 'shards.json');
      writeFileSync(file, JSON.stringify(table));
      await php.hub('sharded', file, 2000);
      await php.hub('only0', cluster.endpoints.app, 2000);
      await php.hub('only1', `ipc://${dir}/app1`, 2000);
      // room:1 -> slot 144 (hub0), room:10 -> slot 1001 (hub1): zlib.crc32 values.
      await php.ok('sharded', 'publish', 'room:1', 'to hub0');
      await php.ok('sharded', 'publish', 'room:10', 'to hub1');
      const data = async (h, ch) => (await php.ok(h, 'history', ch, null, 0, 10)).msgs.map((m) => m.data);
      assert.deepEqual(await data('only0', 'room:1'), ['to hub0']);
      assert.deepEqual(await data('only0', 'room:10'), []);
      assert.deepEqual(await data('only1', 'room:10'), ['to hub1']);
      assert.deepEqual(await data('only1', 'room:1'), []);
      assert.deepEqual(await data('sharded', 'room:10'), ['to hub1'], 'history is routed too');
      const stats = await php.ok('sharded', 'stats');
      assert.deepEqual(Object.keys(stats), ['hub0', 'hub1']);
      assert.equal(stats.hub1.published, 1);
    } finally {
      assert.deepEqual(await hub1.stop(), { code: 0, signal: null }, hub1.log);
    }
  });

  test('HttpApi: request building, errors and failover against a php -S stub', async () => {
    const port = await freePort();
    const deadPort = await freePort();
    const log = join(cluster.dir, 'stub.log');
    writeFileSync(log, '');
    // Process spawns with this process's environment: the stub reads its log path and key there.
    Object.assign(process.env, { WEBIM_STUB_LOG: log, WEBIM_STUB_KEY: 'k-123' });
    const stub = new Process('stub', PHP, ['-S', `127.0.0.1:${port}`, join(PHP_DIR, 'http_stub.php')]);
    for (const k of ['WEBIM_STUB_LOG', 'WEBIM_STUB_KEY']) delete process.env[k];
    try {
      await waitForPort(port);
      await php.http('api', [`http://127.0.0.1:${deadPort}`, `http://127.0.0.1:${port}/`], 'k-123', 1500);
      const pub = await php.ok('api', 'publish', 'room:1', { $raw: '{"n":1234567890123456789012345}' }, 'cid-h1', 'app');
      assert.equal(pub.epoch, '00000000000000ab', 'the dead URL was skipped');
      const hist = await php.ok('api', 'history', 'room:1', null, 0, 10);
      assert.equal(hist.msgs[0].data.n, '1234567890123456789012345');
      assert.deepEqual(await php.ok('api', 'kick', '42', 4003, 'bye'), []);
      const bad = await php.call('api', 'publish', 'bad:1', 1, 'cid-bad');
      assert.deepEqual([bad.class, bad.code], ['Webim\\HubException', 'bad_request'], JSON.stringify(bad));
      const html = await php.call('api', 'publish', 'html:1', 1, 'cid-html');
      assert.deepEqual([html.class, html.code], ['Webim\\HubException', 'unavailable'], JSON.stringify(html));
      assert.ok(html.ms >= 1400, `502 retried until the deadline (${html.ms} ms)`);
      await php.http('wrongkey', `http://127.0.0.1:${port}`, 'nope', 1500);
      const denied = await php.call('wrongkey', 'publish', 'room:1', 1);
      assert.deepEqual([denied.class, denied.code], ['Webim\\HubException', 'forbidden'], JSON.stringify(denied));
      const slow = await php.call('api', 'publish', 'slow:1', 1, 'cid-slow');
      assert.deepEqual([slow.class, slow.code, slow.cid], ['Webim\\TimeoutException', 'timeout', 'cid-slow'], JSON.stringify(slow));
      assert.ok(slow.ms >= 1400 && slow.ms < 2000, `timed out after ${slow.ms} ms (timeout 1500)`);

      const requests = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const [p, h, k] = requests;
      assert.deepEqual(p, {
        method: 'POST', path: '/api/publish', auth: 'Bearer k-123', type: 'application/json', accept: 'application/json',
        body: '{"op":"pub","ch":"room:1","from":"app","cid":"cid-h1","data":{"n":1234567890123456789012345}}',
      });
      assert.deepEqual([h.path, h.body], ['/api/hist', '{"op":"hist","ch":"room:1","after":0,"limit":10}']);
      assert.deepEqual([k.path, k.body], ['/api/kick', '{"op":"kick","user":"42","code":4003,"reason":"bye"}']);
      const count = (cid) => requests.filter((r) => r.body.includes(`"cid":"${cid}"`));
      assert.equal(count('cid-bad').length, 1, 'bad_request is not retried');
      assert.ok(count('cid-html').length >= 2, '502 is retried');
      assert.equal(new Set(count('cid-html').map((r) => r.body)).size, 1, 'with the same body (same cid)');
      assert.equal(requests.find((r) => r.auth !== 'Bearer k-123')?.auth, 'Bearer nope');
    } finally {
      await stub.stop();
    }
  });

  test('HttpApi against the real frontend /api/publish', async () => {
    const res = await fetch(`http://127.0.0.1:${fe1.adminPort}/api/publish`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer wrong-key' },
      body: '{"op":"pub","ch":"room:http","data":1}',
    });
    await res.text();
    assert.equal(res.status, 401, 'the frontend serves /api/publish (on its private listener) and refuses a wrong key');
    await php.http('real', `http://127.0.0.1:${fe1.adminPort}`, 'wrong-key', 2000);
    const denied = await php.call('real', 'publish', 'room:http', 1);
    assert.equal(denied.ok, false, JSON.stringify(denied));
    assert.equal(denied.code, 'forbidden', JSON.stringify(denied));  // with HTTP status 401
    assert.equal(denied.class, 'Webim\\HubException', 'a wrong key is not retried');
    await php.http('real', `http://127.0.0.1:${fe1.adminPort}`, cluster.apiKey, 2000);
    const c = await Client.connect(fe2.url);
    await c.auth(cluster.token('web', ['room:http']));
    await c.request('sub', { ch: 'room:http' });
    const r = await php.ok('real', 'publish', 'room:http', { $raw: '{"n":1234567890123456789012345}' });
    const [m] = await c.waitForMsgs(1);
    assert.equal(m.seq, r.seq);
    await c.close();
  });
});
