// The whole path: a hub and two frontend processes, real WebSocket clients on each, a chat message
// crossing from one frontend to the other through the hub.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { apiPost, Client, Cluster, httpGet, makeToken, sleep } from './harness.mjs';

describe('two frontends through the hub', () => {
  let cluster;
  let fe1;
  let fe2;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe1 = await cluster.startFrontend();
    fe2 = await cluster.startFrontend();
  });

  after(async () => {
    const results = await cluster.stop();
    for (const [name, r] of Object.entries(results)) {
      assert.deepEqual(r, { code: 0, signal: null }, `${name} did not exit cleanly on SIGTERM:\n${cluster.logs()}`);
    }
  });

  test('a publish on frontend 1 reaches subscribers on both frontends with the same seq', async () => {
    const a = await Client.connect(fe1.url);
    const b = await Client.connect(fe2.url);
    const authA = await a.auth(cluster.token('alice', ['room:*']));
    assert.equal(authA.user, 'alice');
    assert.equal(typeof authA.conn, 'string');
    assert.equal(authA.v, '1.1', 'the auth reply names the protocol version the frontend speaks');
    const session = await fetch(`http://127.0.0.1:${fe2.port}/session`, {
      method: 'POST', body: JSON.stringify({ token: cluster.token('alice', ['room:*']) }),
    }).then((r) => r.json());
    assert.equal(session.v, '1.1', `the /session reply names it too: ${JSON.stringify(session)}`);
    await b.auth(cluster.token('bob', ['room:t']));

    const subA = await a.request('sub', { ch: 'room:t' });
    const subB = await b.request('sub', { ch: 'room:t' });
    assert.equal(subA.op, 'ok', JSON.stringify(subA));
    assert.equal(subB.op, 'ok', JSON.stringify(subB));
    assert.equal(subA.epoch, subB.epoch);
    assert.match(subA.epoch, /^[0-9a-f]{16}$/);
    assert.equal(subA.seq, subB.seq);
    assert.equal(subA.recovered, undefined, 'recovered is only sent with since');

    const pub = await a.request('pub', { ch: 'room:t', data: { text: 'hello', n: 1 }, cid: 'c-1' });
    assert.equal(pub.op, 'ok', JSON.stringify(pub));
    assert.equal(pub.seq, subA.seq + 1);
    assert.equal(pub.epoch, subA.epoch);

    const [ma] = await a.waitForMsgs(1);
    const [mb] = await b.waitForMsgs(1);
    assert.deepEqual(ma, mb);
    assert.equal(ma.op, 'msg');
    assert.equal(ma.ch, 'room:t');
    assert.equal(ma.seq, pub.seq);
    assert.equal(ma.epoch, pub.epoch);
    assert.equal(ma.from, 'alice');
    assert.deepEqual(ma.data, { text: 'hello', n: 1 });
    assert.ok(Math.abs(ma.ts - Date.now()) < 60000, 'ts is a millisecond timestamp');

    // A second message continues the sequence, seen in the same order on both frontends.
    const pub2 = await b.request('pub', { ch: 'room:t', data: 'second', cid: 'c-2' });
    assert.equal(pub2.seq, pub.seq + 1);
    const msA = await a.waitForMsgs(2);
    const msB = await b.waitForMsgs(2);
    assert.deepEqual(msA.map((m) => m.seq), [pub.seq, pub2.seq]);
    assert.deepEqual(msB.map((m) => m.seq), [pub.seq, pub2.seq]);
    assert.equal(msB[1].from, 'bob');

    assert.deepEqual(await a.close(), { code: 1000, reason: '' });
    await b.close();
  });

  test('data is relayed verbatim and from is taken from the token', async () => {
    const a = await Client.connect(fe1.url);
    const b = await Client.connect(fe2.url);
    await a.auth(cluster.token('carol', ['room:raw']));
    await b.auth(cluster.token('dave', ['room:raw']));
    await a.request('sub', { ch: 'room:raw' });
    await b.request('sub', { ch: 'room:raw' });
    const raw = '{"b":1,"a":12345678901234567890123,"s":"\\u00e9\u00e9"}';
    const received = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no msg')), 5000);
      b.ws.on('message', (d) => {
        const text = d.toString();
        if (text.includes('"op":"msg"')) {
          clearTimeout(timer);
          resolve(text);
        }
      });
    });
    const acked = new Promise((resolve) => a.ws.on('message', (d) => {
      const obj = JSON.parse(d.toString());
      if (obj.id === 77) resolve(obj);
    }));
    a.ws.send(`{"op":"pub","id":77,"ch":"room:raw","cid":"r1","from":"mallory","data":${raw}}`);
    const ack = await acked;
    assert.equal(ack.op, 'ok', JSON.stringify(ack));
    const text = await received;
    assert.ok(text.includes(`"data":${raw}`), `data not verbatim in ${text}`);
    assert.ok(text.includes('"from":"carol"'), `from not taken from the token: ${text}`);
    await a.close();
    await b.close();
  });

  test('a retried publish with the same cid is stored once', async () => {
    const a = await Client.connect(fe1.url);
    await a.auth(cluster.token('erin', ['room:retry']));
    await a.request('sub', { ch: 'room:retry' });
    const first = await a.request('pub', { ch: 'room:retry', data: 1, cid: 'same' });
    const again = await a.request('pub', { ch: 'room:retry', data: 1, cid: 'same' });
    assert.equal(first.op, 'ok');
    assert.deepEqual({ epoch: again.epoch, seq: again.seq }, { epoch: first.epoch, seq: first.seq });
    await a.waitForMsgs(1);
    await sleep(200);
    assert.equal(a.msgs.length, 1, 'a retry is not delivered again');
    const hist = await a.request('hist', { ch: 'room:retry', after: 0, limit: 10 });
    assert.equal(hist.op, 'ok', JSON.stringify(hist));
    assert.deepEqual(hist.msgs.map((m) => m.seq), [first.seq]);
    await a.close();
  });

  test('a bad token is closed 4001', async () => {
    const c = await Client.connect(fe1.url);
    c.ws.send(JSON.stringify({ op: 'auth', id: 1, token: makeToken('x'.repeat(32), { sub: 'eve' }) }));
    assert.equal((await c.closed).code, 4001);

    const expired = await Client.connect(fe2.url);
    expired.ws.send(JSON.stringify({ op: 'auth', id: 1, token: cluster.token('eve', [], { exp: 1000 }) }));
    assert.equal((await expired.closed).code, 4001);

    const none = await Client.connect(fe2.url);
    none.ws.send(JSON.stringify({ op: 'auth', id: 1, token: makeToken(cluster.secret, { sub: 'eve' }, { alg: 'none' }) }));
    assert.equal((await none.closed).code, 4001);
  });

  test('the first request must be auth', async () => {
    const c = await Client.connect(fe1.url);
    c.ws.send(JSON.stringify({ op: 'sub', id: 1, ch: 'room:t' }));
    assert.equal((await c.closed).code, 4001);
  });

  test('channel rules: grants, inboxes, direct conversations, app-only channels', async () => {
    const c = await Client.connect(fe1.url);
    await c.auth(cluster.token('frank', ['room:allowed', 'pub:news']));
    const denied = await c.request('sub', { ch: 'room:secret' });
    assert.deepEqual([denied.op, denied.code, denied.id], ['err', 'forbidden', 2]);
    assert.equal((await c.request('sub', { ch: 'room:allowed' })).op, 'ok');
    assert.equal((await c.request('sub', { ch: 'user:frank' })).op, 'ok', 'own inbox');
    assert.equal((await c.request('sub', { ch: 'user:gina' })).code, 'forbidden', 'another inbox');
    assert.equal((await c.request('pub', { ch: 'user:gina', data: 1, cid: 'x1' })).code, 'forbidden');
    assert.equal((await c.request('sub', { ch: 'dm:frank:gina' })).op, 'ok', 'own dm');
    assert.equal((await c.request('sub', { ch: 'dm:gina:hank' })).code, 'forbidden', 'someone else\'s dm');
    assert.equal((await c.request('sub', { ch: 'pub:news' })).op, 'ok');
    assert.equal((await c.request('pub', { ch: 'pub:news', data: 1, cid: 'x2' })).code, 'forbidden');
    assert.equal((await c.request('sub', { ch: 'bad name!' })).code, 'bad_request');
    assert.equal((await c.request('nope', {})).code, 'bad_request');
    const dm = await c.request('pub', { ch: 'dm:frank:gina', data: { hi: 1 }, cid: 'x3' });
    assert.equal(dm.op, 'ok', JSON.stringify(dm));
    assert.equal((await c.request('unsub', { ch: 'room:allowed' })).op, 'ok');
    await c.close();
  });

  test('kick from the app closes the user\'s connections on every frontend', async () => {
    const k1 = await Client.connect(fe1.url);
    const k2 = await Client.connect(fe2.url);
    const other = await Client.connect(fe2.url);
    await k1.auth(cluster.token('kim', []));
    await k2.auth(cluster.token('kim', []));
    await other.auth(cluster.token('lee', []));
    assert.deepEqual(await cluster.appRequest({ op: 'kick', user: 'kim', reason: 'banned' }), { ok: true });
    assert.deepEqual(await k1.closed, { code: 4003, reason: 'banned' });
    assert.deepEqual(await k2.closed, { code: 4003, reason: 'banned' });
    await sleep(100);
    assert.equal(other.ws.readyState, 1, 'other users stay');
    await other.close();
  });

  test('a push from the app reaches subscribers on both frontends', async () => {
    const a = await Client.connect(fe1.url);
    const b = await Client.connect(fe2.url);
    await a.auth(cluster.token('mia', ['pub:news']));
    await b.auth(cluster.token('ned', ['pub:news']));
    await a.request('sub', { ch: 'pub:news' });
    await b.request('sub', { ch: 'pub:news' });
    const pushed = await cluster.appRequest({ op: 'pub', ch: 'pub:news', data: { n: 12345678901234567890123 }, cid: 'p1' });
    assert.equal(pushed.ok, true);
    const [ma] = await a.waitForMsgs(1);
    const [mb] = await b.waitForMsgs(1);
    assert.equal(ma.seq, pushed.seq);
    assert.equal(mb.seq, pushed.seq);
    assert.equal(ma.from, 'system');
    await a.close();
    await b.close();
  });

  test('the HTTP API publishes, reads history and kicks, with a Bearer key', async () => {
    const a = await Client.connect(fe1.url);
    const b = await Client.connect(fe2.url);
    await a.auth(cluster.token('ola', ['room:api']));
    await b.auth(cluster.token('pia', ['room:api']));
    await a.request('sub', { ch: 'room:api' });
    await b.request('sub', { ch: 'room:api' });

    const wrong = await apiPost(fe1.port, 'publish', { ch: 'room:api', data: 1 }, 'not-the-key');
    assert.deepEqual([wrong.status, wrong.body.code], [401, 'forbidden']);  // docs/protocol.md's codes; HTTP says 401
    const missing = await apiPost(fe1.port, 'publish', { ch: 'room:api', data: 1 }, null);
    assert.equal(missing.status, 401);
    assert.equal((await apiPost(fe1.port, 'nope', {}, cluster.apiKey)).status, 404);

    const raw = '{"ch":"room:api","data":{"big":12345678901234567890123},"from":"app","cid":"http-1"}';
    const pub = await apiPost(fe1.port, 'publish', raw, cluster.apiKey);
    assert.equal(pub.status, 200, JSON.stringify(pub.body));
    assert.equal(pub.body.ok, true);
    const [ma] = await a.waitForMsgs(1);
    const [mb] = await b.waitForMsgs(1);
    assert.equal(ma.seq, pub.body.seq);
    assert.equal(mb.seq, pub.body.seq);
    assert.equal(ma.from, 'app');
    const again = await apiPost(fe2.port, 'publish', raw, cluster.apiKey);
    assert.deepEqual(again.body, pub.body, 'a retry with the same cid returns the first result');

    const hist = await apiPost(fe2.port, 'hist', { ch: 'room:api', after: 0, limit: 10 }, cluster.apiKey);
    assert.equal(hist.status, 200);
    assert.deepEqual(hist.body.msgs.map((m) => m.seq), [pub.body.seq]);
    const bad = await apiPost(fe1.port, 'publish', { ch: 'bad name', data: 1 }, cluster.apiKey);
    assert.deepEqual([bad.status, bad.body.code], [400, 'bad_request']);
    const stats = await apiPost(fe1.port, 'stats', {}, cluster.apiKey);
    assert.equal(stats.body.ok, true);

    const kick = await apiPost(fe2.port, 'kick', { user: 'ola', code: 4003, reason: 'bye' }, cluster.apiKey);
    assert.deepEqual([kick.status, kick.body], [200, { ok: true }]);
    assert.equal((await a.closed).code, 4003);
    await b.close();
  });

  test('healthz and metrics answer on the frontend', async () => {
    assert.deepEqual(await httpGet(fe1.port, '/healthz'), { status: 200, body: 'ok\n' });
    const metrics = await httpGet(fe1.port, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /webim_connections\{frontend="fe1"\} \d+/);
    assert.match(metrics.body, /webim_messages_in_total\{frontend="fe1"\} [1-9]\d*/);
    assert.match(metrics.body, /webim_messages_out_total\{frontend="fe1"\} [1-9]\d*/);
    assert.match(metrics.body, /webim_closes_total\{frontend="fe1",code="4001"\} [1-9]\d*/);
    assert.match(metrics.body, /webim_closes_total\{frontend="fe1",code="1000"\} [1-9]\d*/);
    assert.equal((await httpGet(fe1.port, '/nope')).status, 404);
  });

  test('SIGTERM closes clients with 1012', async () => {
    const fe3 = await cluster.startFrontend();
    const c = await Client.connect(fe3.url);
    await c.auth(cluster.token('ivan', ['room:bye']));
    await c.request('sub', { ch: 'room:bye' });
    const status = await fe3.stop();
    assert.deepEqual(status, { code: 0, signal: null });
    assert.equal((await c.closed).code, 1012);
  });
});
