// The restart check shared by read_cursors_restart.test.mjs (RocksDB) and read_cursors_pg.test.mjs.
import assert from 'node:assert/strict';

import { Client, sleep } from './harness.mjs';

async function untilOk(client, op, fields) {
  let reply;
  for (let i = 0; i < 50 && reply?.op !== 'ok'; i++) {
    reply = await client.request(op, fields);
    if (reply.op !== 'ok') await sleep(200);
  }
  return reply;
}

export async function checkCursorsSurviveRestart(cluster, hubArgs) {
  await cluster.startHub(hubArgs);
  const fe = await cluster.startFrontend();
  const c = await Client.connect(fe.url);
  await c.auth(cluster.token('rs', ['room:rs']));
  await cluster.appRequests(Array.from({ length: 5 }, (_, i) => ({ op: 'pub', ch: 'room:rs', data: i })));
  assert.equal((await c.request('read', { ch: 'room:rs', seq: 3 })).seq, 3);
  await cluster.hub.stop('SIGKILL');
  await cluster.startHub(hubArgs);
  const unread = await untilOk(c, 'unread', { chs: ['room:rs'] });
  assert.deepEqual(unread.unread, { 'room:rs': 2 });
  assert.equal((await untilOk(c, 'read', { ch: 'room:rs', seq: 1 })).seq, 3, 'monotonic across the restart');
  assert.equal((await c.request('read', { ch: 'room:rs', seq: 5 })).seq, 5);
  await c.close();
}
