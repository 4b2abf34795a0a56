// Read cursors survive a hub restart on PostgreSQL (registered by postgres.cmake, which starts the
// server: WEBIM_TEST_PG_DIR; skipped without it). Each run in a schema of its own.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { Cluster } from './harness.mjs';
import { checkCursorsSurviveRestart } from './read_cursors_restart.mjs';

const pgDir = process.env.WEBIM_TEST_PG_DIR;
const dsnFile = pgDir ? join(pgDir, 'dsn') : null;
const skip = !dsnFile || !existsSync(dsnFile) ? 'no PostgreSQL test server (run through ctest -R postgres)' : false;

describe('read cursors across a hub restart (PostgreSQL)', () => {
  const cluster = new Cluster();
  const schema = `read_${process.pid}`;
  const dsn = skip ? '' : readFileSync(dsnFile, 'utf8').trim();
  after(() => {
    cluster.stop();
    if (!skip) execFileSync('psql', ['-q', dsn, '-c', `SET client_min_messages TO warning; DROP SCHEMA IF EXISTS ${schema} CASCADE`]);
  });
  test('a cursor acked before kill -9 is there after the restart, and stays monotonic', { skip }, async () => {
    execFileSync('psql', ['-q', dsn, '-c', `CREATE SCHEMA ${schema}`]);
    await checkCursorsSurviveRestart(cluster, ['--store', 'postgres', '--pg-dsn', `${dsn} options='-c search_path=${schema}'`]);
  });
});
