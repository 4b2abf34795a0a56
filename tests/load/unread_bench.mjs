// What an `unread` of 500 channels costs (docs/architecture.md "Read cursors"), two builds side by
// side in one run: each build gets its own cluster (hubs + one frontend) holding the same data
// (500 rooms of 20 messages, each with 2 edits and 1 delete, the reader's cursor at seq 5 in every
// one: every channel has unread messages and entries to skip, the index's worst case), and the
// rounds alternate between them. Per round: one client sends `unread` of the 500 channels N times,
// one after another, then C clients do the same at once (hub throughput). Reports p50/p99 latency
// and unread requests/s per build, medians over the rounds, and the ratio after/before.
//   node tests/load/unread_bench.mjs [shards (1)] [requests (200)] [rounds (5)] [clients (8)]
// Env: WEBIM_FRONTEND, WEBIM_BROADCAST (after), WEBIM_FRONTEND_BEFORE, WEBIM_BROADCAST_BEFORE
// (scripts/bench-unread sets them); WEBIM_BENCH_PG_DSN: the hubs on PostgreSQL (a schema per build,
// dropped at the end) instead of RocksDB; with WEBIM_BENCH_PG_VACUUM=1 too, VACUUM (ANALYZE) of the
// messages after the writes. Each build runs in a child process of its own (the harness
// reads its binaries from the environment at import).
import { execFileSync, fork } from 'node:child_process';
import { crc32 } from 'node:zlib';

const SHARDS = Number(process.argv[2] ?? 1);
const REQUESTS = Number(process.argv[3] ?? 200);
const ROUNDS = Number(process.argv[4] ?? 5);
const CLIENTS = Number(process.argv[5] ?? 8);
const CHANNELS = 500;
const chs = Array.from({ length: CHANNELS }, (_, k) => `room:u${k}`);
const pct = (xs, p) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const med = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function child() {
  const { Client, Cluster } = await import('../integration/harness.mjs');
  const cluster = new Cluster();
  const ranges = SHARDS === 1 ? null : ['0-511', '512-1023'];
  const dsn = process.env.WEBIM_BENCH_PG_DSN;
  const schema = `unread_bench_${process.pid}`;
  const psql = (sql) => execFileSync('psql', ['-q', dsn, '-c', `SET client_min_messages TO warning; ${sql}`]);
  if (dsn) psql(`CREATE SCHEMA ${schema}`);
  const hubArgs = dsn ? ['--store', 'postgres', '--pg-dsn', `${dsn} options='-c search_path=${schema}'`] : [];
  const shards = ranges ? await cluster.startShards(ranges, hubArgs) : [await cluster.startHub(hubArgs)];
  const fe = await cluster.startFrontend(['--rate-burst', '1000000', '--rate-limit', '1000000']);
  const shardOf = (ch) => (ranges ? (crc32(ch) % 1024 < 512 ? 0 : 1) : 0);
  const send = async (reqs) => {
    for (let s = 0; s < shards.length; s++) {
      const mine = reqs.filter((r) => shardOf(r.ch) === s);
      if (mine.length) await cluster.appRequests(mine, 60000, ranges ? shards[s].app_ingress : cluster.endpoints.app);
    }
  };
  const pubs = [];
  for (const ch of chs) for (let i = 1; i <= 20; i++) pubs.push({ op: 'pub', ch, data: i, from: 'w', cid: `${ch}-${i}` });
  await send(pubs);
  const entries = [];
  for (const ch of chs) {
    entries.push({ op: 'edit', ch, seq: 7, data: 'e1', from: 'w', cid: `${ch}-e1` });
    entries.push({ op: 'edit', ch, seq: 9, data: 'e2', from: 'w', cid: `${ch}-e2` });
    entries.push({ op: 'delete', ch, seq: 11, from: 'w', cid: `${ch}-d` });
  }
  await send(entries);
  await send(chs.map((ch) => ({ op: 'read', user: 'r', ch, seq: 5 })));
  // As autovacuum leaves the table some time after the writes (the visibility map lets the count
  // use index-only scans without visiting the heap).
  if (dsn && process.env.WEBIM_BENCH_PG_VACUUM) execFileSync('psql', ['-q', dsn, '-c', `VACUUM (ANALYZE) ${schema}.webim_message`]);
  const connect = async () => {
    const c = await Client.connect(fe.url);
    await c.auth(cluster.token('r', ['room:*']));
    return c;
  };
  const check = await connect();
  const first = await check.request('unread', { chs }, 30000);
  const expected = first.unread[chs[0]];
  process.send({ ready: true, unread: expected });
  process.on('message', async (m) => {
    if (m.stop) {
      await check.close();
      await cluster.stop();
      if (dsn) psql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      process.exit(0);
    }
    const lat = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t0 = process.hrtime.bigint();
      const r = await check.request('unread', { chs }, 30000);
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r.op !== 'ok') throw new Error(JSON.stringify(r));
    }
    const clients = await Promise.all(Array.from({ length: CLIENTS }, connect));
    const start = process.hrtime.bigint();
    await Promise.all(clients.map(async (c) => {
      for (let i = 0; i < REQUESTS / 4; i++) await c.request('unread', { chs }, 30000);
    }));
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    await Promise.all(clients.map((c) => c.close()));
    process.send({ p50: pct(lat, 50), p99: pct(lat, 99), perSecond: (CLIENTS * (REQUESTS / 4)) / seconds });
  });
}

async function parent() {
  const env = (fe, hub) => ({ ...process.env, WEBIM_FRONTEND: fe, WEBIM_BROADCAST: hub, UNREAD_BENCH_CHILD: '1' });
  const builds = {
    before: fork(process.argv[1], process.argv.slice(2), { env: env(process.env.WEBIM_FRONTEND_BEFORE, process.env.WEBIM_BROADCAST_BEFORE) }),
    after: fork(process.argv[1], process.argv.slice(2), { env: env(process.env.WEBIM_FRONTEND, process.env.WEBIM_BROADCAST) }),
  };
  const next = (c) => new Promise((resolve, reject) => {
    c.once('message', resolve);
    c.once('exit', (code) => reject(new Error(`bench child exited ${code}`)));
  });
  const ready = {};
  for (const [tag, c] of Object.entries(builds)) ready[tag] = (await next(c)).unread;
  const runs = { before: [], after: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
      for (const tag of order) {
        builds[tag].send({ round });
        runs[tag].push(await next(builds[tag]));
      }
    }
  } finally {
    for (const c of Object.values(builds)) c.send({ stop: true });
  }
  const summary = {};
  for (const tag of ['before', 'after']) {
    summary[tag] = {
      unread_of_first_channel: ready[tag], p50_ms: med(runs[tag].map((r) => r.p50)),
      p99_ms: med(runs[tag].map((r) => r.p99)), per_second: med(runs[tag].map((r) => r.perSecond)),
    };
  }
  summary.ratio_after_before = {
    p50: summary.after.p50_ms / summary.before.p50_ms, p99: summary.after.p99_ms / summary.before.p99_ms,
    per_second: summary.after.per_second / summary.before.per_second,
  };
  console.log(JSON.stringify({ shards: SHARDS, channels: CHANNELS, requests: REQUESTS, rounds: ROUNDS, clients: CLIENTS, summary, runs }, null, 1));
}

if (process.env.UNREAD_BENCH_CHILD) await child();
else await parent();
