// Erasing a user (docs/protocol.md "Erasing a user"): erase_user starts a background job on the hub
// that removes the data of every message the user wrote (any channel), erase_status reports
// progress, the job survives a hub restart in its middle, other users' messages stay, and live
// subscribers get no entry for it. Through the app ingress, the HTTP API and the PHP library.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { Client, Cluster, apiPost, hubRequests, privatePort, sleep, until } from './harness.mjs';

const PHP = process.env.WEBIM_PHP || 'php';
const PHP_DRIVER = new URL('./php/driver.php', import.meta.url).pathname;
const phpProbe = spawnSync(PHP, ['-r', 'echo extension_loaded("zmq") ? "ok" : "no";'], { encoding: 'utf8' });
const PHP_SKIP = phpProbe.stdout === 'ok' ? false : 'php-cli with php-zmq not found';

// Publishes `n` messages from `from`, spread over `channels`, pipelined through the app ingress.
async function publishMany(cluster, from, channels, n, tag) {
  const requests = [];
  for (let i = 0; i < n; i++) requests.push({ op: 'pub', ch: channels[i % channels.length], from, data: `${tag}-${i}` });
  for (let at = 0; at < requests.length; at += 2000) {
    const replies = await hubRequests(cluster.endpoints.app, requests.slice(at, at + 2000), 30000);
    assert.ok(replies.every((r) => r.ok), 'every publish acked');
  }
}

async function allMessages(cluster, ch) {
  const out = [];
  for (let after = 0; ;) {
    const page = await cluster.appRequest({ op: 'hist', ch, after, limit: 200 });
    out.push(...page.msgs);
    if (!page.more || page.msgs.length === 0) return out;
    after = page.msgs[page.msgs.length - 1].seq;
  }
}

describe('erase_user', () => {
  let cluster;
  let fe;

  before(async () => {
    cluster = new Cluster();
    // Each erase slice (256 messages) takes 50 ms more: the hub can be stopped in a job's middle.
    await cluster.startHubWith('hub.slow_erase');
    fe = await cluster.startFrontend();
  });

  after(() => cluster.stopCleanly());

  test('erases every message of the user across channels, resumes after a restart, leaves the others', async () => {
    const channels = ['room:e1', 'room:e2', 'dm:amy:zed'];
    await publishMany(cluster, 'zed', channels, 3000, 'zed');
    await publishMany(cluster, 'amy', channels, 300, 'amy');
    const watcher = await Client.connect(fe.url);
    await watcher.auth(cluster.token('watcher', ['room:e1']));
    assert.equal((await watcher.request('sub', { ch: 'room:e1' })).op, 'ok');

    const started = await cluster.appRequest({ op: 'erase_user', user: 'zed' });
    assert.deepEqual(started, { ok: true, user: 'zed', state: 'running', erased: 0 });
    await sleep(300);  // a few slices of the ~12
    const mid = await cluster.appRequest({ op: 'erase_status', user: 'zed' });
    assert.equal(mid.state, 'running');
    assert.ok(mid.remaining > 0 && mid.remaining < 3000, `in the middle: ${JSON.stringify(mid)}`);

    await cluster.hub.stop();
    await cluster.startHubWith('hub.slow_erase', cluster.hubArgs);
    let status;
    await until(async () => {
      status = await cluster.appRequest({ op: 'erase_status', user: 'zed' }).catch(() => null);
      return status?.state === 'done';
    }, 'the resumed job done', 15000, 100);
    assert.equal(status.remaining, 0);
    assert.ok(status.erased >= 3000 - mid.remaining - 256 * 16, `erased counts at least what was left: ${JSON.stringify(status)}`);

    for (const ch of channels) {
      const msgs = await allMessages(cluster, ch);
      assert.equal(msgs.length, 1100);
      for (const m of msgs) {
        if (m.from === 'zed') {
          assert.equal(m.deleted, true);
          assert.equal(m.data, undefined);
        } else {
          assert.equal(m.deleted, undefined);
          assert.match(m.data, /^amy-/);
        }
      }
    }
    // Live subscribers were told nothing: no entries were appended (the seqs stay where they were).
    const last = await cluster.appRequest({ op: 'hist', ch: 'room:e1', before: 1e9, limit: 1 });
    assert.equal(last.last, 1100);
    assert.equal(watcher.msgs.length, 0);
    assert.equal((await cluster.appRequest({ op: 'erase_status', user: 'nobody' })).state, 'none');
    assert.equal((await cluster.appRequest({ op: 'erase_user', user: '' })).code, 'bad_request');
    await watcher.close();
  });

  test('the HTTP API starts it and reports it; a WebSocket client cannot', async () => {
    await publishMany(cluster, 'yan', ['room:y'], 10, 'yan');
    const started = await apiPost(fe.port, 'erase_user', { user: 'yan' }, cluster.apiKey);
    assert.equal(started.status, 200);
    await until(async () => (await apiPost(fe.port, 'erase_status', { user: 'yan' }, cluster.apiKey)).body.state === 'done', 'yan done');
    const done = await apiPost(fe.port, 'erase_status', { user: 'yan' }, cluster.apiKey);
    assert.deepEqual(done.body, { ok: true, user: 'yan', state: 'done', erased: 10, remaining: 0 });
    // A WebSocket client cannot ask for it.
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token('yan', ['room:y']));
    assert.equal((await c.request('erase_user', { user: 'amy' })).code, 'bad_request');
    await c.close();
  });

  test('the PHP library: Hub::eraseUser and Hub::eraseStatus', { skip: PHP_SKIP }, async () => {
    await publishMany(cluster, 'xia', ['room:x1', 'room:x2'], 20, 'xia');
    const commands = [
      { do: 'hub', name: 'h', config: cluster.endpoints.app },
      { do: 'call', name: 'h', method: 'eraseUser', args: ['xia'] },
    ];
    const run = (cmds) => spawnSync(PHP, [PHP_DRIVER], { input: cmds.map((c) => JSON.stringify(c)).join('\n') + '\n', encoding: 'utf8' })
      .stdout.trim().split('\n').map((line) => JSON.parse(line));
    const r = run(commands);
    assert.equal(r[1].ok, true, JSON.stringify(r[1]));
    let status;
    await until(() => {
      status = run([commands[0], { do: 'call', name: 'h', method: 'eraseStatus', args: ['xia'] }])[1];
      return status.result?.state === 'done';
    }, 'xia done');
    assert.equal(status.result.erased, 20);
    assert.equal(status.result.remaining, 0);
  });
});
