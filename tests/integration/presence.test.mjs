// User presence (docs/protocol.md "Presence"): a user is online while at least one of their
// connections is authenticated, on any frontend, whichever shard owns their inbox; the `online`
// query answers for up to 500 ids the token's "presence" claim allows; right after a hub restart a
// user it does not know yet is "settling", never a wrong online:false. Real processes, two shards and
// two frontends; every reply checked as received on the wire.
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { apiPost, Client, Cluster, openEventStream, sleep, until as untilEvery } from './harness.mjs';

// Polls at most ~7 queries a second: every query counts against the connection's rate limit.
const until = (check, what, timeoutMs = 8000) => untilEvery(check, what, timeoutMs, 150);

const slot = (name) => crc32(name) % 1024;

async function connect(fe, cluster, user, extra = {}) {
  const c = await Client.connect(fe.url);
  await c.auth(cluster.token(user, [], extra));
  return c;
}

// The `online` reply's entry per user, as a map.
async function onlineOf(viewer, users) {
  const reply = await viewer.request('online', { users });
  assert.equal(reply.op, 'ok', JSON.stringify(reply));
  assert.deepEqual(reply.users.map((u) => u.user), users, 'in the order asked');
  return new Map(reply.users.map((u) => [u.user, u]));
}

describe('user presence on two shards and two frontends', () => {
  let cluster;
  let fe1;
  let fe2;
  const users = [];  // one user id per shard: users[0] on hub0, users[1] on hub1

  before(async () => {
    cluster = new Cluster();
    // Hubs just started answer "settling" until their frontends have re-attached (at most
    // presence_settle_max_ms); a short window keeps this test quick.
    const shards = await cluster.startShards(['0-511', '512-1023'], ['--presence-settle-ms', '500']);
    cluster.shardEndpoints = shards.map((s) => s.app_ingress);
    fe1 = await cluster.startFrontend(['--heartbeat-ms', '200']);
    fe2 = await cluster.startFrontend(['--heartbeat-ms', '200']);
    for (let i = 0; users.length < 2; i++) {
      const u = `p${i}`;
      const s = slot(`user:${u}`) < 512 ? 0 : 1;
      if (users.length === s) users.push(u);
    }
    const probe = await connect(fe1, cluster, 'probe', { presence: ['p*'] });
    await until(async () => [...(await onlineOf(probe, users)).values()].every((s) => !s.settling), 'settled', 8000);
    await probe.close();
  });

  after(() => cluster.stopCleanly());

  test('online from auth to the last connection, on any frontend and shard; several devices', async () => {
    const viewer = await connect(fe1, cluster, 'viewer', { presence: ['p*'] });
    let seen = await onlineOf(viewer, users);
    for (const u of users) assert.deepEqual(seen.get(u), { user: u, online: false, last_seen: null });

    // One device each, on the other frontend than the viewer; no inbox subscription needed.
    const phones = [];
    for (const u of users) phones.push(await connect(fe2, cluster, u));
    await until(async () => [...(await onlineOf(viewer, users)).values()].every((s) => s.online), 'both online');
    seen = await onlineOf(viewer, users);
    for (const u of users) assert.deepEqual(seen.get(u), { user: u, online: true });

    // A second device on fe1; the first one goes: still online. The inbox subscribed and
    // unsubscribed on the way changes nothing either.
    const laptop = await connect(fe1, cluster, users[0]);
    assert.equal((await laptop.request('sub', { ch: `user:${users[0]}` })).op, 'ok');
    assert.equal((await laptop.request('unsub', { ch: `user:${users[0]}` })).op, 'ok');
    await phones[0].close();
    await sleep(300);
    assert.equal((await onlineOf(viewer, [users[0]])).get(users[0]).online, true, 'the laptop keeps the user online');
    // The last device goes: offline, last seen about now (stored with the hub's batch).
    const before = Date.now();
    await laptop.close();
    await until(async () => !(await onlineOf(viewer, [users[0]])).get(users[0]).online, 'offline after the last device');
    const gone = (await onlineOf(viewer, [users[0]])).get(users[0]);
    assert.equal(typeof gone.last_seen, 'number', JSON.stringify(gone));
    assert.ok(gone.last_seen >= before - 50 && gone.last_seen <= Date.now() + 50, JSON.stringify(gone));
    await phones[1].close();
    await until(async () => !(await onlineOf(viewer, [users[1]])).get(users[1]).online, 'the other shard too');
    await viewer.close();
  });

  test('an open event stream (HTTP fallback) makes its user online; /cmd takes the query', async () => {
    const u = users[1];
    const stream = await openEventStream(fe1.port, fe2.port, cluster.token(u, ['room:x']), 'room:x');
    const viewer = await connect(fe1, cluster, 'viewer2', { presence: [u] });
    await until(async () => (await onlineOf(viewer, [u])).get(u).online, 'online through its event stream');

    const session = await fetch(`http://127.0.0.1:${fe1.port}/session`, {
      method: 'POST', body: JSON.stringify({ token: cluster.token('viewer3', [], { presence: ['p*'] }) }),
    });
    const { sid } = await session.json();
    const res = await fetch(`http://127.0.0.1:${fe1.port}/cmd?sid=${sid}`, {
      method: 'POST', body: JSON.stringify({ op: 'online', id: 7, users: [u, users[0]] }),
    });
    const got = await res.json();
    assert.deepEqual(got.users[0], { user: u, online: true });
    assert.deepEqual([got.op, got.id, got.users[1].online, typeof got.users[1].last_seen], ['ok', 7, false, 'number']);
    const forbidden = await fetch(`http://127.0.0.1:${fe1.port}/cmd?sid=${sid}`, {
      method: 'POST', body: JSON.stringify({ op: 'online', id: 8, users: ['q1'] }),
    });
    assert.equal((await forbidden.json()).code, 'forbidden');

    await stream.cancel();
    await until(async () => !(await onlineOf(viewer, [u])).get(u).online, 'offline once the stream is gone');
    await viewer.close();
  });

  test('the app: hub ingress, POST /api/online across both shards, PHP Hub::online and HttpApi::online', async () => {
    const phone = await connect(fe2, cluster, users[1]);
    const probe = await connect(fe1, cluster, 'probe2', { presence: ['p*'] });
    await until(async () => (await onlineOf(probe, [users[1]])).get(users[1]).online, 'online');
    // The hub ingress answers for the users of its own shard, refuses the others (wrong_shard).
    const direct = await cluster.appRequest({ op: 'online', users: [users[1]] }, 5000, cluster.shardEndpoints[1]);
    assert.deepEqual(direct, { ok: true, users: [{ user: users[1], online: true }] });
    const wrong = await cluster.appRequest({ op: 'online', users: [users[1]] }, 5000, cluster.shardEndpoints[0]);
    assert.equal(wrong.code, 'wrong_shard');
    // The HTTP API splits by shard and merges in the order asked.
    const api = await apiPost(fe1.port, 'online', { users: [users[1], users[0], 'zz'] }, cluster.apiKey);
    assert.equal(api.status, 200, JSON.stringify(api.body));
    assert.deepEqual(api.body.users.map((u) => [u.user, u.online]), [[users[1], true], [users[0], false], ['zz', false]]);
    assert.equal(typeof api.body.users[1].last_seen, 'number');
    assert.equal(api.body.users[2].last_seen, null);
    const tooMany = await apiPost(fe1.port, 'online', { users: Array.from({ length: 501 }, (_, i) => `p${i}`) }, cluster.apiKey);
    assert.deepEqual([tooMany.status, tooMany.body.code], [413, 'too_large']);
    // PHP, through the shard table (Hub) and the HTTP API (HttpApi).
    const php = spawnSync('php', ['-r', `
      require ${JSON.stringify(join(import.meta.dirname, '../../clients/php/autoload.php'))};
      $hub = new Webim\\Hub(${JSON.stringify(cluster.shardFile)});
      $api = new Webim\\HttpApi([${JSON.stringify(`http://127.0.0.1:${fe1.adminPort}`)}], ${JSON.stringify(cluster.apiKey)});
      $jwt = Webim\\Token::issue('phpviewer', [], [], 600, ${JSON.stringify(cluster.secret)}, presence: ['p*'], watch: ['${users[1]}']);
      echo json_encode([$hub->online(['${users[1]}', '${users[0]}']), $api->online(['${users[0]}', '${users[1]}']), $jwt]);
    `], { encoding: 'utf8' });
    if (php.error || php.status !== 0) {
      assert.fail(`php failed: ${php.stderr || php.error}`);
    }
    const [viaHub, viaApi, jwt] = JSON.parse(php.stdout);
    // A token from Token::issue with presence and watch claims: accepted, both honoured.
    const phpClient = await Client.connect(fe1.url);
    const watchSeen = [];
    phpClient.ws.on('message', (d) => { const o = JSON.parse(d.toString()); if (o.op === 'watch') watchSeen.push(o); });
    await phpClient.auth(jwt);
    await until(() => watchSeen.length === 1, 'the watched user\'s status');
    assert.deepEqual([watchSeen[0].user, watchSeen[0].online], [users[1], true]);
    assert.equal((await onlineOf(phpClient, [users[0]])).get(users[0]).online, false);
    await phpClient.close();
    assert.deepEqual(viaHub.map((u) => [u.user, u.online]), [[users[1], true], [users[0], false]]);
    assert.deepEqual(viaApi.map((u) => [u.user, u.online]), [[users[0], false], [users[1], true]]);
    await phone.close();
    await probe.close();
  });

  test('bad input: no claim or one id not granted -> forbidden; 501 ids -> too_large; bad ids -> bad_request', async () => {
    const none = await connect(fe1, cluster, 'nogrant');
    assert.deepEqual(pick(await none.request('online', { users: ['p1'] })), ['err', 'forbidden']);
    const some = await connect(fe2, cluster, 'some', { presence: ['p*', 'x1'] });
    assert.deepEqual(pick(await some.request('online', { users: ['p1', 'x1', 'q9'] })), ['err', 'forbidden']);
    const ids500 = Array.from({ length: 500 }, (_, i) => `p${i}`);
    const ok = await some.request('online', { users: ids500 });
    assert.equal(ok.op, 'ok');
    assert.equal(ok.users.length, 500);
    assert.deepEqual(pick(await some.request('online', { users: [...ids500, 'p500'] })), ['err', 'too_large']);
    assert.deepEqual(pick(await some.request('online', { users: [] })), ['err', 'bad_request']);
    assert.deepEqual(pick(await some.request('online', { users: 'p1' })), ['err', 'bad_request']);
    assert.deepEqual(pick(await some.request('online', { users: [1] })), ['err', 'bad_request']);
    assert.deepEqual(pick(await some.request('online', {})), ['err', 'bad_request']);
    await none.close();
    await some.close();
  });
});

function pick(reply) {
  return [reply.op, reply.code];
}

describe('presence settles after a hub restart', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub(['--presence-settle-ms', '3000']);
    fe = await cluster.startFrontend(['--heartbeat-ms', '500', '--hub-timeout-ms', '1000']);
  });

  after(() => cluster.stopCleanly());

  test('after kill -9 a known user is settling or online, never offline; then online, others offline; last seen kept', async () => {
    const alice = await connect(fe, cluster, 'alice');
    const viewer = await connect(fe, cluster, 'watcher', { presence: ['*'] });
    await until(async () => (await onlineOf(viewer, ['alice'])).get('alice').online, 'alice online');
    const bob = await connect(fe, cluster, 'bob');
    await until(async () => (await onlineOf(viewer, ['bob'])).get('bob').online, 'bob online');
    await bob.close();
    const bobSeen = await until(async () => (await onlineOf(viewer, ['bob'])).get('bob').last_seen, 'bob last seen');

    await cluster.hub.stop('SIGKILL');
    await cluster.startHub(['--presence-settle-ms', '3000']);
    const started = Date.now();
    const answers = [];
    for (;;) {
      const reply = await viewer.request('online', { users: ['alice', 'nobody', 'bob'] }, 10000);
      if (reply.op === 'ok') {
        answers.push({ at: Date.now() - started, alice: reply.users[0], nobody: reply.users[1], bob: reply.users[2] });
        if (reply.users[0].online && !reply.users[1].settling) break;
      }
      assert.ok(Date.now() - started < 15000, `not settled in 15 s: ${JSON.stringify(answers.slice(-3))}`);
      await sleep(150);
    }
    for (const a of answers) {
      assert.ok(a.alice.online || a.alice.settling, `alice was never reported offline: ${JSON.stringify(a)}`);
    }
    assert.ok(answers.some((a) => a.nobody.settling), `an unknown user was settling at first: ${JSON.stringify(answers[0])}`);
    const last = answers[answers.length - 1];
    assert.deepEqual(last.nobody, { user: 'nobody', online: false, last_seen: null });
    assert.deepEqual(last.bob, { user: 'bob', online: false, last_seen: bobSeen }, 'last seen survives kill -9 (RocksDB)');
    await alice.close();
    await viewer.close();
  });
});
