// An idle hub still does its housekeeping (review of issue 15): with no channel presence deadline
// pending, the loop's poll must keep its 250 ms timeout (it waited forever: UINT64_MAX - now as a
// signed millisecond count). Seen through a frontend killed for good: the hub forgets it once
// frontend_timeout has passed, though nothing else arrives at the hub.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { Cluster, sleep, until } from './harness.mjs';

let cluster;
after(() => cluster?.stop());

test('an idle hub forgets a frontend killed for good after frontend_timeout', async () => {
  cluster = new Cluster();
  await cluster.startHub(['--frontend-timeout', '1']);
  const fe = await cluster.startFrontend(['--heartbeat-ms', '200']);
  await sleep(500);  // admitted (hellos)
  await fe.stop('SIGKILL');
  await until(() => /frontend fe1 gone/.test(cluster.hub.log), 'the hub forgets fe1', 4000);
  assert.match(cluster.hub.log, /frontend fe1 gone/);
});
