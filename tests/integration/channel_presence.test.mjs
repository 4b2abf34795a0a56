// Channel presence (docs/protocol.md "Channel presence"): presence_stats (connections and unique
// users), presence (who is here, paged), and coalesced join/leave events to the channel's
// subscribers, with a grace period for reconnects. Real processes: one hub, two frontends; counted
// on the wire (every {"op":"presence"} frame a client receives is recorded).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { fileURLToPath } from 'node:url';

import { Client, Cluster, WebSocket, apiPost, runProgram, sleep, until } from './harness.mjs';
import { WebimClient } from '../../clients/js/webim.js';

const PHP = process.env.WEBIM_PHP || 'php';
const PHP_AUTOLOAD = fileURLToPath(new URL('../../clients/php/autoload.php', import.meta.url));

const GRACE_MS = 1000;
const CAP = 5;
const PRESENCE = ['--presence-namespaces', 'room', '--presence-namespaces', 'dm'];

// Every {"op":"presence"} event `client` receives, with the time it arrived.
function eventsOf(client) {
  const seen = [];
  client.ws.on('message', (data) => {
    const obj = JSON.parse(data.toString());
    if (obj.op === 'presence' && obj.id === undefined) seen.push({ ...obj, at: Date.now() });
  });
  return seen;
}

const joined = (events) => events.flatMap((e) => e.join);
const left = (events) => events.flatMap((e) => e.leave);

