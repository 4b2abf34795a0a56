// Read cursors survive a hub restart (kill -9 after the ok: the cursor was durable when answered),
// on RocksDB. The same on PostgreSQL: read_cursors_pg.test.mjs.
import { after, describe, test } from 'node:test';

import { Cluster } from './harness.mjs';
import { checkCursorsSurviveRestart } from './read_cursors_restart.mjs';

describe('read cursors across a hub restart (RocksDB)', () => {
  const cluster = new Cluster();
  after(() => cluster.stop());
  test('a cursor acked before kill -9 is there after the restart, and stays monotonic', async () => {
    await checkCursorsSurviveRestart(cluster, []);
  });
});
