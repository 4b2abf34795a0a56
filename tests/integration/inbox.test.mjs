// Inboxes are routed, not subscribed: a frontend attaches the users whose `user:<id>` inbox it
// holds, and the hub publishes each inbox message once per holding frontend on that frontend's own
// topic. No per-user ZeroMQ topic exists; after a hub restart the frontends attach again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, httpGet, sleep } from './harness.mjs';

function metric(body, name) {
  const line = body.split('\n').find((l) => l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : undefined;
}

describe('routed inboxes', () => {
  let cluster;
  let fe1;
  let fe2;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe1 = await cluster.startFrontend();
    fe2 = await cluster.startFrontend();
  });

  after(() => cluster.stopCleanly());

  test('a push to user:<id> reaches the user on every frontend, once each, without a per-user topic', async () => {
    const a = await Client.connect(fe1.url);
    const b = await Client.connect(fe2.url);
    const b2 = await Client.connect(fe2.url);  // a second tab on the same frontend
    for (const c of [a, b, b2]) {
      await c.auth(cluster.token('ina', []));
      const ok = await c.request('sub', { ch: 'user:ina' });
      assert.equal(ok.op, 'ok', JSON.stringify(ok));
    }
    const other = await Client.connect(fe1.url);
    await other.auth(cluster.token('inb', []));
    await other.request('sub', { ch: 'user:inb' });

    const pushed = await cluster.appRequest({ op: 'pub', ch: 'user:ina', data: { note: 1 }, cid: 'in-1' });
    assert.equal(pushed.ok, true);
    for (const c of [a, b, b2]) {
      const [m] = await c.waitForMsgs(1);
      assert.deepEqual([m.ch, m.seq, m.data.note], ['user:ina', pushed.seq, 1]);
    }
    await sleep(200);
    for (const c of [a, b, b2]) assert.equal(c.msgs.length, 1, 'once per connection');
    assert.equal(other.msgs.length, 0, 'other users see nothing');
    // The inboxes cost no ZeroMQ subscription: only the rooms would.
    assert.equal(metric((await httpGet(fe1.port, '/metrics')).body, 'webim_hub_subscriptions'), 0);
    for (const c of [a, b, b2, other]) await c.close();
  });

  test('after a hub restart the inboxes are attached again and nothing is missed', async () => {
    const a = await Client.connect(fe1.url);
    await a.auth(cluster.token('inc', []));
    const sub = await a.request('sub', { ch: 'user:inc' });
    const first = await cluster.appRequest({ op: 'pub', ch: 'user:inc', data: 'first', cid: 'inc-1' });
    await a.waitForMsgs(1);

    cluster.hub.child.kill('SIGKILL');
    await cluster.hub.exited;
    await cluster.startHub();
    // Pushed right after the restart, possibly before this frontend attached again: it still
    // arrives (the attach answer shows the inbox is ahead, the frontend fills from history).
    let second;
    for (let i = 0; i < 50 && !second; i++) {
      try {
        second = await cluster.appRequest({ op: 'pub', ch: 'user:inc', data: 'second', cid: 'inc-2' }, 1000);
      } catch {
        await sleep(100);
      }
    }
    assert.equal(second.seq, first.seq + 1);
    const third = await cluster.appRequest({ op: 'pub', ch: 'user:inc', data: 'third', cid: 'inc-3' });
    const got = await a.waitForMsgs(3, () => true, 10000);
    assert.deepEqual(got.map((m) => m.data), ['first', 'second', 'third']);
    assert.equal(sub.epoch, got[2].epoch);
    await a.close();
  });
});
