// The PHP library's conversations against real hubs (docs/clients.md, docs/protocol.md
// "Conversations"): two shards, the user's inbox on one, a dm and a room spread over both.
// Webim\Hub::conversations (the inbox hub's page, then each shard's unread counts, merged) and
// Webim\HttpApi::conversations (POST /api/conversations) must give the frontend's own answer.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';

import { Client, Cluster, until } from './harness.mjs';
import { PhpDriver, phpSkipReason } from './php_driver.mjs';

const SKIP = phpSkipReason();
const shardOf = (name) => (crc32(name) % 1024 < 512 ? 0 : 1);

describe('PHP conversations against two real hubs', { skip: SKIP }, () => {
  let cluster;
  let fe;
  let peer;  // a user whose dm with 'pcx' lives on the other shard than pcx's inbox
  let room;  // a room on the other shard than pcx's inbox

  before(async () => {
    cluster = new Cluster();
    await cluster.startShards(['0-511', '512-1023']);
    fe = await cluster.startFrontend();
    const inbox = shardOf('user:pcx');
    for (let i = 0; !peer; i++) if (shardOf(`dm:pcp${i}:pcx`) !== inbox) peer = `pcp${i}`;
    for (let i = 0; !room; i++) if (shardOf(`room:pc${i}`) !== inbox) room = `room:pc${i}`;
  });

  after(() => cluster.stopCleanly());

  test('Hub::conversations and HttpApi::conversations match the client\'s own list', async () => {
    const dm = `dm:${peer}:pcx`;
    const me = await Client.connect(fe.url);
    await me.auth(cluster.token('pcx', [room]));
    const other = await Client.connect(fe.url);
    await other.auth(cluster.token(peer));
    for (let i = 0; i < 3; i++) assert.equal((await other.request('pub', { ch: dm, data: i, cid: `p${i}` })).op, 'ok');
    assert.equal((await me.request('read', { ch: dm, seq: 1 })).op, 'ok');
    assert.equal((await me.request('pub', { ch: room, data: 'r', cid: 'r1' })).op, 'ok');
    let mine;
    await until(async () => {
      mine = await me.request('conversations', {});
      return mine.items?.length === 2;
    }, 'both conversations listed');
    const shape = (items) => items.map((i) => [i.ch, i.seq, i.unread, i.read, i.peer_read ?? null]);
    assert.deepEqual(shape(mine.items), [[room, 1, 0, 1, null], [dm, 3, 2, 1, 3]]);

    const php = new PhpDriver();
    assert.equal((await php.hub('h', cluster.shardFile, 3000)).ok, true);
    const all = await php.ok('h', 'conversations', 'pcx');  // ok(): asserts the call succeeded
    assert.deepEqual(shape(all.items), shape(mine.items), 'Hub::conversations');
    assert.equal(all.more, false);
    const one = await php.ok('h', 'conversations', 'pcx', 1);
    assert.deepEqual([shape(one.items), one.more], [[shape(mine.items)[0]], true], 'a page of one');
    assert.equal((await php.http('a', [`http://127.0.0.1:${fe.adminPort}`], cluster.apiKey, 3000)).ok, true);
    const api = await php.ok('a', 'conversations', 'pcx');
    assert.deepEqual(shape(api.items), shape(mine.items), 'HttpApi::conversations');
    assert.equal(await php.close(), 0, `php driver did not exit cleanly:\n${php.stderr}`);
    await me.close();
    await other.close();
  });
});