describe('channel presence', () => {
  let cluster;
  let fe1;
  let fe2;
  const open = [];

  async function member(fe, user, ch, grants = ['room:*']) {
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token(user, grants));
    if (ch) assert.equal((await c.request('sub', { ch })).op, 'ok');
    open.push(c);
    return c;
  }

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub([...PRESENCE, '--presence-grace-ms', String(GRACE_MS), '--presence-max-members', String(CAP)]);
    fe1 = await cluster.startFrontend([...PRESENCE]);
    fe2 = await cluster.startFrontend([...PRESENCE]);
  });

  after(async () => {
    for (const c of open) await c.close().catch(() => {});
    await cluster.stopCleanly();
  });

  test('presence_stats counts connections and unique users across frontends; presence pages the members', async () => {
    const ch = 'room:count';
    await member(fe1, 'alice', ch);
    await member(fe1, 'alice', ch);
    await member(fe2, 'alice', ch);
    await member(fe1, 'bob', ch);
    const carol = await member(fe2, 'carol', ch);
    await until(async () => (await carol.request('presence_stats', { ch })).connections === 5, 'five connections');
    const stats = await carol.request('presence_stats', { ch });
    assert.deepEqual(stats, { op: 'ok', id: stats.id, connections: 5, users: 3 });

    const all = await carol.request('presence', { ch });
    assert.deepEqual([all.users, all.more], [['alice', 'bob', 'carol'], false]);
    const page1 = await carol.request('presence', { ch, limit: 2 });
    assert.deepEqual([page1.users, page1.more], [['alice', 'bob'], true]);
    const page2 = await carol.request('presence', { ch, after: 'bob', limit: 2 });
    assert.deepEqual([page2.users, page2.more], [['carol'], false]);

    // A channel nobody is in: zero, not an error.
    assert.deepEqual(await carol.request('presence_stats', { ch: 'room:empty' }),
      { op: 'ok', id: (await carol.request('presence', { ch: 'room:empty' })).id - 1, connections: 0, users: 0 });
  });

  test('joins and leaves reach the subscribers coalesced; a leave waits for the grace', async () => {
    const ch = 'room:events';
    const watcher = await member(fe1, 'watcher', null);
    const events = eventsOf(watcher);  // before the sub: its own join may come in the same read as the ok
    assert.equal((await watcher.request('sub', { ch })).op, 'ok');
    await until(() => joined(events).includes('watcher'), 'the watcher itself joins', 5000);
    const burst = await Promise.all(['u1', 'u2', 'u3', 'u4'].map((u, i) => member(i % 2 ? fe2 : fe1, u, ch)));
    await until(() => joined(events).length === 5, 'four joins', 5000);
    assert.deepEqual(joined(events).sort(), ['u1', 'u2', 'u3', 'u4', 'watcher']);
    // Coalesced per channel: at most one event per 200 ms.
    for (let i = 1; i < events.length; i++) assert.ok(events[i].at - events[i - 1].at >= 150, JSON.stringify(events));

    const closedAt = Date.now();
    await burst[1].close();
    await until(() => left(events).length === 1, 'the leave', GRACE_MS + 3000);
    const leave = events.find((e) => e.leave.length > 0);
    assert.deepEqual(leave.leave, ['u2']);
    assert.ok(leave.at - closedAt >= GRACE_MS - 100, `the leave came ${leave.at - closedAt} ms after the close`);
    assert.equal(leave.ch, ch);
    assert.equal(typeof leave.ts, 'number');
    await sleep(400);
    assert.equal(left(events).length, 1, 'one leave, once');
  });

  test('a reconnect within the grace (on another frontend) is neither a leave nor a join', async () => {
    const ch = 'room:grace';
    const watcher = await member(fe1, 'w2', ch);
    const first = await member(fe1, 'mover', ch);
    const events = eventsOf(watcher);
    await until(async () => (await watcher.request('presence_stats', { ch })).users === 2, 'two members');
    await sleep(300);
    const before = events.length;
    await first.close();
    await sleep(200);
    await member(fe2, 'mover', ch);
    await sleep(GRACE_MS + 800);
    assert.deepEqual(events.slice(before), [], 'no event for a reconnect within the grace');
    const stats = await watcher.request('presence_stats', { ch });
    assert.deepEqual([stats.connections, stats.users], [2, 2]);
  });

  test('the member cap: the first members are listed, every user is counted', async () => {
    const ch = 'room:cap';
    const clients = [];
    for (let i = 0; i < CAP + 2; i++) clients.push(await member(i % 2 ? fe2 : fe1, `cap${i}`, ch));
    await until(async () => (await clients[0].request('presence_stats', { ch })).connections === CAP + 2, 'all counted');
    const stats = await clients[0].request('presence_stats', { ch });
    assert.equal(stats.users, CAP + 2);
    const list = await clients[0].request('presence', { ch });
    assert.equal(list.users.length, CAP);
    assert.equal(list.more, false);
  });

  test('bad input: forbidden without a grant (revealing nothing), presence off, bad fields', async () => {
    const eve = await member(fe1, 'eve', null, ['room:mine']);
    for (const op of ['presence', 'presence_stats']) {
      for (const ch of ['room:count', 'room:nobody-here', 'dm:alice:bob']) {
        const r = await eve.request(op, { ch });
        assert.deepEqual([r.op, r.code], ['err', 'forbidden'], `${op} ${ch}`);
      }
    }
    const other = await member(fe1, 'oth', null, ['news:*']);
    const off = await other.request('presence', { ch: 'news:1' });
    assert.deepEqual([off.op, off.code], ['err', 'bad_request']);
    assert.match(off.msg, /presence_namespaces/);
    assert.equal((await other.request('presence', { ch: 'bad name' })).code, 'bad_request');
    const ok = await member(fe1, 'okk', null);
    assert.equal((await ok.request('presence', { ch: 'room:x', limit: 1001 })).code, 'bad_request');
    assert.equal((await ok.request('presence', { ch: 'room:x', after: 5 })).code, 'bad_request');
    assert.equal((await ok.request('presence_stats', {})).code, 'bad_request');
  });

  test('dm: channels: only the two participants may ask, and they see each other', async () => {
    const ch = 'dm:ann:ben';
    const ann = await member(fe1, 'ann', ch, []);
    await member(fe2, 'ben', ch, []);
    await until(async () => (await ann.request('presence_stats', { ch })).users === 2, 'both in the dm');
    assert.deepEqual((await ann.request('presence', { ch })).users, ['ann', 'ben']);
  });

  test('POST /cmd takes presence and presence_stats', async () => {
    const ch = 'room:cmd';
    const c = await member(fe1, 'cmdu', ch);
    await until(async () => (await c.request('presence_stats', { ch })).users === 1, 'one member');
    const session = await fetch(`http://127.0.0.1:${fe2.port}/session`, {
      method: 'POST', body: JSON.stringify({ token: cluster.token('cmdv', ['room:*']) }),
    });
    const { sid } = await session.json();
    const post = async (body) => (await fetch(`http://127.0.0.1:${fe2.port}/cmd?sid=${sid}`, {
      method: 'POST', body: JSON.stringify(body),
    })).json();
    assert.deepEqual(await post({ op: 'presence_stats', id: 1, ch }), { op: 'ok', id: 1, connections: 1, users: 1 });
    assert.deepEqual(await post({ op: 'presence', id: 2, ch }), { op: 'ok', id: 2, users: ['cmdu'], more: false });
    assert.equal((await post({ op: 'presence', id: 3, ch: 'secret:1' })).code, 'forbidden');
  });

  test('the app: app ingress, HTTP API and the PHP library ask the same', async () => {
    const ch = 'room:app';
    const c = await member(fe1, 'appu', ch);
    await member(fe2, 'appv', ch);
    await until(async () => (await c.request('presence_stats', { ch })).users === 2, 'two members');
    assert.deepEqual(await cluster.appRequest({ op: 'presence_stats', ch }), { ok: true, ch, connections: 2, users: 2 });
    assert.deepEqual(await cluster.appRequest({ op: 'presence', ch, after: 'appu', limit: 5 }),
      { ok: true, ch, users: ['appv'], more: false });
    const off = await cluster.appRequest({ op: 'presence', ch: 'news:1' });
    assert.deepEqual([off.ok, off.code], [false, 'bad_request']);
    assert.equal((await cluster.appRequest({ op: 'presence', ch, limit: 0 })).code, 'bad_request');

    const api = await apiPost(fe2.port, 'presence', { ch, limit: 1 }, cluster.apiKey);
    assert.deepEqual([api.status, api.body], [200, { ok: true, ch, users: ['appu'], more: true }]);
    const apiStats = await apiPost(fe2.port, 'presence_stats', { ch }, cluster.apiKey);
    assert.deepEqual([apiStats.status, apiStats.body.connections, apiStats.body.users], [200, 2, 2]);
    assert.equal((await apiPost(fe2.port, 'presence_stats', { ch: 'news:1' }, cluster.apiKey)).status, 400);

    const script = `require ${JSON.stringify(PHP_AUTOLOAD)};
      $hub = new Webim\\Hub(${JSON.stringify(cluster.endpoints.app)});
      $api = new Webim\\HttpApi([${JSON.stringify(`http://127.0.0.1:${fe1.adminPort}`)}], ${JSON.stringify(cluster.apiKey)});
      echo json_encode([$hub->presenceStats('${ch}'), $hub->presence('${ch}', '', 1), $api->presence('${ch}', 'appu')]);`;
    const php = await runProgram(PHP, ['-r', script]);
    if (php.code === 'ENOENT') return;  // no php-cli here (php_client.test.mjs says what to install)
    assert.equal(php.code, 0, php.stderr + php.stdout);
    const [stats, page, viaApi] = JSON.parse(php.stdout);
    assert.deepEqual(stats, { ch, connections: 2, users: 2 });
    assert.deepEqual(page, { ch, users: ['appu'], more: true });
    assert.deepEqual(viaApi, { ch, users: ['appv'], more: false });
  });

  for (const transport of ['websocket', 'sse']) {
    test(`the JS client (${transport}): presence(), presenceStats() and 'presence' events`, async () => {
      const ch = `room:js-${transport}`;
      const opts = { WebSocket, requestTimeoutMs: 3000, backoff: { baseMs: 50, maxMs: 400 } };
      const client = new WebimClient({ ...opts, url: fe1.url, token: cluster.token(`js-${transport}`, ['room:*']), transports: [transport] });
      const events = [];
      client.on('presence', (e) => events.push(e));
      await client.connect();
      await client.subscribe(ch, () => {}).ready;
      const other = await member(fe2, `jo-${transport}`, ch);
      await until(() => events.some((e) => e.join.includes(`jo-${transport}`)), 'the join event', 5000);
      assert.deepEqual(await client.presenceStats(ch), { connections: 2, users: 2 });
      assert.deepEqual(await client.presence(ch, { limit: 1 }), { users: [`jo-${transport}`], more: true });
      assert.deepEqual(await client.presence(ch, { after: `jo-${transport}` }), { users: [`js-${transport}`], more: false });
      await other.close();
      await until(() => events.some((e) => e.leave.includes(`jo-${transport}`)), 'the leave event', GRACE_MS + 3000);
      assert.equal(events.at(-1).ch, ch);
      await assert.rejects(client.presence('secret:1'), { code: 'forbidden' });
      client.close();
    });
  }

  test('a hub restart: the frontends report again and the counts are right', async () => {
    const ch = 'room:restart';
    const a = await member(fe1, 'ra', ch);
    await member(fe2, 'rb', ch);
    await member(fe2, 'rb', ch);
    await until(async () => (await a.request('presence_stats', { ch })).connections === 3, 'three connections');
    cluster.hub.child.kill('SIGKILL');
    await cluster.hub.exited;
    await cluster.startHub(cluster.hubArgs);
    await until(async () => {
      const s = await a.request('presence_stats', { ch }, 1000).catch(() => null);
      return s?.op === 'ok' && s.connections === 3 && s.users === 2;
    }, 'the counts after the restart', 10000);
    assert.deepEqual((await a.request('presence', { ch })).users, ['ra', 'rb']);
  });

  test('a frontend killed (-9) and restarted: its users leave after the grace unless back elsewhere', async () => {
    const ch = 'room:crash';
    const fe3 = await cluster.startFrontend([...PRESENCE, '--id', 'fe3']);
    const watcher = await member(fe1, 'cw', ch);
    const events = eventsOf(watcher);
    const gone = await member(fe3, 'gone', ch);
    await member(fe3, 'moved', ch);
    await until(() => joined(events).includes('gone') && joined(events).includes('moved'), 'both joined', 5000);
    gone.ws.on('error', () => {});
    fe3.child.kill('SIGKILL');
    await fe3.exited;
    await cluster.startFrontend([...PRESENCE, '--id', 'fe3']);  // the same id: the hub forgets the old process
    await member(fe2, 'moved', ch);  // back elsewhere within the grace
    await until(() => left(events).includes('gone'), 'the leave of the crashed frontend\'s user', GRACE_MS + 5000);
    await sleep(GRACE_MS);
    assert.deepEqual(left(events), ['gone']);
    const stats = await watcher.request('presence_stats', { ch });
    assert.deepEqual([stats.connections, stats.users], [2, 2]);
  });
});

describe('channel presence: a frontend that dies and stays dead', () => {
  let cluster;

  after(() => cluster.stop());

  test('forgotten after frontend_timeout: its users leave after the grace', async () => {
    cluster = new Cluster();
    await cluster.startHub([...PRESENCE, '--presence-grace-ms', String(GRACE_MS), '--frontend-timeout', '1']);
    const fast = ['--heartbeat-ms', '200'];
    const fe1 = await cluster.startFrontend([...PRESENCE, ...fast]);
    const fe2 = await cluster.startFrontend([...PRESENCE, ...fast]);
    const ch = 'room:dead';
    const watcher = await Client.connect(fe1.url);
    await watcher.auth(cluster.token('dw', ['room:*']));
    const events = eventsOf(watcher);
    assert.equal((await watcher.request('sub', { ch })).op, 'ok');
    const victim = await Client.connect(fe2.url);
    await victim.auth(cluster.token('dv', ['room:*']));
    assert.equal((await victim.request('sub', { ch })).op, 'ok');
    await until(() => joined(events).includes('dv'), 'the join', 5000);
    const killedAt = Date.now();
    fe2.child.kill('SIGKILL');
    await fe2.exited;
    await until(() => left(events).includes('dv'), 'the leave after the timeout and the grace', 10000);
    const waited = Date.now() - killedAt;
    assert.ok(waited >= 1000 + GRACE_MS - 200, `the leave came ${waited} ms after the kill`);
    const stats = await watcher.request('presence_stats', { ch });
    assert.deepEqual([stats.connections, stats.users], [1, 1]);
    await watcher.close();
  });
});
