// Repro: a reader that reads promptly is closed 4009 by its own hist reply / sub recovery when
// messages are large (8 KB) and the reply approaches --max-backlog-bytes.
import { Client, Cluster, sleep } from '../harness.mjs';
const backlog = process.argv[2] ?? '1048576';
const cluster = new Cluster();
await cluster.startHub();
const fe = await cluster.startFrontend(['--rate-limit', '100000', '--rate-burst', '100000', '--max-backlog-bytes', backlog]);
const w = await Client.connect(fe.url);
await w.auth(cluster.token('w', ['room:*']));
const pad = 'x'.repeat(8000);
let last;
for (let i = 0; i < 300; i++) last = await w.request('pub', { ch: 'room:big', data: { i, pad }, cid: `c${i}` });
for (const [what, req] of [['hist after 0 limit 200', ['hist', { ch: 'room:big', after: 0, limit: 200 }]],
  ['sub since seq 0', ['sub', { ch: 'room:big', since: { epoch: last.epoch, seq: 0 } }]]]) {
  const r = await Client.connect(fe.url);
  await r.auth(cluster.token('r', ['room:*']));
  let reply;
  try { reply = await r.request(...req, 5000); } catch (e) { reply = { error: e.message }; }
  await sleep(1500);
  const closed = await Promise.race([r.closed, sleep(10).then(() => 'open')]);
  console.log(`backlog ${backlog}: ${what}: reply ${reply.op ?? JSON.stringify(reply)} msgs ${reply.msgs?.length ?? r.msgs.length} recovered ${reply.recovered} ` +
    `bytes ${JSON.stringify(reply).length} -> connection ${JSON.stringify(closed)}`);
}
await cluster.stop();
