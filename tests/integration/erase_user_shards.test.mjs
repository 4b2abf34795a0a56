// Erasing a user with shards (docs/protocol.md "Erasing a user"): each hub erases the channels it
// owns, so POST /api/erase_user must start the job on every hub and /api/erase_status report all of
// them merged (state "running" while any hub runs, counts summed), as the PHP library's Hub does.
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { apiPost, Cluster, until } from './harness.mjs';

const slot = (name) => crc32(name) % 1024;

describe('erase_user over two shards through the HTTP API', () => {
  let cluster;
  let fe;
  const rooms = [];  // rooms[0] on hub0, rooms[1] on hub1

  before(async () => {
    cluster = new Cluster();
    const shards = await cluster.startShards(['0-511', '512-1023']);
    cluster.shardEndpoints = shards.map((s) => s.app_ingress);
    fe = await cluster.startFrontend();
    for (let i = 0; rooms.length < 2; i++) {
      const ch = `room:es${i}`;
      if ((slot(ch) < 512 ? 0 : 1) === rooms.length) rooms.push(ch);
    }
  });

  after(() => cluster.stopCleanly());

  test('one call erases the user on every hub; the status merges every hub', async () => {
    for (const ch of rooms) {
      for (let i = 0; i < 5; i++) {
        const r = await apiPost(fe.port, 'publish', { ch, from: 'wes', data: `wes-${i}`, cid: `${ch}-wes-${i}` }, cluster.apiKey);
        assert.equal(r.status, 200, JSON.stringify(r.body));
      }
      const keep = await apiPost(fe.port, 'publish', { ch, from: 'ann', data: 'ann', cid: `${ch}-ann` }, cluster.apiKey);
      assert.equal(keep.status, 200);
    }
    const started = await apiPost(fe.port, 'erase_user', { user: 'wes' }, cluster.apiKey);
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(started.body.user, 'wes');
    let status;
    await until(async () => {
      status = (await apiPost(fe.port, 'erase_status', { user: 'wes' }, cluster.apiKey)).body;
      return status.state === 'done';
    }, 'erased on every hub', 10000, 100);
    assert.deepEqual(status, { ok: true, user: 'wes', state: 'done', erased: 10, remaining: 0 });
    for (const ch of rooms) {
      const page = (await apiPost(fe.port, 'hist', { ch, after: 0, limit: 50 }, cluster.apiKey)).body;
      assert.equal(page.msgs.length, 6, JSON.stringify(page));
      for (const m of page.msgs) {
        if (m.from === 'wes') assert.equal(m.deleted, true, `${ch} ${JSON.stringify(m)}`);
        else assert.equal(m.data, 'ann');
      }
    }
    // Bad input is refused once, not once per hub.
    const bad = await apiPost(fe.port, 'erase_user', { user: '' }, cluster.apiKey);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'bad_request');
  });
});
