// Read cursors survive a hub restart on PostgreSQL (registered by postgres.cmake, which starts the
// server: WEBIM_TEST_PG_DIR; skipped without it). Each run in a schema of its own.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import assert from 'node:assert/strict';

import { Client, Cluster } from './harness.mjs';
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

// Unread counts messages only on PostgreSQL too (the partial index webim_message_uncounted): an
// edit or delete of a read message leaves 0, a deleted unread message is not counted.
describe('unread without edit and delete entries (PostgreSQL)', () => {
  const cluster = new Cluster();
  const schema = `unread_${process.pid}`;
  const dsn = skip ? '' : readFileSync(dsnFile, 'utf8').trim();
  after(() => {
    cluster.stop();
    if (!skip) execFileSync('psql', ['-q', dsn, '-c', `SET client_min_messages TO warning; DROP SCHEMA IF EXISTS ${schema} CASCADE`]);
  });
  test('edits and deletes are no unread messages', { skip }, async () => {
    execFileSync('psql', ['-q', dsn, '-c', `CREATE SCHEMA ${schema}`]);
    await cluster.startHub(['--store', 'postgres', '--pg-dsn', `${dsn} options='-c search_path=${schema}'`]);
    const fe = await cluster.startFrontend();
    const connect = async (user) => {
      const c = await Client.connect(fe.url);
      await c.auth(cluster.token(user, []));
      return c;
    };
    const ch = 'dm:alice:bob';
    const alice = await connect('alice');
    const bob = await connect('bob');
    const unread = async () => (await bob.request('unread', { chs: [ch] })).unread[ch];
    const seqs = [];
    for (const cid of ['a', 'b', 'c']) seqs.push((await alice.request('pub', { ch, data: cid, cid })).seq);
    assert.equal((await bob.request('read', { ch, seq: seqs[0] })).seq, seqs[0]);
    assert.equal(await unread(), 2);
    assert.equal((await alice.request('edit', { ch, seq: seqs[0], data: 'A', cid: 'e' })).op, 'ok');
    assert.equal(await unread(), 2, 'an edit of a read message is not unread');
    assert.equal((await alice.request('delete', { ch, seq: seqs[1], cid: 'd' })).op, 'ok');
    assert.equal(await unread(), 1, 'a deleted unread message and the delete entry are not unread');
    await alice.close();
    await bob.close();
  });
});
