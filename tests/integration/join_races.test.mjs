// Requests that race in one TCP read, and the frontend <-> hub bookkeeping behind them: joining a
// channel and leaving it before the join completes, two joins of one channel, an inbox that comes and
// goes in one write, an inbox attach whose commit fails, two frontends with one id, a request larger
// than the hub takes. Each case was a defect: a use-after-free (seen under ASan: this file runs in
// sanitize/frontend), an `ok` with epoch 0, an inbox routed to a frontend for good, an `ok` with an
// epoch that was never stored, inbox routing silently broken, a hub link dropped for everyone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, sleep, until } from './harness.mjs';
import { OP, RawWs, frame } from './raw_ws.mjs';

const text = (obj) => frame(OP.TEXT, JSON.stringify(obj));

// Reads JSON frames until `want` replies (by id) arrived; returns them by id, and everything read.
async function replies(ws, ids, timeoutMs = 5000) {
  const byId = new Map();
  const all = [];
  const deadline = Date.now() + timeoutMs;
  while (ids.some((id) => !byId.has(id))) {
    const obj = await ws.nextJson(Math.max(1, deadline - Date.now()));
    all.push(obj);
    if (obj.id !== undefined && ids.includes(obj.id)) byId.set(obj.id, obj);
  }
  return { byId, all };
}

describe('requests racing in one read', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe = await cluster.startFrontend();
  });
  after(() => cluster.stopCleanly());

  test('sub then unsub of a new channel in one write: both answered, nothing freed twice', async () => {
    for (let round = 0; round < 20; round++) {
      const ch = `room:race${round}`;
      const ws = await RawWs.connect(fe.port, {
        pipelined: Buffer.concat([
          text({ op: 'auth', id: 1, token: cluster.token('racer', ['room:*']) }),
          text({ op: 'sub', id: 2, ch }),
          text({ op: 'unsub', id: 3, ch }),
        ]),
      });
      const { byId } = await replies(ws, [1, 2, 3]);
      assert.equal(byId.get(1).op, 'ok');
      assert.equal(byId.get(3).op, 'ok', JSON.stringify(byId.get(3)));
      ws.destroy();
    }
    // The frontend still serves: a join and a message on one of those channels.
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token('after', ['room:*']));
    const ok = await c.request('sub', { ch: 'room:race0' });
    assert.equal(ok.op, 'ok');
    const pub = await cluster.appRequest({ op: 'pub', ch: 'room:race0', data: { n: 1 } });
    const [m] = await c.waitForMsgs(1);
    assert.equal(m.seq, pub.seq);
    await c.close();
  });

  test('two subs of one channel in one write both report the real position', async () => {
    const ch = 'room:twice';
    const first = await cluster.appRequest({ op: 'pub', ch, data: 'x' });
    const ws = await RawWs.connect(fe.port, {
      pipelined: Buffer.concat([
        text({ op: 'auth', id: 1, token: cluster.token('twice', ['room:*']) }),
        text({ op: 'sub', id: 2, ch }),
        text({ op: 'sub', id: 3, ch }),
      ]),
    });
    const { byId } = await replies(ws, [2, 3]);
    for (const id of [2, 3]) {
      assert.equal(byId.get(id).op, 'ok', JSON.stringify(byId.get(id)));
      assert.deepEqual([byId.get(id).epoch, byId.get(id).seq], [first.epoch, first.seq], JSON.stringify(byId.get(id)));
    }
    ws.destroy();
  });

  test('an inbox joined and left in one write is not left routed to the frontend', async () => {
    const before = (await cluster.hubStats()).inbox_users;
    assert.equal(typeof before, 'number', 'the hub reports how many inboxes it routes');
    for (let i = 0; i < 10; i++) {
      const ws = await RawWs.connect(fe.port, {
        pipelined: Buffer.concat([
          text({ op: 'auth', id: 1, token: cluster.token(`gone${i}`, []) }),
          text({ op: 'sub', id: 2, ch: `user:gone${i}` }),
          frame(OP.CLOSE, Buffer.from([0x03, 0xe8])),
        ]),
      });
      await ws.expectClose(1000, { allowBefore: true });
      ws.destroy();
    }
    await sleep(500);
    assert.equal((await cluster.hubStats()).inbox_users, before, 'no inbox of a closed connection stays routed');
  });
});

