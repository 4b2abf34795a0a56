// The pipelined group commit (docs/architecture.md "Pipelined group commit"), through real hub
// processes and failpoints (WEBIM_FAILPOINTS): a crash between the store write and its sync, and
// between the sync and the ack; a sync that fails; a history read answered while a later batch
// waits for its sync. Nothing acked is lost, nothing is acked or shown before it is durable, and a
// seq is never reused for another message.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { Client, clusterPool, sleep } from './harness.mjs';

// The channel's whole history (app ingress), as [seq, data] pairs.
async function history(cluster, ch) {
  const page = await cluster.appRequest({ op: 'hist', ch, after: 0, limit: 200 });
  assert.equal(page.ok, true, JSON.stringify(page));
  return page.msgs.map((m) => [m.seq, m.data]);
}

// A publish the hub never answers (it dies first): the request tool times out.
async function publishIntoCrash(cluster, request) {
  await assert.rejects(cluster.appRequest(request, 3000));
  const exit = await cluster.hub.exited;
  assert.equal(exit.signal, 'SIGKILL', `the hub was killed by its failpoint: ${JSON.stringify(exit)}\n${cluster.hub.log}`);
}

describe('pipelined group commit', () => {
  const cluster = clusterPool(after);  // a new cluster per test, all stopped after the file

  test('a crash between the write and its sync: no ack; the retry is stored once', async () => {
    const c = cluster();
    await c.startHubWith('hub.crash_after_write=1');
    await publishIntoCrash(c, { op: 'pub', ch: 'room:w', data: 'first', cid: 'w-1' });
    assert.match(c.hub.log, /failpoint hub.crash_after_write/);
    await c.startHub();
    const retry = await c.appRequest({ op: 'pub', ch: 'room:w', data: 'first', cid: 'w-1' });
    assert.equal(retry.ok, true, JSON.stringify(retry));
    assert.equal(retry.seq, 1);
    const next = await c.appRequest({ op: 'pub', ch: 'room:w', data: 'second', cid: 'w-2' });
    assert.deepEqual([next.epoch, next.seq], [retry.epoch, 2]);
    assert.deepEqual(await history(c, 'room:w'), [[1, 'first'], [2, 'second']]);
  });

  test('a crash between the sync and the ack: the retry is answered as a duplicate of the stored message', async () => {
    const c = cluster();
    await c.startHubWith('hub.crash_after_sync=1');
    await publishIntoCrash(c, { op: 'pub', ch: 'room:s', data: 'only', cid: 's-1' });
    assert.match(c.hub.log, /failpoint hub.crash_after_sync/);
    await c.startHub();
    // Durable before the crash: in history already, and the retry is its duplicate.
    assert.deepEqual(await history(c, 'room:s'), [[1, 'only']]);
    const retry = await c.appRequest({ op: 'pub', ch: 'room:s', data: 'only', cid: 's-1' });
    assert.equal(retry.seq, 1, JSON.stringify(retry));
    assert.equal((await c.hubStats()).duplicates, 1);
    assert.deepEqual(await history(c, 'room:s'), [[1, 'only']]);
  });

  test('a failed sync acks nothing and publishes nothing; the store undoes the batch; the retry takes its seq', async () => {
    const c = cluster();
    await c.startHubWith('hub.sync_fails=1');
    const failed = await c.appRequest({ op: 'pub', ch: 'room:f', data: 'lost', cid: 'f-1' });
    assert.deepEqual([failed.ok, failed.code], [false, 'unavailable'], JSON.stringify(failed));
    assert.match(c.hub.log, /group commit of 1 messages failed .*failpoint hub.sync_fails/);
    // Once the store has undone it (reads fail meanwhile), nothing of it is left.
    let page;
    for (let i = 0; i < 100; i++) {
      page = await c.appRequest({ op: 'hist', ch: 'room:f', after: 0, limit: 10 });
      if (page.ok) break;
      assert.equal(page.code, 'unavailable', JSON.stringify(page));
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual([page.ok, page.msgs, page.last], [true, [], 0], JSON.stringify(page));
    const retry = await c.appRequest({ op: 'pub', ch: 'room:f', data: 'kept', cid: 'f-1' });
    assert.equal(retry.seq, 1, JSON.stringify(retry));
    assert.equal((await c.hubStats()).duplicates, 0, 'not a duplicate: the failed batch was undone');
    assert.deepEqual(await history(c, 'room:f'), [[1, 'kept']]);
    assert.equal((await c.hubStats()).commit_failures, 1);
    await c.stopCleanly();
  });

  test('a history read answered while a later batch waits for its sync shows durable messages only', async () => {
    const c = cluster();
    // Every sync takes 300 ms more: a batch stays in flight long enough to be seen. Batches of 2.
    await c.startHubWith('hub.slow_sync', ['--max-batch', '2']);
    // P alone is synced on the loop (nothing else waits): X, the read and B queue up meanwhile.
    const first = c.appRequest({ op: 'pub', ch: 'room:other', data: 'p', cid: 'h-p' });
    await new Promise((r) => setTimeout(r, 100));
    // Then X and the read make one batch, synced by the sync thread since B waits; B is written
    // while X syncs, and the read is answered when X is durable, B not yet.
    const [x, page, b] = await c.appRequests([
      { op: 'pub', ch: 'room:h', data: 'x', cid: 'h-x' },
      { op: 'hist', ch: 'room:h', after: 0, limit: 10 },
      { op: 'pub', ch: 'room:h', data: 'b', cid: 'h-b' },
    ]);
    assert.equal((await first).seq, 1);
    assert.equal(x.seq, 1, JSON.stringify(x));
    assert.deepEqual(page.msgs.map((m) => m.data), ['x'], `B was in the store, not yet durable: ${JSON.stringify(page)}`);
    assert.equal(page.last, 1);
    assert.equal(b.seq, 2);
    assert.deepEqual(await history(c, 'room:h'), [[1, 'x'], [2, 'b']]);
    await c.stopCleanly();
  });

  test('a kick whose commit is not known durable revokes nobody; one acked revokes', async () => {
    const c = cluster();
    // The first sync fails: a kick that went through the pipeline (written, sync failed) was
    // answered unavailable and must leave no revocation behind.
    await c.startHubWith('hub.sync_fails=1');
    const oldToken = c.token('alice', []);  // iat before the kick
    await sleep(1100 - (Date.now() % 1000));
    const kick = await c.appRequest({ op: 'kick', user: 'alice', code: 4003, reason: 'test' });
    // A frontend started now asks the hub for its revocations.
    const fe = await c.startFrontend();
    const outcome = await new Promise((resolve) => {
      Client.connect(fe.url).then((client) => {
        client.ws.send(JSON.stringify({ op: 'auth', id: 1, token: oldToken }));
        client.closed.then(({ code }) => resolve(code));
        client.waiting.set(1, (reply) => {
          resolve(reply.op);
          client.close();
        });
      });
    });
    if (kick.ok) assert.equal(outcome, 4001, `the acked kick revokes the older token: ${JSON.stringify(kick)}`);
    else assert.equal(outcome, 'ok', `an unavailable kick revokes nobody: ${JSON.stringify(kick)}`);
    await c.stopCleanly();
  });
});
