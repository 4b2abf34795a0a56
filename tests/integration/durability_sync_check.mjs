// Checks hub/durability-sync: no ack leaves before the sync that covers it.
// Usage: node durability_sync_check.mjs SHIM_LOG CLIENT_LOG COMMITS MAX_BATCH
// SHIM_LOG (sync_shim.c, in the hub): W (WAL write, with the publish markers it carried),
// S/E (start/end of a WAL fdatasync/fsync), each with a global order number and CLOCK_MONOTONIC ns.
// CLIENT_LOG (durability_client): cid, send ns, receive ns, status, seq (same clock).
// For every acked publish: its WAL write W (the first write carrying its cid), the first sync S
// that started after W (ordered by the shim's counter, exact), and that sync's end E, which must
// come before the client received the ack (E.ns < recv.ns) and after the client sent the request.
// Group commit: WAL syncs <= the hub's commits, and fewer syncs than acks.
import { readFileSync } from 'node:fs';

const [shimLog, clientLog, commitsArg, maxBatchArg] = process.argv.slice(2);
const commits = Number(commitsArg), maxBatch = Number(maxBatchArg);
const fail = (msg) => { console.log(`FAIL: ${msg}`); process.exit(1); };
const ok = (msg) => console.log(`ok - ${msg}`);

const writeOf = new Map();  // marker -> order of the first WAL write carrying it
const syncs = [];           // {startOrder, startNs, endNs, rc}
const open = new Map();     // fd -> sync started, not ended
for (const line of readFileSync(shimLog, 'utf8').split('\n')) {
  if (!line) continue;
  const f = line.split(' ');
  const order = Number(f[1]), ns = BigInt(f[2]), fd = f[3];
  if (f[0] === 'W') {
    for (const m of f.slice(4)) if (!writeOf.has(m)) writeOf.set(m, order);
  } else if (f[0] === 'S') {
    const s = { startOrder: order, startNs: ns, endNs: null, rc: null };
    open.set(fd, s);
    syncs.push(s);
  } else if (f[0] === 'E') {
    const s = open.get(fd);
    if (!s) fail(`sync end without start: ${line}`);
    s.endNs = ns;
    s.rc = Number(f[5]);
    open.delete(fd);
  }
}
syncs.sort((a, b) => a.startOrder - b.startOrder);
const done = syncs.filter((s) => s.rc === 0);

const acks = readFileSync(clientLog, 'utf8').split('\n').filter(Boolean).map((l) => {
  const [cid, sent, recv, status, seq] = l.split(' ');
  return { cid, sent: BigInt(sent), recv: BigInt(recv), status, seq: Number(seq) };
}).filter((a) => a.status === 'ok');
if (!acks.length) fail('no acks');

let violations = 0;
const covering = new Set();
for (const a of acks) {
  const w = writeOf.get(a.cid);
  if (w === undefined) fail(`acked ${a.cid} (seq ${a.seq}) was never written to a WAL file`);
  // The first sync to start after the write: the one that made it durable.
  const s = done.find((x) => x.startOrder > w);
  if (!s) {
    if (violations++ < 5) console.log(`violation: ${a.cid} seq ${a.seq} acked, no WAL sync after its write`);
    continue;
  }
  if (!(s.endNs < a.recv && s.startNs > a.sent)) {
    if (violations++ < 5) {
      console.log(`violation: ${a.cid} seq ${a.seq}: request sent ${a.sent}, covering sync ${s.startNs}..${s.endNs}, ` +
        `ack received ${a.recv} (${Number(s.endNs - a.recv) / 1e6} ms before the sync ended)`);
    }
    continue;
  }
  covering.add(s.startOrder);
}
if (violations) fail(`${violations} of ${acks.length} acks left before the sync covering their write`);
ok(`${acks.length} acks, each received after the WAL sync that covers its write completed`);
// Syncs before the first request (the store's epoch seed and the run marker, written at start) and
// after the last ack (the clean-stop marker, docs/durability.md "Delivery modes") are not commits.
const firstSent = acks.reduce((m, a) => (a.sent < m ? a.sent : m), acks[0].sent);
const lastRecv = acks.reduce((m, a) => (a.recv > m ? a.recv : m), acks[0].recv);
const duringLoad = done.filter((s) => s.startNs > firstSent && s.startNs < lastRecv);
ok(`${duringLoad.length} WAL syncs during the load (${done.length - duringLoad.length} before or after it), ${commits} group commits, ${covering.size} syncs covered acks`);
if (duringLoad.length > commits) fail(`more WAL syncs (${duringLoad.length}) than group commits (${commits})`);
ok('WAL syncs <= group commits');
if (covering.size < Math.ceil(acks.length / maxBatch)) fail('fewer covering syncs than batches that acked');
if (duringLoad.length >= acks.length) fail(`no group commit: ${duringLoad.length} syncs for ${acks.length} acks`);
ok(`group commit: ${(acks.length / covering.size).toFixed(1)} acks per sync on average`);
