// The watchlist's retries (docs/architecture.md "Watchlist"): a watch the hub does not acknowledge
// in time is sent again, but only for the users still watched on this frontend: an unwatch made
// while the watch was in flight wins, so the hub holds no watch nobody here holds (it would route
// that user's changes to this frontend until the frontend is forgotten). Observed at the hub: its
// `stats` `watched_users`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, sleep, until } from './harness.mjs';

describe('a watch retried after its unwatch', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub(['--presence-settle-ms', '200', '--presence-grace-ms', '300']);
    fe = await cluster.startFrontend(['--heartbeat-ms', '100', '--hub-timeout-ms', '300']);
    await sleep(300);  // past the hub's settling window
  });

  after(() => cluster.stopCleanly());

  test('the unwatch wins: the retry sends only users still watched, the hub ends with none', async () => {
    const alice = await Client.connect(fe.url);
    await alice.auth(cluster.token('alice', []));
    const carol = await Client.connect(fe.url);
    await carol.auth(cluster.token('carol', []));
    cluster.hub.child.kill('SIGSTOP');
    try {
      // Both watch while the hub does not answer: one WatchUsers [bob, dave] in flight, timing out.
      assert.equal((await alice.request('auth', { token: cluster.token('alice', [], { watch: ['bob'] }) })).op, 'ok');
      assert.equal((await carol.request('auth', { token: cluster.token('carol', [], { watch: ['dave'] }) })).op, 'ok');
      // alice stops watching bob before the first attempt times out: the unwatch queues behind it.
      assert.equal((await alice.request('auth', { token: cluster.token('alice', []) })).op, 'ok');
      await sleep(1800);  // the first attempt timed out (300 ms), the retry went after 1 s and timed out too
    } finally {
      cluster.hub.child.kill('SIGCONT');
    }
    // The hub takes them in order: watch [bob], watch [dave], unwatch [bob], then the retries.
    await sleep(3000);  // the retries left have gone (5 attempts, 1 s apart)
    const stats = await cluster.hubStats();
    assert.equal(stats.watched_users, 1, `only dave, still watched by carol: ${JSON.stringify(stats)}`);
    await carol.close();
    await until(async () => (await cluster.hubStats()).watched_users === 0, 'nobody watched once carol is gone');
    await alice.close();
  });
});
