// The PHP library's conversations (docs/protocol.md "Conversations"): Webim\Hub::conversations asks
// the hub owning "user:<id>" for one page, then each shard for the unread counts of its channels
// (only those), and merges them into the items (peer_read on dm: channels only); HttpApi posts
// /api/conversations. Real php-cli with php-zmq against two stand-in hubs (php/fake_hub.php,
// scripted answers) and a php -S stub of the HTTP API: the hub side is tested with the hub.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { crc32 } from 'node:zlib';

import { Process, freePort, sleep } from './harness.mjs';
import { PHP, PHP_DIR, PhpDriver, phpSkipReason } from './php_driver.mjs';

const shardOf = (name) => (crc32(name) % 1024 < 512 ? 0 : 1);
const nameOn = (want, prefix) => { for (let i = 0; ; i++) if (shardOf(`${prefix}${i}`) === want) return `${prefix}${i}`; };

const SKIP = phpSkipReason();

// tests/integration/php/driver.php: one JSON command per line, one JSON answer per line.
async function waitFor(what, check, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const portOpen = (port) => new Promise((resolve) => {
  const s = connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

describe('conversations in the PHP library', { skip: SKIP }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'webim-phpconv-'));
  const hubs = [];
  let php;
  const user = nameOn(1, 'u');      // the inbox user:<u> is on shard 1 (checked below)
  const dm0 = nameOn(0, 'dm:a:z');  // a dm: channel on shard 0
  const room1 = nameOn(1, 'room:'); // a room on shard 1
  const room0 = nameOn(0, 'room:'); // a room on shard 0

  before(async () => {
    const inboxShard = shardOf(`user:${user}`);
    const answers = [
      { unread: { unread: { [dm0]: 2, [room0]: 0 }, read: { [dm0]: 3, [room0]: 9 }, peer_read: { [dm0]: 5 } } },
      { unread: { unread: { [room1]: 4 }, read: { [room1]: 1 }, peer_read: {} } },
    ];
    answers[inboxShard].conversations = {
      items: [{ ch: dm0, ts: 30, seq: 5 }, { ch: room1, ts: 20, seq: 5 }, { ch: room0, ts: 10, seq: 9 }],
      more: true,
    };
    for (const i of [0, 1]) {
      writeFileSync(join(dir, `answers${i}.json`), JSON.stringify(answers[i]));
      writeFileSync(join(dir, `hub${i}.log`), '');
      const hub = new Process(`fake${i}`, PHP, [join(PHP_DIR, 'fake_hub.php'), `ipc://${dir}/hub${i}`, join(dir, `hub${i}.log`),
        '--answers', join(dir, `answers${i}.json`)]);
      hubs.push(hub);
      await waitFor(`fake hub ${i}`, () => hub.log.includes('ready'));
    }
    php = new PhpDriver();
    const table = { slots: 1024, shards: [0, 1].map((i) => ({ name: `hub${i}`, slots: i === 0 ? '0-511' : '512-1023', app_ingress: `ipc://${dir}/hub${i}` })) };
    assert.equal((await php.send({ do: 'hub', name: 'h', config: table, timeout_ms: 2000 })).ok, true);
  });

  after(async () => {
    await php?.close();
    for (const hub of hubs) await hub.stop('SIGKILL');
  });

  test('Hub::conversations: the inbox hub\'s page, each shard\'s unread counts for its channels, merged', async () => {
    const page = await php.ok('h', 'conversations', user, 3, { ts: 40, ch: 'room:zz' });
    assert.deepEqual(page, {
      items: [
        { ch: dm0, ts: 30, seq: 5, unread: 2, read: 3, peer_read: 5 },
        { ch: room1, ts: 20, seq: 5, unread: 4, read: 1 },
        { ch: room0, ts: 10, seq: 9, unread: 0, read: 9 },
      ],
      more: true,
    });
    const logOf = (i) => readFileSync(join(dir, `hub${i}.log`), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const inbox = shardOf(`user:${user}`);
    assert.deepEqual(logOf(inbox).filter((r) => r.op === 'conversations'),
      [{ op: 'conversations', user, limit: 3, before: { ts: 40, ch: 'room:zz' } }]);
    assert.deepEqual(logOf(1 - inbox).filter((r) => r.op === 'conversations'), [], 'asked of the inbox\'s hub only');
    assert.deepEqual(logOf(0).filter((r) => r.op === 'unread'), [{ op: 'unread', user, chs: [dm0, room0] }]);
    assert.deepEqual(logOf(1).filter((r) => r.op === 'unread'), [{ op: 'unread', user, chs: [room1] }]);
  });

  test('HttpApi::conversations posts /api/conversations', async () => {
    const port = await freePort();
    const log = join(dir, 'stub.log');
    writeFileSync(log, '');
    Object.assign(process.env, { WEBIM_STUB_LOG: log, WEBIM_STUB_KEY: 'k-9' });
    const stub = new Process('stub', PHP, ['-S', `127.0.0.1:${port}`, join(PHP_DIR, 'http_stub.php')]);
    for (const k of ['WEBIM_STUB_LOG', 'WEBIM_STUB_KEY']) delete process.env[k];
    try {
      await waitFor('the stub', () => portOpen(port));
      assert.equal((await php.send({ do: 'http', name: 'api', urls: [`http://127.0.0.1:${port}`], key: 'k-9', timeout_ms: 2000 })).ok, true);
      assert.deepEqual(await php.ok('api', 'conversations', 'a', 10), {
        items: [{ ch: 'dm:a:b', ts: 20, seq: 5, unread: 2, read: 3, peer_read: 5 }], more: true,
      });
      const [req] = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual([req.method, req.path, JSON.parse(req.body)], ['POST', '/api/conversations', { op: 'conversations', user: 'a', limit: 10 }]);
    } finally {
      await stub.stop();
    }
  });
});
