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

// Known limit (docs/architecture.md "Read cursors", "Cursors have no epoch"), kept as a todo test
// that shows it: a channel's history reset on PostgreSQL (its rows removed, the cursors kept, the
// hub restarted) starts again at seq 1 under the same derived epoch, and the old cursor (5) hides
// the new messages. Once cursors carry their epoch and the meta the seq its epoch started at, drop
// the todo.
describe('read cursors after a history reset (PostgreSQL, known limit)', () => {
  const cluster = new Cluster();
  const schema = `reset_${process.pid}`;
  const dsn = skip ? '' : readFileSync(dsnFile, 'utf8').trim();
  after(() => {
    cluster.stop();
    if (!skip) execFileSync('psql', ['-q', dsn, '-c', `SET client_min_messages TO warning; DROP SCHEMA IF EXISTS ${schema} CASCADE`]);
  });
  test('new messages after a reset are unread', { skip, todo: 'cursors carry no epoch' }, async () => {
    execFileSync('psql', ['-q', dsn, '-c', `CREATE SCHEMA ${schema}`]);
    const hubArgs = ['--store', 'postgres', '--pg-dsn', `${dsn} options='-c search_path=${schema}'`];
    await cluster.startHub(hubArgs);
    const fe = await cluster.startFrontend();
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token('rr', ['room:reset']));
    const first = await cluster.appRequests(Array.from({ length: 5 }, (_, i) => ({ op: 'pub', ch: 'room:reset', data: i })));
    assert.equal((await c.request('read', { ch: 'room:reset', seq: 5 })).seq, 5);
    await cluster.hub.stop('SIGTERM');
    execFileSync('psql', ['-q', dsn, '-c', `DELETE FROM ${schema}.webim_message WHERE channel = 'room:reset'; ` +
      `DELETE FROM ${schema}.webim_channel WHERE channel = 'room:reset'`]);
    await cluster.startHub(hubArgs);
    let acks = [];
    for (let i = 0; i < 50 && acks[0]?.ok !== true; i++) {
      acks = await cluster.appRequests([{ op: 'pub', ch: 'room:reset', data: 'a' }, { op: 'pub', ch: 'room:reset', data: 'b' }]);
      if (acks[0]?.ok !== true) await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(acks.map((a) => a.seq), [1, 2], 'the reset channel starts again at seq 1');
    // Under the epoch it had before (derived from the store's seed and the name): an epoch stored
    // with the cursor alone would not tell the reset apart.
    assert.equal(acks[0].epoch, first[0].epoch);
    const u = await c.request('unread', { chs: ['room:reset'] });
    assert.equal(u.unread['room:reset'], 2, 'the two new messages are unread');
    await c.close();
  });
});
