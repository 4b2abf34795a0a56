// What a channel costs the hub: a channel that was never written has no record (a subscribe or an
// inbox attach writes nothing durable, so nobody can fill the store by subscribing to made-up
// channels); its epoch is derived from the store's seed, so the position a subscriber is told is
// the one its first message continues; channels unused for channel_idle_timeout leave the hub's
// memory and come back from the store.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, WebSocket, sleep } from './harness.mjs';
import { WebimClient } from '../../clients/js/webim.js';

const ZERO = '0000000000000000';

describe('channels that were never written', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub(['--channel-idle-timeout', '2']);
    fe = await cluster.startFrontend(['--rate-limit', '100000', '--rate-burst', '100000']);
  });
  after(() => cluster.stopCleanly());

  test('subscribing to them (DMs, rooms, inboxes) writes nothing durable', async () => {
    const before = (await cluster.hubStats()).channels;
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token('prober', []));  // no grants: DMs of its own and its inbox only
    const subs = Array.from({ length: 256 }, (_, i) => ({ ch: `dm:prober:x${i}` }));
    c.ws.send(JSON.stringify({ op: 'sub', id: 9, subs }));
    await c.request('sub', { ch: 'user:prober' });
    for (let i = 0; i < 100; i++) {
      const u = await Client.connect(fe.url);
      await u.auth(cluster.token(`idle${i}`, []));
      assert.equal((await u.request('sub', { ch: `user:idle${i}` })).op, 'ok');
      await u.close();
    }
    await sleep(300);
    assert.equal((await cluster.hubStats()).channels, before, 'no channel record was created');
    // Still none after a restart (the count is read from the store then).
    cluster.hub.child.kill('SIGKILL');
    await cluster.hub.exited;
    await cluster.startHub(['--channel-idle-timeout', '2']);
    assert.equal((await cluster.hubStats()).channels, before);
    await c.close();
  });

  test('a never-written channel is joined at its epoch, seq 0; its first message continues it, no resync', async () => {
    const raw = await Client.connect(fe.url);
    await raw.auth(cluster.token('first', ['room:*']));
    const ok = await raw.request('sub', { ch: 'room:fresh' });
    assert.equal(ok.op, 'ok');
    assert.notEqual(ok.epoch, ZERO);
    assert.equal(ok.seq, 0);
    // Asked again (another frontend, or after a hub restart), the same position.
    const again = await cluster.appRequest({ op: 'hist', ch: 'room:fresh', after: 0, limit: 1 });
    assert.deepEqual([again.epoch, again.last], [ok.epoch, 0]);

    const got = [];
    const events = [];
    const lib = new WebimClient({ url: fe.url, token: cluster.token('lib', ['room:*']), WebSocket, transports: ['websocket'] });
    lib.on('resync', (e) => events.push(e));
    await lib.connect();
    const start = await lib.subscribe('room:fresh', (m) => got.push(m.seq)).ready;
    assert.deepEqual([start.epoch, start.seq], [ok.epoch, 0]);

    const first = await cluster.appRequest({ op: 'pub', ch: 'room:fresh', data: 1 });
    assert.deepEqual([first.epoch, first.seq], [ok.epoch, 1]);
    const [m] = await raw.waitForMsgs(1);
    assert.deepEqual([m.epoch, m.seq], [ok.epoch, 1]);
    for (let i = 0; i < 50 && got.length < 1; i++) await sleep(20);
    assert.deepEqual(got, [1]);
    assert.deepEqual(events, [], 'no resync');
    assert.equal(raw.msgs.filter((x) => x.op === 'resync').length, 0);

    // Resuming from (epoch, 0) recovers everything the channel got since.
    await cluster.appRequest({ op: 'pub', ch: 'room:fresh', data: 2 });
    const late = await Client.connect(fe.url);
    await late.auth(cluster.token('late', ['room:*']));
    const resumed = await late.request('sub', { ch: 'room:fresh', since: { epoch: ok.epoch, seq: 0 } });
    assert.deepEqual([resumed.epoch, resumed.seq, resumed.recovered], [ok.epoch, 2, true]);
    assert.deepEqual((await late.waitForMsgs(2)).map((x) => x.seq), [1, 2]);
    for (const x of [raw, late]) await x.close();
    lib.close();
  });

  test('an inbox attached before its first message gets it once', async () => {
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token('newcomer', []));
    const ok = await c.request('sub', { ch: 'user:newcomer' });
    assert.equal(ok.seq, 0);
    const pub = await cluster.appRequest({ op: 'pub', ch: 'user:newcomer', data: 'welcome' });
    const [m] = await c.waitForMsgs(1);
    assert.deepEqual([m.epoch, m.seq, m.data], [ok.epoch, 1, 'welcome']);
    assert.equal(pub.epoch, ok.epoch);
    await sleep(200);
    assert.equal(c.msgs.length, 1);
    await c.close();
  });

  test('channels unused for channel_idle_timeout leave the hub\'s memory; their seq continues', async () => {
    // Published at once: the hub swaps generations every channel_idle_timeout / 2 (1 s here) and a
    // channel leaves at the second swap after its use, so all 40 are counted if the publishes and the
    // count take under 1 s (one at a time, a slow machine lost the first before the count).
    const acks = await cluster.appRequests(Array.from({ length: 40 }, (_, i) => ({ op: 'pub', ch: `room:idle${i}`, data: i })));
    assert.equal(acks.length, 40);
    for (const ack of acks) assert.equal(ack.ok, true);
    assert.ok((await cluster.hubStats()).channels_in_memory >= 40);
    let inMemory = Infinity;
    for (let i = 0; i < 50 && inMemory > 0; i++) {
      await sleep(200);
      inMemory = (await cluster.hubStats()).channels_in_memory;
    }
    assert.equal(inMemory, 0, 'every idle channel left memory');
    const again = await cluster.appRequest({ op: 'pub', ch: 'room:idle7', data: 'again' });
    assert.deepEqual([again.epoch, again.seq], [acks[7].epoch, acks[7].seq + 1]);
  });
});
