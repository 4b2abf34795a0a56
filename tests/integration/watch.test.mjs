// The watchlist (docs/protocol.md "Watchlist"): the token's `watch` claim names up to 1,000 user
// ids; after auth the connection gets each one's status, then every change wherever the watched
// user connects (two frontends, two shards), debounced by the hub's grace period: a reconnect
// within it is no event, going offline is told only after it. A refresh auth replaces the list.
// Counted on the wire: every {"op":"watch"} frame a client receives.
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, WebSocket, sleep, until } from './harness.mjs';
import { WebimClient } from '../../clients/js/webim.js';

const slot = (name) => crc32(name) % 1024;
const GRACE_MS = 1000;

function watchEventsOf(client) {
  const seen = [];
  client.ws.on('message', (data) => {
    const obj = JSON.parse(data.toString());
    if (obj.op === 'watch') seen.push({ ...obj, at: Date.now() });
  });
  return seen;
}

// A client whose watch events are recorded from its first frame on.
async function watcher(fe, cluster, user, watch) {
  const c = await Client.connect(fe.url);
  const events = watchEventsOf(c);
  await c.auth(cluster.token(user, [], { watch }));
  return { c, events };
}

async function connect(fe, cluster, user) {
  const c = await Client.connect(fe.url);
  await c.auth(cluster.token(user, []));
  return c;
}

