// The watchlist's grace period when the last watcher leaves during it (review of issue 15): bob is
// watched, goes offline (the hub starts his grace period), his only watcher leaves, bob comes back
// (nobody watches anyone at the hub any more), and a new watcher arrives while bob is online. bob's
// stale grace period must not end in an "offline" event: bob is online the whole time.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, sleep, until } from './harness.mjs';

const GRACE_MS = 1500;

async function watcher(fe, cluster, user, watch) {
  const c = await Client.connect(fe.url);
  const events = [];
  c.ws.on('message', (data) => {
    const obj = JSON.parse(data.toString());
    if (obj.op === 'watch') events.push(obj);
  });
  await c.auth(cluster.token(user, [], { watch }));
  return { c, events };
}

async function connect(fe, cluster, user) {
  const c = await Client.connect(fe.url);
  await c.auth(cluster.token(user, []));
  return c;
}

describe('the watchlist grace period', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub(['--presence-settle-ms', '200', '--presence-grace-ms', String(GRACE_MS)]);
    fe = await cluster.startFrontend(['--heartbeat-ms', '100']);
    await sleep(400);  // past the hub's settling window
  });

  after(() => cluster.stopCleanly());

  test('an online user is never told offline by a grace period that began before the last watcher left', async () => {
    const bob1 = await connect(fe, cluster, 'bob');
    const { c: alice, events } = await watcher(fe, cluster, 'alice', ['bob']);
    await until(() => events.length === 1 && events[0].online === true, 'bob online for alice');

    await bob1.close();        // the hub starts bob's grace period (alice watches him)
    await sleep(200);
    await alice.close();       // the last watcher goes: the frontend unwatches bob
    await sleep(200);
    const bob2 = await connect(fe, cluster, 'bob');  // back within the grace period
    await sleep(200);

    const { c: carol, events: carolEvents } = await watcher(fe, cluster, 'carol', ['bob']);
    await until(() => carolEvents.length === 1, 'bob status for carol');
    assert.equal(carolEvents[0].online, true, 'bob is online');

    await sleep(GRACE_MS + 700);  // past the end of bob's old grace period
    assert.deepEqual(carolEvents.map((e) => e.online), [true],
      `bob never went offline again, carol was told: ${JSON.stringify(carolEvents)}`);
    await carol.close();
    await bob2.close();
  });
});
