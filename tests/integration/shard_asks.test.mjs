// One request per shard, all sent at once (docs/architecture.md "Asking every shard",
// frontend/shard_asks.h): `unread` and `online` over two shards ask the second hub while the first
// one is still silent (sequential asking would wait for the first), and calls abandoned before
// their answer (a timeout, the connection closing) leave nothing behind: the late answers are
// dropped and the frontend goes on serving.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';

import { apiPost, Client, Cluster, sleep, until } from './harness.mjs';

const shardOf = (name) => (crc32(name) % 1024 < 512 ? 0 : 1);
const nameOn = (want, prefix) => {
  for (let i = 0; ; i++) if (shardOf(`${prefix}${i}`) === want) return `${prefix}${i}`;
};

describe('asking every shard at once', () => {
  let cluster;
  let fe;
  let shards;
  const hub = (i) => cluster.shardHubs[i].child;
  const unreads = async (i) => (await cluster.hubStats(shards[i].app_ingress)).unreads;

  before(async () => {
    cluster = new Cluster();
    shards = await cluster.startShards(['0-511', '512-1023']);
    fe = await cluster.startFrontend(['--hub-timeout-ms', '1500']);
  });

  after(() => cluster.stop());

  // Whichever shard is silent, the other one is asked at once (a sequential frontend asks the
  // shards in some order, and for one of the two choices never gets past the silent one).
  test('unread asks every shard while one is silent; the answer is unavailable after one deadline', async () => {
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token('par', ['room:*']));
    const a = nameOn(0, 'room:pa');
    const b = nameOn(1, 'room:pb');
    for (const silent of [0, 1]) {
      const other = 1 - silent;
      const before = await unreads(other);
      hub(silent).kill('SIGSTOP');
      try {
        const t0 = Date.now();
        const pending = c.request('unread', { chs: [a, b] }, 10000);
        await until(async () => (await unreads(other)) === before + 1, `shard ${other} asked while shard ${silent} is stopped`, 1200);
        const answer = await pending;
        assert.deepEqual([answer.op, answer.code], ['err', 'unavailable']);
        assert.ok(Date.now() - t0 < 3000, `one deadline, not one per shard (${Date.now() - t0} ms)`);
      } finally {
        hub(silent).kill('SIGCONT');
      }
      await sleep(200);  // the late answer of the silent shard arrives and is dropped
    }
    const ok = await c.request('unread', { chs: [b, a] });
    assert.deepEqual(ok.unread, { [b]: 0, [a]: 0 });
    await c.close();
  });

  test('calls abandoned by a timeout or a closing connection leave nothing behind', async () => {
    const users = [nameOn(0, 'u'), nameOn(1, 'u')];
    const watcher = await Client.connect(fe.url);
    await watcher.auth(cluster.token('watcher', ['room:*'], { presence: ['*'] }));
    hub(0).kill('SIGSTOP');
    hub(1).kill('SIGSTOP');
    try {
      // Both silent: the first call times out, the second is destroyed unanswered with the coroutine.
      const timedOut = await watcher.request('online', { users }, 10000);
      assert.deepEqual([timedOut.op, timedOut.code], ['err', 'unavailable']);
      // A connection that closes with its calls pending.
      const leaving = await Client.connect(fe.url);
      await leaving.auth(cluster.token('leaving', ['room:*']));
      leaving.ws.send(JSON.stringify({ op: 'unread', id: 1, chs: [nameOn(0, 'room:l'), nameOn(1, 'room:l')] }));
      leaving.ws.send(JSON.stringify({ op: 'online', id: 2, users }));
      await sleep(100);
      await leaving.close();
    } finally {
      hub(0).kill('SIGCONT');
      hub(1).kill('SIGCONT');
    }
    await sleep(300);
    const fresh = await watcher.request('online', { users });
    assert.equal(fresh.op, 'ok', JSON.stringify(fresh));
    assert.deepEqual(fresh.users.map((u) => u.user), users, 'answers in the order asked');
    const api = await apiPost(fe.port, 'online', { users: [users[1], users[0]] }, cluster.apiKey);
    assert.deepEqual([api.status, api.body.users.map((u) => u.user)], [200, [users[1], users[0]]], JSON.stringify(api.body));
    await watcher.close();
  });
});
