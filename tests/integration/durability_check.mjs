// Checks a durability_client log against the hub's history (used by durability_enospc.sh).
// Usage: node durability_check.mjs HUB_BINARY APP_ENDPOINT CHANNEL CLIENT_LOG [FAILURE_MARK_FILE]
//   - every acknowledged publish is in history exactly once, at its acked seq, with its data;
//   - history is seq 1..N without a gap or a duplicate, each cid at most once;
//   - the first ack after the first `unavailable` continues at (last ack before it) + 1: the hub
//     rolled back and reuses no acknowledged seq, skips none;
//   - a retry of `unavailable` publishes (same cid) gets one answer, consistent with history.
// Prints "ok - ..." lines; exits 1 with "FAIL: ..." on the first violation.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const [hub, app, channel, logFile] = process.argv.slice(2);
const fail = (msg) => { console.log(`FAIL: ${msg}`); process.exit(1); };
const ok = (msg) => console.log(`ok - ${msg}`);
const request = (obj) => JSON.parse(execFileSync(hub, ['request', '--app-ingress', app, '--timeout-ms', '5000',
  JSON.stringify(obj)]).toString());

function readHistory() {
  const msgs = [];
  let after = 0;
  for (;;) {
    const page = request({ op: 'hist', ch: channel, after, limit: 200 });
    if (!page.ok) fail(`hist failed: ${JSON.stringify(page)}`);
    msgs.push(...page.msgs);
    if (!page.more || page.msgs.length === 0) return msgs;
    after = page.msgs[page.msgs.length - 1].seq;
  }
}

const lines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => {
  const [cid, sent, recv, status, seq] = l.split(' ');
  return { cid, sent: BigInt(sent), recv: BigInt(recv), status, seq: Number(seq) };
});
const acks = lines.filter((l) => l.status === 'ok');
const unavailable = lines.filter((l) => l.status === 'unavailable');
const other = lines.filter((l) => l.status !== 'ok' && l.status !== 'unavailable');
if (other.length) fail(`unexpected replies: ${other.slice(0, 5).map((l) => `${l.cid} ${l.status}`).join(', ')}`);
ok(`${acks.length} acks, ${unavailable.length} unavailable`);

const history = readHistory();
history.forEach((m, i) => {
  if (m.seq !== i + 1) fail(`history is not 1..N: position ${i} holds seq ${m.seq}`);
});
ok(`history is seq 1..${history.length}, no gap, no duplicate`);
const bySeq = new Map(history.map((m) => [m.seq, m]));
const seqOfCid = new Map();
for (const m of history) {
  if (seqOfCid.has(m.data.cid)) fail(`cid ${m.data.cid} stored twice (seq ${seqOfCid.get(m.data.cid)} and ${m.seq})`);
  seqOfCid.set(m.data.cid, m.seq);
}
ok('every cid at most once in history');
const ackedSeqs = new Set();
for (const a of acks) {
  const m = bySeq.get(a.seq);
  if (!m) fail(`acked ${a.cid} seq ${a.seq} is not in history`);
  if (m.data.cid !== a.cid) fail(`acked ${a.cid} seq ${a.seq} but history has ${m.data.cid} there`);
  if (ackedSeqs.has(a.seq)) fail(`seq ${a.seq} acked twice`);
  ackedSeqs.add(a.seq);
}
ok('every acknowledged message is in history once, at its acked seq');

// Order of events by the client's receive time: the first unavailable and the acks around it.
const byRecv = [...lines].sort((x, y) => (x.recv < y.recv ? -1 : x.recv > y.recv ? 1 : 0));
const firstFailure = byRecv.findIndex((l) => l.status === 'unavailable');
if (firstFailure < 0) fail('no publish was answered unavailable: the disk never filled');
const before = byRecv.slice(0, firstFailure).filter((l) => l.status === 'ok');
const afterAcks = byRecv.slice(firstFailure).filter((l) => l.status === 'ok');
if (!afterAcks.length) fail('no publish acknowledged after the failure: the hub did not recover');
const lastBefore = Math.max(0, ...before.map((l) => l.seq));
const firstAfter = Math.min(...afterAcks.map((l) => l.seq));
if (firstAfter !== lastBefore + 1) fail(`seq after recovery: expected ${lastBefore + 1}, lowest acked is ${firstAfter}`);
ok(`seq continues after recovery: last ack before the failure ${lastBefore}, first after ${firstAfter}`);

// Retry unavailable publishes with the same cid (every one already in history, and the first and
// last 100: a full disk fails thousands fast): stored once, answer consistent with history.
const toRetry = unavailable.filter((u, i) => seqOfCid.has(u.cid) || i < 100 || i >= unavailable.length - 100);
let alreadyStored = 0;
for (const u of toRetry) {
  const stored = seqOfCid.get(u.cid);
  const reply = request({ op: 'pub', ch: channel, from: 'durability', cid: u.cid, data: { cid: u.cid, pad: 'retry' } });
  if (!reply.ok) fail(`retry of ${u.cid}: ${JSON.stringify(reply)}`);
  if (stored !== undefined) {
    alreadyStored++;
    if (reply.seq !== stored) fail(`retry of ${u.cid} got seq ${reply.seq}, history has it at ${stored}`);
  }
}
const after = readHistory();
const cids = new Set(after.map((m) => m.data.cid));
if (cids.size !== after.length) fail('a retry stored a cid twice');
for (const u of toRetry) if (!cids.has(u.cid)) fail(`retried ${u.cid} missing from history`);
ok(`${toRetry.length} unavailable publishes retried with the same cid: each stored once ` +
  `(${alreadyStored} had been stored before their retry)`);
console.log(`history ${after.length}`);
