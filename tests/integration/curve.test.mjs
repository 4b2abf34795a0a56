// CURVE on the hub's sockets (docs/protocol.md section 4): keys from `webim-broadcast keygen`; a hub
// with a key refuses clients without the hub's public key; endpoints off loopback require it.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { BROADCAST, Client, Cluster, FRONTEND, freePort, runProgram } from './harness.mjs';

describe('CURVE on the hub sockets', () => {
  let cluster;
  let keyPrefix;
  let publicKey;
  let app;

  before(async () => {
    cluster = new Cluster();
    keyPrefix = join(cluster.dir, 'hub');
    const made = await runProgram(BROADCAST, ['keygen', '--out', keyPrefix]);
    assert.equal(made.code, 0, made.stderr);
    publicKey = readFileSync(`${keyPrefix}.pub`, 'utf8').trim();
    // CURVE is required off loopback and used whenever a key is configured: here on 127.0.0.1.
    const [a, i, p] = [await freePort(), await freePort(), await freePort()];
    app = `tcp://127.0.0.1:${a}`;
    cluster.endpoints = { app, ingress: `tcp://127.0.0.1:${i}`, pub: `tcp://127.0.0.1:${p}` };
    await cluster.startHub(['--curve-secret-key-file', `${keyPrefix}.key`]);
  });

  after(() => cluster.stopCleanly());

  test('keygen writes a private secret key and a public key', () => {
    assert.match(publicKey, /^.{40}$/);
    assert.equal(statSync(`${keyPrefix}.key`).mode & 0o777, 0o600);
  });

  test('the app ingress answers only clients that know the hub\'s public key', async () => {
    const without = await runProgram(BROADCAST, ['request', '--app-ingress', app, '--timeout-ms', '1500', '{"op":"stats"}']);
    assert.equal(without.code, 1, 'a plain client gets no answer');
    const withKey = await runProgram(BROADCAST, ['request', '--app-ingress', app, '--server-key', publicKey, '{"op":"stats"}']);
    assert.equal(withKey.code, 0, withKey.stderr);
    assert.equal(JSON.parse(withKey.stdout).ok, true);
  });

  test('frontends with the key chat through the hub; without it they cannot publish', async () => {
    const fe = await cluster.startFrontend(['--hub-public-key', publicKey]);
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token('cv', ['room:*']));
    assert.equal((await c.request('sub', { ch: 'room:curve' })).op, 'ok');
    const ack = await c.request('pub', { ch: 'room:curve', data: 'secret', cid: 'cv-1' });
    assert.equal(ack.op, 'ok', JSON.stringify(ack));
    const [m] = await c.waitForMsgs(1);
    assert.equal(m.data, 'secret');
    await c.close();

    const plain = await cluster.startFrontend(['--hub-timeout-ms', '800']);
    const d = await Client.connect(plain.url);
    await d.auth(cluster.token('cw', ['room:*']));
    const refused = await d.request('pub', { ch: 'room:curve', data: 'x', cid: 'cw-1' });
    assert.equal(refused.code, 'unavailable');
    await d.close();
  });

  test('off loopback without a key is a configuration error', async () => {
    const hub = await runProgram(BROADCAST, ['--app-ingress', 'tcp://0.0.0.0:1', '--data', join(cluster.dir, 'x')]);
    assert.equal(hub.code, 2);
    assert.match(hub.stderr, /off loopback: CURVE is required/);
    const fe = await runProgram(FRONTEND, ['--secret-file', cluster.secretFile, '--hub-ingress', 'tcp://0.0.0.0:1']);
    assert.equal(fe.code, 2);
    assert.match(fe.stderr, /off loopback/);
  });
});

// A frontend keeps one ZeroMQ context for all its hub links: with two CURVE hubs each link has its
// own key check (and handshake monitor) in that context, and both shards work.
describe('CURVE on two shards, one frontend', () => {
  let cluster;

  before(async () => {
    cluster = new Cluster();
    const keys = [];
    for (const name of ['shard0', 'shard1']) {
      const prefix = join(cluster.dir, name);
      const made = await runProgram(BROADCAST, ['keygen', '--out', prefix]);
      assert.equal(made.code, 0, made.stderr);
      keys.push({ pub: `${prefix}.pub`, key: `${prefix}.key` });
    }
    await cluster.startShards(['0-511', '512-1023'], [], keys);
  });

  after(() => cluster.stopCleanly());

  test('publishes and deliveries on channels of both shards', async () => {
    const fe = await cluster.startFrontend();
    const low = [];
    const high = [];
    for (let i = 0; low.length < 1 || high.length < 1; i++) {
      const ch = `room:c${i}`;
      (crc32(ch) % 1024 < 512 ? low : high).push(ch);
    }
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token('cs', ['room:*']));
    for (const ch of [low[0], high[0]]) assert.equal((await c.request('sub', { ch })).op, 'ok');
    for (const ch of [low[0], high[0]]) {
      const ack = await c.request('pub', { ch, data: ch, cid: `cs-${ch}` });
      assert.equal(ack.op, 'ok', JSON.stringify(ack));
    }
    assert.deepEqual((await c.waitForMsgs(2)).map((m) => m.ch).sort(), [low[0], high[0]].sort());
    await c.close();
  });
});
