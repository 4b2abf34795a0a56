// Shards: two hubs each own half of the slots (crc32(name) % 1024) through one shard table; a hub
// refuses channels it does not own (wrong_shard); frontends connect to both and route every
// request, subscription and inbox by slot.
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { apiPost, Client, Cluster } from './harness.mjs';

// Slots computed independently of our C++ (Node's zlib CRC-32, the same function as PHP's crc32()).
const slot = (name) => crc32(name) % 1024;

describe('two hubs, one shard table', () => {
  let cluster;
  let shards;
  let fe1;
  let fe2;
  const low = [];   // channels in slots 0-511 (hub0)
  const high = [];  // channels in slots 512-1023 (hub1)

  before(async () => {
    cluster = new Cluster();
    shards = await cluster.startShards(['0-511', '512-1023']);
    fe1 = await cluster.startFrontend();
    fe2 = await cluster.startFrontend();
    for (let i = 0; low.length < 2 || high.length < 2; i++) {
      const ch = `room:s${i}`;
      (slot(ch) < 512 ? low : high).push(ch);
    }
  });

  after(() => cluster.stopCleanly());

  test('a hub refuses a channel of another shard with wrong_shard', async () => {
    const wrong = await cluster.appRequest({ op: 'pub', ch: high[0], data: 1 }, 5000, shards[0].app_ingress);
    assert.deepEqual([wrong.ok, wrong.code], [false, 'wrong_shard']);
    assert.match(wrong.msg, /hub1/);
    const right = await cluster.appRequest({ op: 'pub', ch: high[0], data: 1, cid: 'sh-1' }, 5000, shards[1].app_ingress);
    assert.equal(right.ok, true);
  });

  test('frontends route publishes, subscriptions and history of both shards', async () => {
    const a = await Client.connect(fe1.url);
    const b = await Client.connect(fe2.url);
    await a.auth(cluster.token('sa', ['room:*']));
    await b.auth(cluster.token('sb', ['room:*']));
    const channels = [low[1], high[1]];
    for (const ch of channels) {
      assert.equal((await a.request('sub', { ch })).op, 'ok');
      assert.equal((await b.request('sub', { ch })).op, 'ok');
    }
    const acks = [];
    for (const ch of channels) acks.push(await a.request('pub', { ch, data: { ch }, cid: `r-${ch}` }));
    for (const ack of acks) assert.equal(ack.op, 'ok', JSON.stringify(ack));
    for (const c of [a, b]) {
      const got = await c.waitForMsgs(2);
      assert.deepEqual(got.map((m) => m.ch).sort(), [...channels].sort());
    }
    for (const ch of channels) {
      const hist = await b.request('hist', { ch, after: 0, limit: 10 });
      assert.deepEqual(hist.msgs.map((m) => m.data.ch), [ch]);
    }
    // The HTTP API routes by the body's channel too.
    const viaApi = await apiPost(fe2.port, 'publish', { ch: high[1], data: 'api', cid: 'api-sh' }, cluster.apiKey);
    assert.equal(viaApi.body.ok, true, JSON.stringify(viaApi.body));
    await a.close();
    await b.close();
  });

  test('inboxes on both shards are routed to their users', async () => {
    const users = [];
    for (let i = 0; users.length < 2; i++) {
      const u = `u${i}`;
      const s = slot(`user:${u}`) < 512 ? 0 : 1;
      if (!users.some((x) => x.shard === s)) users.push({ u, shard: s });
    }
    for (const { u, shard } of users) {
      const c = await Client.connect(fe1.url);
      await c.auth(cluster.token(u, []));
      assert.equal((await c.request('sub', { ch: `user:${u}` })).op, 'ok');
      const pushed = await cluster.appRequest({ op: 'pub', ch: `user:${u}`, data: { to: u }, cid: `inbox-${u}` },
        5000, shards[shard].app_ingress);
      assert.equal(pushed.ok, true, JSON.stringify(pushed));
      const [m] = await c.waitForMsgs(1);
      assert.deepEqual([m.ch, m.seq, m.data.to], [`user:${u}`, pushed.seq, u]);
      await c.close();
    }
  });
});
