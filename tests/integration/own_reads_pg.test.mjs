// A user's own publish marks the channel read up to it, on PostgreSQL (registered by postgres.cmake,
// which starts the server: WEBIM_TEST_PG_DIR; skipped without it). A schema of its own.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { Cluster } from './harness.mjs';
import { checkOwnReads } from './own_reads_check.mjs';

const pgDir = process.env.WEBIM_TEST_PG_DIR;
const dsnFile = pgDir ? join(pgDir, 'dsn') : null;
const skip = !dsnFile || !existsSync(dsnFile) ? 'no PostgreSQL test server (run through ctest -R postgres)' : false;

describe('own publishes mark read (PostgreSQL)', () => {
  const cluster = new Cluster();
  const schema = `ownread_${process.pid}`;
  const dsn = skip ? '' : readFileSync(dsnFile, 'utf8').trim();
  after(() => {
    cluster.stop();
    if (!skip) execFileSync('psql', ['-q', dsn, '-c', `SET client_min_messages TO warning; DROP SCHEMA IF EXISTS ${schema} CASCADE`]);
  });
  test('dm, room, retries, app publishes, inboxes', { skip }, async () => {
    execFileSync('psql', ['-q', dsn, '-c', `CREATE SCHEMA ${schema}`]);
    await checkOwnReads(cluster, ['--store', 'postgres', '--pg-dsn', `${dsn} options='-c search_path=${schema}'`]);
  });
});
