// Bytes a RocksDB hub writes per message: N messages in dm: channels (each leaves two inbox notices
// and two conversation index updates) against N in room: channels of the same name length, on this
// build's hub and, with --old-hub, on another binary (e.g. one without conversations), side by side.
// The figure: the store directory's size growth (WAL + SST files, no compaction) per message.
//   node tests/load/conversation_bytes_bench.mjs [messages (20000)] [--old-hub PATH]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { BROADCAST, Cluster, Process, hubRequests, until } from '../integration/harness.mjs';

const args = process.argv.slice(2);
const at = args.indexOf('--old-hub');
const oldHub = at >= 0 ? args.splice(at, 2)[1] : null;
const messages = Number(args[0] || 20000);

async function measure(bin, kind) {
  const cluster = new Cluster();
  const dir = join(cluster.dir, 'hub');
  cluster.hub = new Process('hub', bin || BROADCAST, ['--app-ingress', cluster.endpoints.app, '--hub-ingress',
    cluster.endpoints.ingress, '--hub-pub', cluster.endpoints.pub, '--data', dir, '--retention', '']);
  await until(() => /webim-broadcast ready/.test(cluster.hub.log), 'hub ready', 15000);
  const size = () => Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0]);
  const before = size();
  const data = JSON.stringify({ text: 'x'.repeat(60) });  // ~70 bytes, a short chat line
  const chunk = 1000;
  for (let sent = 0; sent < messages; sent += chunk) {
    const requests = [];
    for (let i = sent; i < Math.min(messages, sent + chunk); i++) {
      const n = i % 500;  // 500 conversations, like one busy user's list
      const ch = kind === 'dm' ? `dm:u${String(n).padStart(3, '0')}:v${String(n).padStart(3, '0')}` : `room:x${String(n).padStart(3, '0')}yyy`;
      requests.push({ op: 'pub', ch, from: kind === 'dm' ? `u${String(n).padStart(3, '0')}` : 'u000', data: JSON.parse(data), cid: `c${i}` });
    }
    const replies = await hubRequests(cluster.endpoints.app, requests, 60000);
    if (replies.some((r) => r.ok !== true)) throw new Error(JSON.stringify(replies.find((r) => r.ok !== true)));
  }
  const after = size();
  await cluster.stop();
  return (after - before) / messages;
}

const rows = [];
for (const [name, bin] of [['this build', null], ...(oldHub ? [['old hub', oldHub]] : [])]) {
  for (const kind of ['room', 'dm']) rows.push({ hub: name, channels: kind, bytesPerMessage: (await measure(bin, kind)).toFixed(1) });
}
console.log(`${messages} messages, 500 channels, ~70-byte data, RocksDB store growth per message:`);
console.table(rows);
