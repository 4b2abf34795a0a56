// What the read cursors of sub replies cost (docs/architecture.md "Read cursors"): a reconnect of
// C clients, each resubscribing M channels in one batched sub (rooms and dms over two shards, some
// read), against a frontend with sub_read_cursors on and one with it off, side by side in one run
// (same hubs). Reports per-batch answer latency p50/p99 (first request sent -> last channel
// answered) and the wall time of the whole reconnect, for both, and their ratio.
//   node tests/load/sub_cursors_bench.mjs [clients] [channels] [rounds]
// Env: WEBIM_FRONTEND, WEBIM_BROADCAST (scripts/bench-sub-cursors sets them).
import { crc32 } from 'node:zlib';

import { Client, Cluster } from '../integration/harness.mjs';

const CLIENTS = Number(process.argv[2] ?? 200);
const CHANNELS = Number(process.argv[3] ?? 100);
const ROUNDS = Number(process.argv[4] ?? 3);

const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];

async function reconnect(cluster, fe, tag) {
  const clients = await Promise.all(Array.from({ length: CLIENTS }, async (_, i) => {
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token(`u${i}`, ['room:*']));
    return c;
  }));
  const latencies = [];
  const start = process.hrtime.bigint();
  await Promise.all(clients.map((c, i) => new Promise((resolve) => {
    const subs = Array.from({ length: CHANNELS }, (_, k) => ({ ch: k % 4 === 0 ? `dm:u${i}:x${k}` : `room:b${(i * 7 + k) % 500}` }));
    const want = new Set(subs.map((s) => s.ch)).size;
    let got = 0;
    const t0 = process.hrtime.bigint();
    c.ws.on('message', (d) => {
      const o = JSON.parse(d.toString());
      if (o.id === 777 && ++got === want) {
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        resolve();
      }
    });
    c.ws.send(JSON.stringify({ op: 'sub', id: 777, subs }));
  })));
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  await Promise.all(clients.map((c) => c.close()));
  return { tag, p50: pct(latencies, 50), p99: pct(latencies, 99), wallMs };
}

const cluster = new Cluster();
try {
  const shards = await cluster.startShards(['0-511', '512-1023']);
  const on = await cluster.startFrontend(['--rate-burst', '1000', '--max-subscriptions', '1000']);
  const off = await cluster.startFrontend(['--rate-burst', '1000', '--max-subscriptions', '1000', '--no-sub-read-cursors']);
  // Some history and some cursors: rooms written, a third of them read by their users.
  const pubs = [];
  for (let r = 0; r < 500; r++) pubs.push({ op: 'pub', ch: `room:b${r}`, data: r });
  for (const [i, shard] of shards.entries()) {
    const mine = pubs.filter((p) => (crc32(p.ch) % 1024 < 512 ? 0 : 1) === i);
    if (mine.length) await cluster.appRequests(mine, 20000, shard.app_ingress);
  }
  const reads = [];
  for (let i = 0; i < CLIENTS; i += 3) {
    for (let k = 1; k < CHANNELS; k += 4) reads.push({ op: 'read', user: `u${i}`, ch: `room:b${(i * 7 + k) % 500}`, seq: 1 });
  }
  for (const [i, shard] of shards.entries()) {
    const mine = reads.filter((p) => (crc32(p.ch) % 1024 < 512 ? 0 : 1) === i);
    if (mine.length) await cluster.appRequests(mine, 20000, shard.app_ingress);
  }
  const results = { on: [], off: [] };
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so neither always gets the warmer caches.
    const order = round % 2 === 0 ? [['on', on], ['off', off]] : [['off', off], ['on', on]];
    for (const [tag, fe] of order) results[tag].push(await reconnect(cluster, fe, tag));
  }
  const med = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const summary = {};
  for (const tag of ['on', 'off']) {
    summary[tag] = {
      p50_ms: med(results[tag].map((r) => r.p50)), p99_ms: med(results[tag].map((r) => r.p99)),
      wall_ms: med(results[tag].map((r) => r.wallMs)),
    };
  }
  summary.ratio_on_off = {
    p50: summary.on.p50_ms / summary.off.p50_ms, p99: summary.on.p99_ms / summary.off.p99_ms,
    wall: summary.on.wall_ms / summary.off.wall_ms,
  };
  console.log(JSON.stringify({ clients: CLIENTS, channels: CHANNELS, rounds: ROUNDS, summary, runs: results }, null, 1));
} finally {
  await cluster.stop();
}
