// Edit and delete (docs/protocol.md "Edit and delete"): new log entries naming a seq, delivered live
// and by hist, idempotent by cid, checked by the hub (author, entry, deleted), refused without a
// publish grant; a delete removes the original's data (hist after a hub restart shows it without
// data). Over WebSocket, POST /cmd, the app ingress and the HTTP API. Counted on the wire.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { spawnSync } from 'node:child_process';

import { Client, Cluster, WebSocket, apiPost, openEventStream, privatePort, until } from './harness.mjs';
import { WebimClient } from '../../clients/js/webim.js';

const PHP = process.env.WEBIM_PHP || 'php';
const PHP_DRIVER = new URL('./php/driver.php', import.meta.url).pathname;
const phpProbe = spawnSync(PHP, ['-r', 'echo extension_loaded("zmq") && extension_loaded("curl") ? "ok" : "no";'], { encoding: 'utf8' });
const PHP_SKIP = phpProbe.stdout === 'ok' ? false : 'php-cli with php-zmq and php-curl not found';

// Runs tests/integration/php/driver.php over `commands` (one object each) and returns its replies.
function php(commands) {
  const out = spawnSync(PHP, [PHP_DRIVER], { input: commands.map((c) => JSON.stringify(c)).join('\n') + '\n', encoding: 'utf8' });
  return out.stdout.trim().split('\n').map((line) => JSON.parse(line));
}

async function connect(fe, cluster, user, grants = []) {
  const c = await Client.connect(fe.url);
  await c.auth(cluster.token(user, grants));
  return c;
}

