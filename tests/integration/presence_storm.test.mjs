// A small presence storm (docs/testing.md; the full size is scripts/bench-attach's storm, 100,000
// users at the hub): N users (WEBIM_STORM_USERS, default 1,500) on one frontend, which restarts;
// they all reconnect at once while a client on another frontend publishes and a watcher watches 100
// of them. Asserted: every publish is acked, every user is online again, the watcher ends with each
// watched user online (not a timing: the publish p50/p99 during the storm is printed for the record).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, sleep, until } from './harness.mjs';

const N = Number(process.env.WEBIM_STORM_USERS ?? 1500);

async function connectAll(fe, cluster, count) {
  const clients = [];
  for (let start = 0; start < count; start += 250) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + 250); i++) {
      batch.push(Client.connect(fe.url).then(async (c) => { await c.auth(cluster.token(`s${i}`, [])); return c; }));
    }
    clients.push(...await Promise.all(batch));
  }
  return clients;
}

describe('presence storm: a frontend restart', () => {
  let cluster;
  let fe1;
  let fe2;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub(['--presence-settle-ms', '300', '--presence-grace-ms', '2000', '--no-sync']);
    fe1 = await cluster.startFrontend(['--id', 'storm1', '--max-connections-per-address', '0']);
    fe2 = await cluster.startFrontend(['--rate-limit', '1000', '--rate-burst', '1000']);
    await sleep(400);
  });

  after(() => cluster.stopCleanly());

  test(`${N} users reconnect at once while another client publishes; the hub keeps acking`, async () => {
    const watched = Array.from({ length: 100 }, (_, i) => `s${i}`);
    const watcher = await Client.connect(fe2.url);
    const events = new Map();
    watcher.ws.on('message', (d) => {
      const o = JSON.parse(d.toString());
      if (o.op === 'watch') events.set(o.user, o.online);
    });
    await watcher.auth(cluster.token('watcher', [], { watch: watched, presence: ['s*'] }));
    let clients = await connectAll(fe1, cluster, N);
    await until(() => watched.every((u) => events.get(u) === true), 'all watched online', 20000, 100);

    const publisher = await Client.connect(fe2.url);
    await publisher.auth(cluster.token('pub', ['room:storm']));
    const latencies = [];
    let stop = false;
    const publishing = (async () => {
      for (let i = 0; !stop; i++) {
        const t = performance.now();
        const r = await publisher.publishUntilOk({ ch: 'room:storm', data: i, cid: `p${i}` });
        assert.equal(r.op, 'ok');
        latencies.push(performance.now() - t);
        await sleep(10);
      }
    })();
    await sleep(500);
    // The restart: every connection drops; the same users connect again at once.
    const closing = clients.map((c) => c.closed);
    await fe1.stop('SIGKILL');
    await Promise.all(closing);
    const started = Date.now();
    fe1 = await cluster.startFrontend(['--id', 'storm1', '--max-connections-per-address', '0']);
    clients = await connectAll(fe1, cluster, N);
    const reconnectS = (Date.now() - started) / 1000;
    const answer = async (ids) => (await watcher.request('online', { users: ids })).users ?? [];
    await until(async () => (await answer(watched)).every((u) => u.online), 'everyone online again', 30000, 200);
    await sleep(500);
    stop = true;
    await publishing;
    latencies.sort((a, b) => a - b);
    const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))].toFixed(1);
    console.log(`presence storm: ${N} users reconnected in ${reconnectS.toFixed(2)} s; ${latencies.length} publishes, ack p50 ${pct(0.5)} ms p99 ${pct(0.99)} ms max ${latencies[latencies.length - 1].toFixed(1)} ms`);
    assert.ok(latencies.length > 10);
    // The frontend was killed: the hub forgets it after frontend_timeout, or at once when its new
    // process says hello; within the grace the watcher may see no offline at all. In the end: online.
    await until(() => watched.every((u) => events.get(u) === true), 'the watcher ends with everyone online', 20000, 100);
    for (const c of clients) c.ws.terminate();
    await watcher.close();
    await publisher.close();
  });
});
