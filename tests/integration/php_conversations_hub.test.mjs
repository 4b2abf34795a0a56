// The PHP library's conversations against real hubs (docs/clients.md, docs/protocol.md
// "Conversations"): two shards, the user's inbox on one, a dm and a room spread over both.
// Webim\Hub::conversations (the inbox hub's page, then each shard's unread counts, merged) and
// Webim\HttpApi::conversations (POST /api/conversations) must give the frontend's own answer.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';

import { Client, Cluster, until } from './harness.mjs';

const PHP = process.env.WEBIM_PHP || 'php';
const PHP_DRIVER = new URL('./php/driver.php', import.meta.url).pathname;
const probe = spawnSync(PHP, ['-r', 'echo extension_loaded("zmq") && extension_loaded("curl") ? "ok" : "no";'], { encoding: 'utf8' });
const SKIP = probe.stdout === 'ok' ? false : 'php-cli with php-zmq and php-curl not found';
const shardOf = (name) => (crc32(name) % 1024 < 512 ? 0 : 1);

function php(commands) {
  const run = spawnSync(PHP, [PHP_DRIVER], { input: commands.map((c) => JSON.stringify(c)).join('\n') + '\n', encoding: 'utf8' });
  return run.stdout.trim().split('\n').map((line) => JSON.parse(line));
}

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

    const r = php([
      { do: 'hub', name: 'h', config: cluster.shardFile },
      { do: 'call', name: 'h', method: 'conversations', args: ['pcx'] },
      { do: 'call', name: 'h', method: 'conversations', args: ['pcx', 1] },
      { do: 'http', name: 'a', urls: [`http://127.0.0.1:${fe.adminPort}`], key: cluster.apiKey },
      { do: 'call', name: 'a', method: 'conversations', args: ['pcx'] },
    ]);
    assert.equal(r[1].ok, true, JSON.stringify(r[1]));
    assert.deepEqual(shape(r[1].result.items), shape(mine.items), 'Hub::conversations');
    assert.equal(r[1].result.more, false);
    assert.deepEqual([shape(r[2].result.items), r[2].result.more], [[shape(mine.items)[0]], true], 'a page of one');
    assert.equal(r[4].ok, true, JSON.stringify(r[4]));
    assert.deepEqual(shape(r[4].result.items), shape(mine.items), 'HttpApi::conversations');
    await me.close();
    await other.close();
  });
});
