// An erase_user job whose slices fail (a store error on every try: the disk is full, the database
// is away) waits before it tries again, instead of retrying in a busy loop that burns the hub's core
// and writes a warning line per loop iteration; publishes are still acked meanwhile. Its retry also
// needs an idle hub's loop to wake up by itself (it did not, see the second defect below).
//
// Failed before: 233,312 warning lines in 2 s (the busy loop); then, with the retry delay alone,
// none at all: with no channel presence deadline the poll's timeout was UINT64_MAX - now as a
// signed count, i.e. negative, i.e. endless, so an idle hub did no housekeeping until traffic came.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { Cluster, sleep } from './harness.mjs';

describe('erase_user with store errors', () => {
  let cluster;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHubWith('hub.erase_store_error');  // every erase slice fails
  });

  after(() => cluster.stopCleanly());

  test('a failing erase slice is retried about once a second, not in a busy loop', async () => {
    for (let i = 0; i < 20; i++) {
      assert.equal((await cluster.appRequest({ op: 'pub', ch: 'room:es', from: 'eve', data: i })).ok, true);
    }
    const started = await cluster.appRequest({ op: 'erase_user', user: 'eve' });
    assert.equal(started.state, 'running');
    const logBefore = cluster.hub.log.length;
    const cpuBefore = cpuSeconds(cluster.hub.child.pid);
    await sleep(2000);
    const warnings = cluster.hub.log.slice(logBefore).split('\n').filter((l) => l.includes('erase_user eve')).length;
    const cpu = cpuSeconds(cluster.hub.child.pid) - cpuBefore;
    assert.ok(warnings >= 1 && warnings <= 4, `retries logged in 2 s: ${warnings}\n${cluster.hub.log.slice(-1500)}`);
    assert.ok(cpu < 0.5, `hub CPU in 2 s of retrying: ${cpu.toFixed(2)} s`);
    assert.equal((await cluster.appRequest({ op: 'pub', ch: 'room:es', from: 'ann', data: 'still' })).ok, true);
    assert.equal((await cluster.appRequest({ op: 'erase_status', user: 'eve' })).state, 'running');
  });
});

// The process's user + system CPU time, from /proc (clock ticks of 1/100 s).
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
