// A kick revokes: besides closing the user's connections, every token and sid of the user issued
// before the kick stops working, on every frontend, and it stays so across frontend and hub
// restarts (the hubs store it; frontends load it when they start and when a hub restarts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, makeToken, sleep } from './harness.mjs';

async function post(port, path, body) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, body: await res.json().catch(() => null) };
}

// A WebSocket auth: 'ok', or the close code it got instead.
async function authOutcome(fe, token) {
  const c = await Client.connect(fe.url);
  c.ws.send(JSON.stringify({ op: 'auth', id: 1, token }));
  const outcome = await Promise.race([
    c.closed.then(({ code, reason }) => ({ code, reason })),
    new Promise((resolve) => {
      c.waiting.set(1, (reply) => resolve(reply.op));
    }),
  ]);
  if (outcome === 'ok') await c.close();
  return outcome;
}

const nextSecond = () => sleep(1100 - (Date.now() % 1000));

describe('a kick revokes the user\'s older tokens and sids', () => {
  let cluster;
  let fe;
  let oldToken;
  let oldSid;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe = await cluster.startFrontend();
  });
  after(() => cluster.stopCleanly());

  test('everywhere at once: open connections close, old tokens and sids are refused, new ones work', async () => {
    oldToken = cluster.token('mallory', ['room:k']);
    const c = await Client.connect(fe.url);
    await c.auth(oldToken);
    const session = await post(fe.port, '/session', { token: oldToken });
    assert.equal(session.status, 200);
    oldSid = session.body.sid;
    assert.equal((await post(fe.port, `/cmd?sid=${oldSid}`, { op: 'pub', id: 1, ch: 'room:k', cid: 'k1', data: 1 })).body.op, 'ok');

    await nextSecond();  // the kick comes after the token's iat second
    assert.equal((await cluster.appRequest({ op: 'kick', user: 'mallory', code: 4003, reason: 'banned' })).ok, true);
    assert.equal((await c.closed).code, 4003);

    const again = await authOutcome(fe, oldToken);
    assert.equal(again.code, 4001, JSON.stringify(again));
    assert.match(again.reason, /revoked/);
    const cmd = await post(fe.port, `/cmd?sid=${oldSid}`, { op: 'pub', id: 2, ch: 'room:k', cid: 'k2', data: 2 });
    assert.equal(cmd.status, 401, 'the old sid no longer publishes');
    const events = await fetch(`http://127.0.0.1:${fe.port}/events?sid=${oldSid}&ch=room:k`);
    assert.equal(events.status, 401);
    assert.equal((await post(fe.port, '/session', { token: oldToken })).status, 401);
    // A token without iat cannot prove it came after the kick.
    const noIat = makeToken(cluster.secret, { sub: 'mallory', ch: [], iat: undefined });
    assert.equal((await authOutcome(fe, noIat)).code, 4001);
    // Other users are not affected; a token issued after the kick works.
    assert.equal(await authOutcome(fe, cluster.token('alice', [])), 'ok');
    await nextSecond();
    assert.equal(await authOutcome(fe, cluster.token('mallory', ['room:k'])), 'ok');
  });

  test('across a frontend restart and a hub restart', async () => {
    await fe.stop();
    cluster.frontends.length = 0;
    fe = await cluster.startFrontend();
    assert.equal((await authOutcome(fe, oldToken)).code, 4001, 'a new frontend process knows the kick');
    assert.equal((await post(fe.port, `/cmd?sid=${oldSid}`, { op: 'pub', id: 3, ch: 'room:k', cid: 'k3', data: 3 })).status, 401);

    cluster.hub.child.kill('SIGKILL');
    await cluster.hub.exited;
    await cluster.startHub();
    const fresh = await cluster.startFrontend();
    assert.equal((await authOutcome(fresh, oldToken)).code, 4001, 'the hub stored it');
    assert.equal(await authOutcome(fresh, cluster.token('mallory', [])), 'ok');
  });
});
