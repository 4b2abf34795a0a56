// Read cursors for the app (docs/protocol.md sections 4 and 5): `read` on behalf of a user and
// `unread` for a user, through the app ingress (Webim\Hub, one request per shard, merged) and the
// HTTP API (Webim\HttpApi; the frontend asks each shard). Two shards, real php-cli.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';

import { Client, Cluster, until } from './harness.mjs';
import { PhpDriver, phpSkipReason } from './php_driver.mjs';

const shardOf = (name) => (crc32(name) % 1024 < 512 ? 0 : 1);
const nameOn = (want, prefix) => { for (let i = 0; ; i++) if (shardOf(`${prefix}${i}`) === want) return `${prefix}${i}`; };

const SKIP = phpSkipReason();

// tests/integration/php/driver.php: one JSON command per line, one JSON answer per line.
describe('read cursors for the app (PHP library, HTTP API, app ingress)', { skip: SKIP }, () => {
  let cluster;
  let shards;
  let fe1;
  let php;

  before(async () => {
    cluster = new Cluster();
    shards = await cluster.startShards(['0-511', '512-1023']);
    fe1 = await cluster.startFrontend();
    php = new PhpDriver();
    assert.equal((await php.send({ do: 'hub', name: 'h', config: cluster.shardFile, timeout_ms: 3000 })).ok, true);
    assert.equal((await php.send({ do: 'http', name: 'api', urls: `http://127.0.0.1:${fe1.adminPort}`, key: cluster.apiKey, timeout_ms: 3000 })).ok, true);
  });

  after(async () => {
    if (php) await php.close();
    if (cluster) await cluster.stop();
  });

  test('Hub::read and Hub::unread across two shards; the dm peer gets the receipt', async () => {
    const a = nameOn(0, 'room:pa');
    const b = nameOn(1, 'room:pb');
    const dm = 'dm:pan:pbo';
    for (const ch of [a, b, dm]) {
      for (let i = 0; i < 3; i++) await php.ok('h', 'publish', ch, i);
    }
    const peer = await Client.connect(fe1.url);
    await peer.auth(cluster.token('pbo'));
    const seen = [];
    peer.ws.on('message', (d) => { const o = JSON.parse(d.toString()); if (o.op === 'read') seen.push(o); });
    assert.equal((await peer.request('sub', { ch: dm })).op, 'ok');
    assert.equal(await php.ok('h', 'read', 'pan', a, 1), 1);
    assert.equal(await php.ok('h', 'read', 'pan', b, 9), 3, 'clamped');
    assert.equal(await php.ok('h', 'read', 'pan', dm, 2), 2);
    assert.equal(await php.ok('h', 'read', 'pan', a, 0), 1, 'monotonic');
    await until(() => seen.length === 1, 'the dm receipt', 5000);
    assert.deepEqual(seen[0], { op: 'read', ch: dm, user: 'pan', seq: 2 });
    const counts = await php.ok('h', 'unread', 'pan', [a, b, dm]);
    assert.deepEqual(counts, { unread: { [a]: 2, [b]: 0, [dm]: 1 }, read: { [a]: 1, [b]: 3, [dm]: 2 }, peer_read: { [dm]: 0 } });
    const peers = await php.ok('h', 'unread', 'pbo', [dm]);
    assert.deepEqual(peers.peer_read, { [dm]: 2 });
    await peer.close();
  });

  test('HttpApi::read and HttpApi::unread through a frontend, which asks both shards', async () => {
    const a = nameOn(0, 'room:ha');
    const b = nameOn(1, 'room:hb');
    for (const ch of [a, b]) for (let i = 0; i < 4; i++) await php.ok('h', 'publish', ch, i);
    assert.equal(await php.ok('api', 'read', 'hx', b, 3), 3);
    const counts = await php.ok('api', 'unread', 'hx', [a, b]);
    counts.peer_read = { ...counts.peer_read };  // PHP's empty array is encoded as []
    assert.deepEqual(counts, { unread: { [a]: 4, [b]: 1 }, read: { [a]: 0, [b]: 3 }, peer_read: {} });
    const post = async (path, body) => {
      const res = await fetch(`http://127.0.0.1:${fe1.adminPort}${path}`, {
        method: 'POST', headers: { Authorization: `Bearer ${cluster.apiKey}` }, body: JSON.stringify(body),
      });
      return [res.status, await res.json()];
    };
    assert.deepEqual((await post('/api/unread', { user: 'hx', chs: Array.from({ length: 501 }, (_, i) => `room:x${i}`) }))[0], 413);
    assert.equal((await post('/api/unread', { chs: [a] }))[0], 400);
    assert.equal((await post('/api/read', { user: 'hx', ch: a }))[0], 400);
  });

  test('the app ingress refuses bad reads: missing user or seq, 501 channels, another shard\'s channel', async () => {
    const app0 = shards[0].app_ingress;
    const own = nameOn(0, 'room:ai');
    const other = nameOn(1, 'room:ai');
    const ask = (req) => cluster.appRequest(req, 5000, app0);
    assert.equal((await ask({ op: 'read', ch: own, seq: 1 })).code, 'bad_request');
    assert.equal((await ask({ op: 'read', user: 'u', ch: own })).code, 'bad_request');
    assert.equal((await ask({ op: 'unread', user: 'u', chs: Array.from({ length: 501 }, (_, i) => `room:y${i}`) })).code, 'too_large');
    assert.equal((await ask({ op: 'unread', user: 'u', chs: [own, other] })).code, 'wrong_shard');
    assert.deepEqual(await ask({ op: 'unread', user: 'u', chs: [own] }), { ok: true, unread: { [own]: 0 }, read: { [own]: 0 }, peer_read: {} });
  });
});
