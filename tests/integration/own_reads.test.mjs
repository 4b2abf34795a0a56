// A user's own publish marks the channel read up to it, on RocksDB (own_reads_check.mjs); and on
// two shards, where the sender's inbox lives on the other hub than the channel: her other device
// still learns it (PublishAck.read: the frontend posts the receipt to the inbox's hub).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';

import { Client, Cluster, until } from './harness.mjs';
import { checkOwnReads } from './own_reads_check.mjs';

const shardOf = (name) => (crc32(name) % 1024 < 512 ? 0 : 1);

describe('own publishes mark read (RocksDB)', () => {
  const cluster = new Cluster();
  after(() => cluster.stop());
  test('dm, room, retries, app publishes, inboxes', () => checkOwnReads(cluster, []));
});

describe('own publishes mark read (two shards)', () => {
  const cluster = new Cluster();
  after(() => cluster.stop());
  test("the sender's inbox on the other shard gets the receipt", async () => {
    const shards = await cluster.startShards(['0-511', '512-1023']);
    const fe = await cluster.startFrontend();
    let user;
    for (let i = 0; ; i++) if (shardOf(`user:own${i}`) === 1) { user = `own${i}`; break; }
    let ch;
    for (let i = 0; ; i++) if (shardOf(`room:own${i}`) === 0) { ch = `room:own${i}`; break; }
    const connect = async () => {
      const c = await Client.connect(fe.url);
      await c.auth(cluster.token(user, ['room:*']));
      return c;
    };
    const laptop = await connect();
    const phone = await connect();
    const seen = [];
    phone.ws.on('message', (d) => { const o = JSON.parse(d.toString()); if (o.op === 'read') seen.push(o); });
    assert.equal((await phone.request('sub', { ch: `user:${user}` })).op, 'ok');
    const r = await laptop.request('pub', { ch, data: 1, cid: 'x' });
    assert.equal(r.op, 'ok');
    await until(() => seen.length === 1, 'the inbox receipt', 5000);
    assert.deepEqual(seen[0], { op: 'read', ch, user, seq: r.seq });
    const u = await laptop.request('unread', { chs: [ch] });
    assert.deepEqual([u.unread[ch], u.read[ch]], [0, r.seq]);
    assert.ok(shards.length === 2);
    await laptop.close();
    await phone.close();
  });
});