describe('the watchlist on two shards and two frontends', () => {
  let cluster;
  let fe1;
  let fe2;
  const users = [];  // one watched user per shard

  before(async () => {
    cluster = new Cluster();
    await cluster.startShards(['0-511', '512-1023'], ['--presence-settle-ms', '300', '--presence-grace-ms', String(GRACE_MS)]);
    fe1 = await cluster.startFrontend(['--heartbeat-ms', '100']);
    fe2 = await cluster.startFrontend(['--heartbeat-ms', '100']);
    for (let i = 0; users.length < 2; i++) {
      const u = `w${i}`;
      if (users.length === (slot(`user:${u}`) < 512 ? 0 : 1)) users.push(u);
    }
    await sleep(600);  // past the hubs' settling window
  });

  after(() => cluster.stopCleanly());

  test('current status after auth, then online at once and offline after the grace period', async () => {
    const [bob, carol] = users;
    const { c: alice, events } = await watcher(fe1, cluster, 'alice', [bob, carol]);
    await until(() => events.length === 2, 'the two statuses after auth');
    assert.deepEqual(events.map(({ op, user, online, last_seen }) => ({ op, user, online, last_seen })).sort((a, b) => a.user.localeCompare(b.user)),
      [{ op: 'watch', user: bob, online: false, last_seen: null }, { op: 'watch', user: carol, online: false, last_seen: null }].sort((a, b) => a.user.localeCompare(b.user)));

    // bob connects on the other frontend: told at once.
    const bob1 = await connect(fe2, cluster, bob);
    await until(() => events.length === 3, 'bob online');
    assert.deepEqual([events[2].user, events[2].online, events[2].last_seen], [bob, true, undefined]);

    // bob reconnects within the grace period: nothing at all.
    await bob1.close();
    await sleep(GRACE_MS / 3);
    const bob2 = await connect(fe1, cluster, bob);
    await sleep(GRACE_MS + 700);
    assert.equal(events.length, 3, `no event for a reconnect within the grace: ${JSON.stringify(events.slice(3))}`);

    // bob goes: told only after the grace period, with his last seen.
    const gone = Date.now();
    await bob2.close();
    await sleep(GRACE_MS / 2);
    assert.equal(events.length, 3, 'not before the grace period');
    await until(() => events.length === 4, 'bob offline after the grace');
    const offline = events[3];
    assert.deepEqual([offline.user, offline.online, typeof offline.last_seen], [bob, false, 'number']);
    assert.ok(offline.at - gone >= GRACE_MS - 100, `told after ${offline.at - gone} ms`);
    assert.ok(Math.abs(offline.last_seen - gone) < 500, `last_seen ${offline.last_seen} vs ${gone}`);

    // Several devices: offline only when the last one goes (still after the grace).
    const carolPhone = await connect(fe1, cluster, carol);
    const carolLaptop = await connect(fe2, cluster, carol);
    await until(() => events.length === 5, 'carol online');
    assert.deepEqual([events[4].user, events[4].online], [carol, true]);
    await carolPhone.close();
    await sleep(GRACE_MS + 500);
    assert.equal(events.length, 5, 'one device left: still online');
    await carolLaptop.close();
    await until(() => events.length === 6, 'carol offline', GRACE_MS + 5000);
    assert.deepEqual([events[5].user, events[5].online], [carol, false]);

    // A second watcher of bob on another frontend gets the known status at once.
    const { c: dave, events: daveEvents } = await watcher(fe2, cluster, 'dave', [bob]);
    await until(() => daveEvents.length === 1, 'dave gets bob');
    assert.deepEqual([daveEvents[0].user, daveEvents[0].online, daveEvents[0].last_seen], [bob, false, offline.last_seen]);
    await dave.close();
    await alice.close();
  });

  test('a refresh auth replaces the list', async () => {
    const [bob, carol] = users;
    const { c: erin, events } = await watcher(fe2, cluster, 'erin', [bob]);
    await until(() => events.length === 1, 'bob status');
    const refreshed = await erin.request('auth', { token: cluster.token('erin', [], { watch: [carol] }) });
    assert.equal(refreshed.op, 'ok');
    await until(() => events.length === 2, 'carol status after the refresh');
    assert.equal(events[1].user, carol);
    const b = await connect(fe1, cluster, bob);
    const c = await connect(fe1, cluster, carol);
    await until(() => events.length === 3, 'carol online');
    await sleep(300);
    assert.deepEqual(events.slice(2).map((e) => [e.user, e.online]), [[carol, true]], 'nothing about bob any more');
    await b.close();
    await c.close();
    await erin.close();
  });

  for (const transport of ['websocket', 'longpoll']) {
    test(`the JS client (${transport}): online() and 'watch' events`, async () => {
      const [bob] = users;
      const opts = { WebSocket, requestTimeoutMs: 3000, backoff: { baseMs: 50, maxMs: 400 }, transports: [transport] };
      const token = cluster.token(`js-${transport}`, [], { presence: ['w*'], watch: [bob] });
      const client = new WebimClient({ ...opts, url: fe1.url, token });
      const events = [];
      client.on('watch', (e) => events.push(e));
      client.connect();
      await until(async () => {
        try { return (await client.online([bob]))[0].user === bob; } catch { return false; }
      }, 'online() answers', 8000);
      const b = await connect(fe2, cluster, bob);
      await until(async () => (await client.online([bob]))[0].online, 'bob online through online()');
      if (transport === 'websocket') await until(() => events.some((e) => e.user === bob && e.online), 'a watch event');
      await assert.rejects(client.online(['x1']), { code: 'forbidden' });
      await b.close();
      client.close();
    });
  }

  test('1,000 watched ids: a status each; 1,001: the token is refused with a reason', async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `m${i}`);
    const { c: big, events } = await watcher(fe1, cluster, 'big', ids);
    await until(() => events.length === 1000, '1,000 statuses', 10000);
    assert.equal(new Set(events.map((e) => e.user)).size, 1000);
    const m7 = await connect(fe2, cluster, 'm7');
    await until(() => events.length === 1001, 'm7 online');
    assert.deepEqual([events[1000].user, events[1000].online], ['m7', true]);
    await m7.close();
    await big.close();

    const tooMany = await Client.connect(fe1.url);
    tooMany.ws.send(JSON.stringify({ op: 'auth', id: 1, token: cluster.token('x', [], { watch: [...ids, 'm1000'] }) }));
    const closed = await tooMany.closed;
    assert.equal(closed.code, 4001);
    assert.match(closed.reason, /watch/);
  });
});

describe('the watchlist across a hub restart', () => {
  let cluster;
  let fe;
  const hubArgs = ['--presence-settle-ms', '300', '--presence-grace-ms', '500'];

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub(hubArgs);
    fe = await cluster.startFrontend(['--heartbeat-ms', '100', '--hub-timeout-ms', '1000']);
    await sleep(400);
  });

  after(() => cluster.stopCleanly());

  test('after kill -9 the frontend watches again: a later change is still told, a known status not again', async () => {
    const { c: alice, events } = await watcher(fe, cluster, 'alice', ['bob']);
    const bob = await connect(fe, cluster, 'bob');
    await until(() => events.some((e) => e.online), 'bob online');
    const before = events.length;
    await cluster.hub.stop('SIGKILL');
    await cluster.startHub(hubArgs);
    await sleep(1500);  // re-attached, re-watched, settled
    assert.equal(events.length, before, `nothing new after the restart: ${JSON.stringify(events.slice(before))}`);
    await bob.close();
    await until(() => events.length === before + 1, 'bob offline, told by the restarted hub', 8000);
    assert.deepEqual([events[before].user, events[before].online], ['bob', false]);
    await alice.close();
  });
});
