// Retention through a frontend: a hub keeping 5 messages per room (room:*=5/-, a pass every second).
// History then starts at the oldest kept seq: a `sub` whose `since` is older gets recovered:false
// (the client pages with hist), one within the kept range recovers the missed messages; hist
// returns the kept ones; seq continues; the dedup record of a trimmed message still answers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, sleep } from './harness.mjs';

describe('retention', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub(['--retention', 'room:*=5/-', '--retention-interval', '1']);
    fe = await cluster.startFrontend();
  });

  after(() => cluster.stopCleanly());

  test('history starts at the oldest kept seq; older since is recovered:false', async () => {
    const writer = await Client.connect(fe.url);
    await writer.auth(cluster.token('writer', ['room:ret']));
    let epoch;
    for (let i = 1; i <= 20; i++) {
      const a = await writer.request('pub', { ch: 'room:ret', data: { i }, cid: `ret${i}` });
      assert.equal(a.op, 'ok');
      assert.equal(a.seq, i);
      epoch = a.epoch;
    }
    let page;
    for (let i = 0; i < 50; i++) {
      page = await writer.request('hist', { ch: 'room:ret', after: 0, limit: 200 });
      if (page.msgs.length === 5) break;
      await sleep(100);
    }
    assert.deepEqual(page.msgs.map((m) => m.seq), [16, 17, 18, 19, 20], 'retention keeps the last 5');

    const old = await Client.connect(fe.url);
    await old.auth(cluster.token('reader-old', ['room:ret']));
    const r1 = await old.request('sub', { ch: 'room:ret', since: { epoch, seq: 2 } });
    assert.equal(r1.op, 'ok');
    assert.equal(r1.recovered, false, 'since older than the oldest kept message');
    assert.equal(r1.seq, 20);

    const recent = await Client.connect(fe.url);
    await recent.auth(cluster.token('reader-recent', ['room:ret']));
    const r2 = await recent.request('sub', { ch: 'room:ret', since: { epoch, seq: 17 } });
    assert.equal(r2.recovered, true, 'since within the kept range');
    const missed = await recent.waitForMsgs(3);
    assert.deepEqual(missed.map((m) => m.seq), [18, 19, 20]);

    const next = await writer.request('pub', { ch: 'room:ret', data: { i: 21 }, cid: 'ret21' });
    assert.equal(next.seq, 21, 'seq continues after retention');
    assert.equal(next.epoch, epoch);
    const retry = await writer.request('pub', { ch: 'room:ret', data: { i: 1 }, cid: 'ret1' });
    assert.equal(retry.seq, 1, 'the dedup record outlives the trimmed message');
    const live = await old.waitForMsgs(1);
    assert.equal(live[0].seq, 21);
    for (const c of [writer, old, recent]) c.close();
  });
});