describe('edit and delete', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    await cluster.startHub();
    fe = await cluster.startFrontend();
  });

  after(() => cluster.stopCleanly());

  test('the author edits and deletes; subscribers see both live, hist shows the entries and the deleted original', async () => {
    const alice = await connect(fe, cluster, 'alice', ['room:e']);
    const bob = await connect(fe, cluster, 'bob', ['room:e']);
    assert.equal((await bob.request('sub', { ch: 'room:e' })).op, 'ok');
    const pub = await alice.request('pub', { ch: 'room:e', data: { text: 'helo' }, cid: 'p1' });
    assert.equal(pub.op, 'ok');
    const edit = await alice.request('edit', { ch: 'room:e', seq: pub.seq, data: { text: 'hello' }, cid: 'e1' });
    assert.deepEqual(edit, { op: 'ok', id: edit.id, epoch: pub.epoch, seq: pub.seq + 1 });
    // A retry with the same cid: the same result, nothing new stored.
    const again = await alice.request('edit', { ch: 'room:e', seq: pub.seq, data: { text: 'hello' }, cid: 'e1' });
    assert.equal(again.seq, edit.seq);
    const del = await alice.request('delete', { ch: 'room:e', seq: pub.seq, cid: 'd1' });
    assert.equal(del.seq, pub.seq + 2);
    const retry = await alice.request('delete', { ch: 'room:e', seq: pub.seq, cid: 'd1' });
    assert.equal(retry.op, 'ok', 'a retried delete gets its first result, not "deleted"');
    assert.equal(retry.seq, del.seq);

    await bob.waitForMsgs(3, (m) => m.ch === 'room:e');
    const live = bob.msgs.filter((m) => m.ch === 'room:e');
    assert.deepEqual(live.map((m) => m.seq), [pub.seq, pub.seq + 1, pub.seq + 2]);
    assert.deepEqual(live[1].data, { text: 'hello' });
    assert.equal(live[1].edit, pub.seq);
    assert.equal(live[1].from, 'alice');
    assert.equal(live[2].delete, pub.seq);
    assert.equal(live[2].data, undefined);

    const hist = await bob.request('hist', { ch: 'room:e', after: 0 });
    assert.equal(hist.msgs.length, 3);
    assert.equal(hist.msgs[0].deleted, true);
    assert.equal(hist.msgs[0].data, undefined, 'the deleted original has no data');
    assert.equal(hist.msgs[1].edit, pub.seq);
    assert.equal(hist.msgs[2].delete, pub.seq);
  });

  test('refused: another author, an entry, a deleted message, a missing seq, no grant, bad input', async () => {
    const alice = await connect(fe, cluster, 'alice', ['room:f']);
    const mallory = await connect(fe, cluster, 'mallory', ['room:f']);
    const outsider = await connect(fe, cluster, 'outsider', []);
    const pub = await alice.request('pub', { ch: 'room:f', data: 1, cid: 'f1' });
    const code = async (c, op, fields) => (await c.request(op, { ch: 'room:f', cid: `${op}-${Math.random()}`, ...fields })).code;
    assert.equal(await code(mallory, 'edit', { seq: pub.seq, data: 2 }), 'forbidden');
    assert.equal(await code(mallory, 'delete', { seq: pub.seq }), 'forbidden');
    assert.equal(await code(outsider, 'edit', { seq: pub.seq, data: 2 }), 'forbidden');
    assert.equal(await code(outsider, 'delete', { seq: 999 }), 'forbidden', 'no grant: forbidden, never not_found');
    assert.equal(await code(alice, 'edit', { seq: 999, data: 2 }), 'not_found');
    assert.equal(await code(alice, 'edit', { seq: 0, data: 2 }), 'bad_request');
    assert.equal(await code(alice, 'edit', { seq: pub.seq }), 'bad_request', 'an edit needs data');
    assert.equal(await code(alice, 'delete', { seq: pub.seq, data: 1 }), 'bad_request', 'a delete has no data');
    const edit = await alice.request('edit', { ch: 'room:f', seq: pub.seq, data: 2, cid: 'fe' });
    assert.equal(await code(alice, 'edit', { seq: edit.seq, data: 3 }), 'bad_request', 'an entry is not a message');
    assert.equal((await alice.request('delete', { ch: 'room:f', seq: pub.seq, cid: 'fd' })).op, 'ok');
    assert.equal(await code(alice, 'edit', { seq: pub.seq, data: 4 }), 'forbidden', 'a deleted message cannot be edited');
    assert.equal(await code(alice, 'delete', { seq: pub.seq }), 'forbidden');
  });

  test('a resume (sub with since) replays the entries like any message', async () => {
    const alice = await connect(fe, cluster, 'alice', ['room:r']);
    const pub = await alice.request('pub', { ch: 'room:r', data: 'x', cid: 'r1' });
    await alice.request('edit', { ch: 'room:r', seq: pub.seq, data: 'y', cid: 'r2' });
    await alice.request('delete', { ch: 'room:r', seq: pub.seq, cid: 'r3' });
    const late = await connect(fe, cluster, 'bob', ['room:r']);
    const sub = await late.request('sub', { ch: 'room:r', since: { epoch: pub.epoch, seq: pub.seq } });
    assert.equal(sub.op, 'ok');
    await late.waitForMsgs(2, (m) => m.ch === 'room:r');
    const replayed = late.msgs.filter((m) => m.ch === 'room:r');
    assert.deepEqual(replayed.map((m) => [m.seq, m.edit, m.delete, m.deleted]),
      [[pub.seq + 1, pub.seq, undefined, true], [pub.seq + 2, undefined, pub.seq, undefined]]);
    assert.equal(replayed[0].data, undefined, 'the edit of a deleted message has lost its data');
  });

  test('the JS client: edit() and delete(), applied as edit/delete events in order with the messages', async () => {
    const opts = { WebSocket, requestTimeoutMs: 3000, backoff: { baseMs: 50, maxMs: 400 } };
    const author = new WebimClient({ ...opts, url: fe.url, token: cluster.token('dora', ['room:js']) });
    const reader = new WebimClient({ ...opts, url: fe.url, token: cluster.token('erin', ['room:js']) });
    const view = new Map();  // seq -> text: what a chat view shows
    const events = [];
    reader.on('edit', (e) => { events.push(['edit', e.seq, e.by]); view.set(e.seq, e.data); });
    reader.on('delete', (e) => { events.push(['delete', e.seq, e.by]); view.delete(e.seq); });
    author.connect();
    reader.connect();
    try {
      await reader.subscribe('room:js', (m) => { if (m.edit === undefined && m.delete === undefined) view.set(m.seq, m.data); }).ready;
      const a = await author.publish('room:js', 'one');
      const b = await author.publish('room:js', 'two');
      const e = await author.edit('room:js', a.seq, 'one, edited');
      const d = await author.delete('room:js', b.seq);
      await until(() => events.length >= 2, `both events (${JSON.stringify(events)})`);
      assert.deepEqual(events, [['edit', a.seq, e.seq], ['delete', b.seq, d.seq]]);
      assert.deepEqual([...view.entries()], [[a.seq, 'one, edited']]);
      await assert.rejects(reader.edit('room:js', a.seq, 'not mine'), { code: 'forbidden' });
      await assert.rejects(author.edit('room:js', b.seq, 'deleted'), { code: 'forbidden' });
    } finally {
      author.close();
      reader.close();
    }
  });

  test('the PHP library: Hub and HttpApi edit and delete', { skip: PHP_SKIP }, async () => {
    const pub = await cluster.appRequest({ op: 'pub', ch: 'room:php', data: 'from php', from: 'frank' });
    const api = [`http://127.0.0.1:${privatePort(fe.port)}`];
    const r = php([
      { do: 'hub', name: 'h', config: cluster.endpoints.app },
      { do: 'call', name: 'h', method: 'edit', args: ['room:php', pub.seq, 'edited by php', null, 'frank'] },
      { do: 'http', name: 'x', urls: api, key: cluster.apiKey },
      { do: 'call', name: 'x', method: 'delete', args: ['room:php', pub.seq] },
      { do: 'call', name: 'h', method: 'edit', args: ['room:php', pub.seq, 'too late'] },
    ]);
    assert.equal(r[1].ok, true, JSON.stringify(r[1]));
    assert.equal(r[1].result.seq, pub.seq + 1);
    assert.equal(r[3].ok, true, JSON.stringify(r[3]));
    assert.equal(r[3].result.seq, pub.seq + 2);
    assert.equal(r[4].code, 'forbidden');
    const page = await cluster.appRequest({ op: 'hist', ch: 'room:php', after: 0 });
    assert.equal(page.msgs[0].deleted, true);
    assert.equal(page.msgs[0].data, undefined);
  });
  test('POST /cmd, the app ingress and the HTTP API take edit and delete; a delete survives a hub restart', async () => {
    const stream = await openEventStream(fe.port, fe.port, cluster.token('carol', ['room:g']), 'room:g');
    const cmd = async (body) => (await fetch(`http://127.0.0.1:${fe.port}/cmd?sid=${stream.sid}`, {
      method: 'POST', body: JSON.stringify(body) })).json();
    const pub = await cmd({ op: 'pub', id: 1, ch: 'room:g', data: 'secret words', cid: 'g1' });
    assert.equal(pub.op, 'ok');
    const edit = await cmd({ op: 'edit', id: 2, ch: 'room:g', seq: pub.seq, data: 'secret', cid: 'g2' });
    assert.equal(edit.seq, pub.seq + 1);
    // The app acts on any author's message.
    const appEdit = await cluster.appRequest({ op: 'edit', ch: 'room:g', seq: pub.seq, data: 'moderated', from: 'mod', cid: 'a1' });
    assert.equal(appEdit.ok, true);
    assert.equal(appEdit.seq, pub.seq + 2);
    const apiKey = cluster.apiKey;
    const pub2 = await apiPost(fe.port, 'publish', { ch: 'room:g', data: 'more secret', from: 'carol' }, apiKey);
    const apiDel = await apiPost(fe.port, 'delete', { ch: 'room:g', seq: pub2.body.seq, cid: 'h1' }, apiKey);
    assert.equal(apiDel.status, 200);
    assert.equal((await apiPost(fe.port, 'edit', { ch: 'room:g', seq: pub2.body.seq, data: 1 }, apiKey)).status, 403);
    const cmdDel = await cmd({ op: 'delete', id: 3, ch: 'room:g', seq: pub.seq, cid: 'g3' });
    assert.equal(cmdDel.op, 'ok');
    await stream.cancel();

    await cluster.hub.stop();
    await cluster.startHub(cluster.hubArgs);
    let page;
    await until(async () => {
      page = await cluster.appRequest({ op: 'hist', ch: 'room:g', after: 0 }).catch(() => null);
      return page?.ok;
    }, 'hist after the restart');
    const bySeq = new Map(page.msgs.map((m) => [m.seq, m]));
    for (const seq of [pub.seq, pub2.body.seq]) {
      assert.equal(bySeq.get(seq).deleted, true);
      assert.equal(bySeq.get(seq).data, undefined);
    }
    assert.ok(!JSON.stringify(page).includes('secret words') && !JSON.stringify(page).includes('more secret'));
    assert.equal(bySeq.get(pub.seq + 2).from, 'mod');
    assert.equal(bySeq.get(pub.seq + 2).edit, pub.seq);
  });

});