describe('a failed group commit around an inbox attach', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    // The hub's first group commit fails (once the inbox's epoch was made by an attach; now the
    // attach writes nothing and the failing commit is the first publish's).
    await cluster.startHubWith('hub.commit=1');
    fe = await cluster.startFrontend();
  });
  after(() => cluster.stopCleanly());

  test('never leaves a client with an epoch that was not stored', async () => {
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token('fp', []));
    const ok = await c.request('sub', { ch: 'user:fp' }, 8000);
    assert.equal(ok.op, 'ok', JSON.stringify(ok));
    let pub = await cluster.appRequest({ op: 'pub', ch: 'user:fp', data: 'hello', cid: 'fp-1' });
    if (pub.ok === false) {
      assert.equal(pub.code, 'unavailable', JSON.stringify(pub));
      pub = await cluster.appRequest({ op: 'pub', ch: 'user:fp', data: 'hello', cid: 'fp-1' });
    }
    assert.equal(pub.epoch, ok.epoch, 'the epoch the client was told is the one stored');
    const [m] = await c.waitForMsgs(1);
    assert.equal(m.op, 'msg', JSON.stringify(m));
    assert.deepEqual([m.epoch, m.seq], [ok.epoch, 1]);
    assert.match(cluster.hub.log, /group commit of .* failed/);
    await c.close();
  });
});

describe('two frontends with one id', () => {
  let cluster;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
  });
  after(() => cluster.stopCleanly());

  test('the second is refused and both say so; the first keeps routing its inboxes', async () => {
    const fe1 = await cluster.startFrontend(['--id', 'same']);
    const a = await Client.connect(fe1.url);
    await a.auth(cluster.token('sameA', []));
    assert.equal((await a.request('sub', { ch: 'user:sameA' })).op, 'ok');

    const fe2 = await cluster.startFrontend(['--id', 'same', '--hub-timeout-ms', '1500']);
    await until(() => /two running frontends use the id same/.test(cluster.hub.log), 'the hub to log the conflict');
    await until(() => /in use by another running process/.test(fe2.log), 'the second frontend to log it');
    await until(() => /another process .* started with this frontend's id same/.test(fe1.log), 'the first to log it');

    // The second cannot hold inboxes: its inbox join fails instead of silently never delivering.
    const b = await Client.connect(fe2.url);
    await b.auth(cluster.token('sameB', []));
    const refused = await b.request('sub', { ch: 'user:sameB' }, 5000);
    assert.deepEqual([refused.op, refused.code], ['err', 'unavailable'], JSON.stringify(refused));

    // The first still gets its user's inbox messages, once.
    const pub = await cluster.appRequest({ op: 'pub', ch: 'user:sameA', data: 'still here' });
    const [m] = await a.waitForMsgs(1);
    assert.equal(m.seq, pub.seq);
    await sleep(200);
    assert.equal(a.msgs.length, 1);
    await b.close();
    await fe2.stop();
    await a.close();
    await fe1.stop();
  });

  test('a restart of the same instance (kill -9, same id) takes over at once', async () => {
    const old = await cluster.startFrontend(['--id', 'phoenix']);
    const a = await Client.connect(old.url);
    await a.auth(cluster.token('phA', []));
    assert.equal((await a.request('sub', { ch: 'user:phA' })).op, 'ok');
    old.child.kill('SIGKILL');
    await old.exited;
    const fresh = await cluster.startFrontend(['--id', 'phoenix']);
    const b = await Client.connect(fresh.url);
    await b.auth(cluster.token('phB', []));
    const ok = await b.request('sub', { ch: 'user:phB' }, 5000);
    assert.equal(ok.op, 'ok', JSON.stringify(ok));
    const pub = await cluster.appRequest({ op: 'pub', ch: 'user:phB', data: 'new process' });
    const [m] = await b.waitForMsgs(1);
    assert.equal(m.seq, pub.seq);
    assert.match(cluster.hub.log, /frontend phoenix restarted/);
    assert.doesNotMatch(fresh.log, /in use by another running process/);
    // The old process's users are forgotten with it.
    await until(async () => (await cluster.hubStats()).inbox_users === 1, 'only the new process\'s inbox to stay routed');
    await b.close();
    await fresh.stop();
  });
});

describe('a request larger than the hub takes', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub(['--max-data-bytes', '65536']);
    // This frontend would take messages of 1 MiB: it must refuse what its hub would.
    fe = await cluster.startFrontend(['--max-message-bytes', '1048576']);
  });
  after(() => cluster.stopCleanly());

  test('is answered too_large and the link stays up for everyone else', async () => {
    const big = await Client.connect(fe.url);
    await big.auth(cluster.token('big', ['room:*']));
    const other = await Client.connect(fe.url);
    await other.auth(cluster.token('other', ['room:*']));
    await sleep(300);  // the hub answered the frontend's hello with its limits
    const [tooBig, fine] = await Promise.all([
      big.request('pub', { ch: 'room:big', cid: 'b1', data: { pad: 'x'.repeat(300000) } }, 8000),
      other.request('pub', { ch: 'room:small', cid: 'o1', data: { n: 1 } }, 8000),
    ]);
    assert.deepEqual([tooBig.op, tooBig.code], ['err', 'too_large'], JSON.stringify(tooBig).slice(0, 200));
    assert.equal(fine.op, 'ok', JSON.stringify(fine));
    const again = await other.request('pub', { ch: 'room:small', cid: 'o2', data: { n: 2 } });
    assert.equal(again.op, 'ok');
    await big.close();
    await other.close();
  });
});
