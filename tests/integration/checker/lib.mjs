// Fault-injection checker: "nothing lost, nothing duplicated".
//
// Real hubs and frontends (tests/integration/harness.mjs), real clients: the JS client library
// (clients/js/webim.js) in Node with `ws`, several per frontend, plus publishers on the app ingress
// (the PHP app's path, through `cluster.appRequest`). Every publish carries a unique id in `data`;
// every send, ack (epoch, seq) and delivery to an application handler is recorded. While the load
// runs a fault is injected (a named scenario, below), repeatedly for long runs. Afterwards the load
// stops, pending publishes are given time to be acked (the library retries them with the same cid),
// subscribers are given time to catch up, history is read completely per channel (`hist` paging) and
// every message is classified:
//   lost            acked but not in history (or history has another message at the acked seq), or
//                   in history after a subscriber's start position but never delivered to it
//                   (subscribers stay subscribed the whole run; history is never trimmed here)
//   duplicated      delivered twice to one application handler (same id or same seq); after a
//                   resync for a new epoch (a fast channel after a crash) the library reloads the
//                   recent history for the application to rebuild its view: counted as `reloads`,
//                   and the count starts afresh
//   storedTwice     the same id stored under two seqs (the cid dedup failed)
//   outOfOrder      a subscriber's seq went backwards or skipped within an epoch with no resync
//   unexpected      delivered but never sent, or delivered with content other than history's at that seq
//   wireDuplicated  sent by the server twice, counted on the wire before the library de-duplicates
//                   (see Wire below): the same channel, epoch and seq twice on one stream, or a msg
//                   a resume's `since` already covered
//   unackedAtEnd    sent, still being retried when the run ended (not a loss)
// The promise: zero of each class except unackedAtEnd.
//
// Liveness: after each fault ends (the moment the scenario removes it: the restarted process is
// ready, SIGCONT, the reader resumes, the disk is freed), every publisher must get an ack again and
// every subscriber a delivery again within the scenario's `liveBoundMs` (see Run.liveness).
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { BROADCAST, Cluster, Process, WebSocket, httpGet, hubRequest, sleep } from '../harness.mjs';
import { WebimClient, readEventStream } from '../../../clients/js/webim.js';

// The scenario names (scenarios.json, also read by CMake: one CTest test checker/<name> each).
const SCENARIO_LIST = JSON.parse(readFileSync(new URL('./scenarios.json', import.meta.url), 'utf8'));
// What scripts/soak runs by default.
export const SCENARIOS = SCENARIO_LIST.soak;
// Slow ones, run when named (CTest runs them too).
export const LARGE_MESSAGE_SCENARIOS = SCENARIO_LIST.optIn;

// zlib's CRC-32 (the shard map: crc32(name) % 1024), for routing app-ingress requests to the right hub.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
export function crc32(s) {
  let c = 0xffffffff;
  for (const b of Buffer.from(s)) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const now = () => Date.now();
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null);
export function summarize(values) {
  const s = [...values].sort((a, b) => a - b);
  return { count: s.length, p50: pct(s, 50), p99: pct(s, 99), max: s.length ? s[s.length - 1] : null };
}

function waitReady(proc, pattern, timeoutMs = 15000) {
  const deadline = now() + timeoutMs;
  return (async () => {
    while (!pattern.test(proc.log)) {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`${proc.name} exited during start:\n${proc.log}`);
      if (now() > deadline) throw new Error(`${proc.name} not ready in ${timeoutMs} ms:\n${proc.log}`);
      await sleep(20);
    }
  })();
}

const metric = (body, name) => body.split('\n').filter((l) => l.startsWith(name)).reduce((a, l) => a + Number(l.split(' ').pop()), 0);

// ---- the wire ----------------------------------------------------------------------------------
//
// What each client's transport received, before the library de-duplicates (webim.js drops a msg at or
// below the position it delivered, `onMessage`). Recorded per *stream*: one WebSocket connection, or
// one GET /events request of the HTTP fallback (an SSE stream, or one long-poll answer). A stream
// subscribes a channel once, from a position: the `since` of its `sub` request (WebSocket) or the
// channel's entry in `since=` of its URL (HTTP); for a new subscription, the position the server
// answered with (the `sub` reply; the fallback's `resync` for the NO_EPOCH entry). A *wire
// duplicate* is a msg the server should not have sent:
//   twice       the same channel, epoch and seq a second time on one stream (it stayed subscribed)
//   covered     at or before the stream's position for that channel, in the same epoch: the resume's
//               `since` already covered it (or the new subscription's reply said it was past it)
// A msg the client saw on an earlier stream and sees again on a later one whose `since` did not cover
// it is legitimate (the library had not delivered it: held behind a gap when the connection dropped);
// those are counted as `resent`, for information, as are msgs for a channel the stream never
// subscribed (`unsolicited`; the library ignores them).
const NO_EPOCH = '0000000000000000';

export class Wire {
  constructor(client) {
    this.client = client;
    this.streams = 0;
    this.msgs = 0; // msg frames / events / array elements received
    this.resent = 0;
    this.unsolicited = 0;
    this.dups = []; // {why, stream, kind, ch, epoch, seq, since, t}
    this.everSeen = new Map(); // ch -> epoch -> Set(seq), over all streams
  }

  open(kind) {
    return { id: ++this.streams, kind, since: new Map(), seen: new Map(), replies: new Map() };
  }

  // The stream subscribes `ch` from `since` (null/NO_EPOCH: a new subscription; `id`: its request id,
  // whose reply gives the position; `batched`: one channel of a `subs` request, answered with `ch`).
  sub(stream, ch, since, id, batched = false) {
    const resume = since && since.epoch !== NO_EPOCH;
    stream.since.set(ch, resume ? { epoch: since.epoch, seq: Number(since.seq) } : null);
    if (!resume && id !== undefined) stream.replies.set(`${id}\0${batched ? ch : ''}`, ch);
  }

  // A reply to a new subscription: its position (`ok` with epoch/seq on the WebSocket; the
  // fallback's `resync` event) is where the stream starts.
  started(stream, ch, epoch, seq) {
    if (stream.since.has(ch) && stream.since.get(ch) === null) stream.since.set(ch, { epoch, seq, reply: true });
  }

  reply(stream, obj) {
    const key = `${obj.id}\0${obj.ch ?? ''}`;
    const ch = stream.replies.get(key);
    if (ch === undefined) return;
    stream.replies.delete(key);
    if (obj.op === 'ok') this.started(stream, ch, obj.epoch, obj.seq);
  }

  msg(stream, m) {
    if (!m || m.op !== 'msg' || typeof m.ch !== 'string') return;
    this.msgs++;
    if (!stream.since.has(m.ch)) { this.unsolicited++; return; }
    const seenOn = (map) => {
      let byEpoch = map.get(m.ch);
      if (!byEpoch) map.set(m.ch, (byEpoch = new Map()));
      let seqs = byEpoch.get(m.epoch);
      if (!seqs) byEpoch.set(m.epoch, (seqs = new Set()));
      const had = seqs.has(m.seq);
      seqs.add(m.seq);
      return had;
    };
    const since = stream.since.get(m.ch);
    const twice = seenOn(stream.seen);
    const ever = seenOn(this.everSeen);
    let why = null;
    if (twice) why = 'twice';
    else if (since && since.epoch === m.epoch && m.seq <= since.seq) why = 'covered';
    if (why) this.dups.push({ why, client: this.client, stream: stream.id, kind: stream.kind, ch: m.ch, epoch: m.epoch, seq: m.seq, since: since ?? null, t: now() });
    else if (ever) this.resent++;
  }
}

// A `ws` WebSocket class that records one client's wire (and the run's close codes and `err` replies,
// which the library hides behind its retries). The library calls send() with each request's JSON.
export function wireWebSocket(run, tag, wire) {
  return class extends WebSocket {
    constructor(url, ...rest) {
      super(url, ...rest);
      this.wireStream = wire.open('websocket');
      run.sockets.push({ tag, ws: this });
      this.on('message', (d, isBinary) => {
        if (isBinary) return;
        let obj;
        try { obj = JSON.parse(d.toString()); } catch { return; }
        if (obj.op === 'msg') return wire.msg(this.wireStream, obj);
        wire.reply(this.wireStream, obj);
        if (obj.op === 'err') run.errCodes[obj.code ?? '?'] = (run.errCodes[obj.code ?? '?'] ?? 0) + 1;
      });
      this.on('close', (code) => { run.closeCodes[code] = (run.closeCodes[code] ?? 0) + 1; });
    }

    send(data, ...rest) {
      if (typeof data === 'string' && data.startsWith('{"op":"sub"')) {
        const req = JSON.parse(data);
        if (Array.isArray(req.subs)) {
          for (const e of req.subs) wire.sub(this.wireStream, e.ch, e.since, req.id, true);
        } else {
          wire.sub(this.wireStream, req.ch, req.since, req.id);
        }
      }
      return super.send(data, ...rest);
    }
  };
}

// A fetch for the library's HTTP fallback that records what each GET /events brought (SSE: the body
// is teed and parsed here too; long-poll: the answer's array) before the library sees it.
// Each request gets its own AbortSignal, aborted with the library's: the library passes one signal
// to every poll of a stream, and Node 20's fetch (undici) keeps an abort listener per request on it
// until garbage collection (nodejs/node#52635), warning after 1,500 polls.
export function wireFetch(wire, inner = fetch) {
  return async (url, init = {}) => {
    let unlink = () => {};
    if (init.signal) {
      const outer = init.signal;
      const mine = new AbortController();
      const abort = () => mine.abort(outer.reason);
      if (outer.aborted) abort();
      else outer.addEventListener('abort', abort, { once: true });
      unlink = () => outer.removeEventListener('abort', abort);
      init = { ...init, signal: mine.signal };
    }
    let res;
    try {
      res = await inner(url, init);
    } catch (e) {
      unlink();
      throw e;
    }
    const u = new URL(url);
    if (!u.pathname.endsWith('/events') || res.status !== 200) {
      unlink(); // the rest of a small body the library reads at once is not worth aborting
      return res;
    }
    const sse = String(init.headers?.Accept ?? '').includes('text/event-stream');
    const stream = wire.open(sse ? 'sse' : 'longpoll');
    const names = (u.searchParams.get('ch') ?? '').split(',');
    const positions = (u.searchParams.get('since') ?? '').split(',');
    names.forEach((ch, i) => {
      // ch:epoch:seq, where the channel may contain ':'.
      const parts = (positions[i] ?? '').split(':');
      const seq = parts.pop();
      const epoch = parts.pop();
      wire.sub(stream, ch, epoch ? { epoch, seq } : null);
    });
    const onEvent = (obj) => {
      if (obj?.op === 'resync' && obj.seq !== undefined) wire.started(stream, obj.ch, obj.epoch, obj.seq);
      else wire.msg(stream, obj);
    };
    if (!sse) {
      let text;
      try { text = await res.text(); } finally { unlink(); }
      try { for (const obj of JSON.parse(text)) onEvent(obj); } catch { /* the library reports it */ }
      return new Response(text, { status: res.status, headers: res.headers });
    }
    const [mine, theirs] = res.body.tee();
    readEventStream(mine, (data) => {
      try { onEvent(JSON.parse(data)); } catch { /* not JSON */ }
    }).catch(() => { /* aborted with the library's branch */ }).finally(unlink);
    return new Response(theirs, { status: res.status, headers: res.headers });
  };
}

// ---- the run ------------------------------------------------------------------------------------

class Run {
  constructor(name, opts) {
    this.name = name;
    this.opts = {
      duration: 5, // seconds of load
      perFrontend: 3, // library clients per frontend
      frontends: 3,
      channels: 4,
      pubIntervalMs: 60, // each library client publishes every this long
      appPublishers: 2,
      pad: 200, // bytes of padding per message
      faultEveryS: 0, // repeat the fault this often (0: once, at 30% of the duration)
      drainMs: 20000,
      liveBoundMs: 5000, // after a fault ends, every publisher is acked and every subscriber delivered to within this
      log: () => {},
      ...opts,
    };
    this.sent = new Map(); // id -> {ch, by, t, cid}
    this.acks = new Map(); // id -> {epoch, seq, t}
    this.subscribers = []; // {name, client, start: Map ch -> {epoch, seq}, got: Map ch -> [{seq, epoch, id, resyncBefore}], resyncs: []}
    this.clients = [];
    this.faults = [];
    this.faultEnds = []; // ms timestamps: when each fault ended (liveness is measured from there)
    this.reconnectMs = [];
    this.closeCodes = {};
    this.errCodes = {};
    this.notes = [];
    this.stopLoad = false;
    this.pendingPubs = new Set();
    this.rss = []; // {t, name, kb}
  }

  log(...a) { this.opts.log(`[${this.name}] ${a.join(' ')}`); }

  hubProcesses() {
    return this.cluster.shardHubs?.length ? this.cluster.shardHubs : [this.cluster.hub];
  }

  processes() {
    return [...this.hubProcesses(), ...this.cluster.frontends].filter((p) => p && p.child.exitCode === null && p.child.signalCode === null);
  }

  sampleRss() {
    const t = now();
    for (const p of this.processes()) {
      try {
        const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'));
        if (m) this.rss.push({ t, name: p.name, kb: Number(m[1]) });
      } catch { /* exited meanwhile */ }
    }
  }

  appEndpoint(ch) {
    if (!this.shards) return this.cluster.endpoints.app;
    const slot = crc32(ch) % 1024;
    for (const s of this.shards) {
      const [lo, hi] = s.slots.split('-').map(Number);
      if (slot >= lo && slot <= hi) return s.app_ingress;
    }
    throw new Error(`no shard for ${ch}`);
  }

  // One request on the app ingress of the hub owning req.ch (as the PHP app sends it), through
  // `webim-broadcast request` (like cluster.appRequest, with room for large history pages).
  appRequest(req, timeoutMs = 3000) {
    return hubRequest(this.appEndpoint(req.ch), req, timeoutMs);
  }

  // ---- setup ----

  async start() {
    const o = this.opts;
    this.cluster = new Cluster();
    this.sockets = [];
    this.tag = `${this.name.replace(/[^a-z]/g, '')}${Math.floor(Math.random() * 1e6)}`;
    const hubArgs = [...(o.hubArgs ?? [])];
    if (!hubArgs.includes('--sync-interval-ms')) hubArgs.push('--sync-interval-ms', '500');
    // The final check reads every message back from history: keep all of it (a long soak writes
    // more than the default retention of 10,000 messages per room).
    if (!hubArgs.includes('--retention')) hubArgs.push('--retention', '');
    if (o.shards) {
      this.shards = await this.cluster.startShards(o.shards, hubArgs);
    } else {
      if (o.mountData) await this.mountData();
      await this.cluster.startHub(hubArgs);
    }
    const feArgs = ['--rate-limit', '100000', '--rate-burst', '100000', '--hub-timeout-ms', '2000', ...(o.feArgs ?? [])];
    this.feArgs = feArgs;
    for (let i = 0; i < o.frontends; i++) await this.cluster.startFrontend(feArgs);
    // Channels exist (have an epoch) before anyone subscribes: seed each with one app publish.
    this.channels = this.pickChannels(o.channels + (o.extraChannels ?? 0));
    // Extra channels get only the traffic a scenario sends them (and the subscribers it adds).
    this.extraChannels = this.channels.splice(o.channels);
    for (const ch of [...this.channels, ...this.extraChannels]) {
      const r = await this.appRequest({ op: 'pub', ch, data: { id: `seed-${ch}` }, from: 'app', cid: `seed-${ch}` });
      if (!r.ok) throw new Error(`seed ${ch}: ${JSON.stringify(r)}`);
      this.sent.set(`seed-${ch}`, { ch, by: 'seed', t: now() });
      this.acks.set(`seed-${ch}`, { epoch: r.epoch, seq: r.seq, t: now() });
    }
    const urls = this.cluster.frontends.map((fe) => fe.url);
    for (let f = 0; f < o.frontends; f++) {
      for (let k = 0; k < o.perFrontend; k++) {
        // Home frontend first; reconnects rotate through the others.
        const mine = [...urls.slice(f), ...urls.slice(0, f)];
        await this.addClient(`c${f}.${k}`, mine, this.channels, { publishes: true });
      }
      // A subscribe-only client per frontend: its connection is silent, so the frontend pings it.
      await this.addClient(`s${f}`, [...urls.slice(f), ...urls.slice(0, f)], this.channels);
    }
    // Subscribers on the HTTP fallback (SSE, long-poll), at home on the first frontend to fail.
    for (const transport of o.httpSubscribers ?? ['sse', 'longpoll']) {
      await this.addClient(transport, urls, this.channels, { transport });
    }
  }

  pickChannels(n) {
    const list = [];
    if (!this.shards) {
      for (let i = 0; i < n; i++) list.push(`room:${this.tag}-${i}`);
      return list;
    }
    // Half on each shard.
    const per = new Map(this.shards.map((s) => [s.app_ingress, 0]));
    for (let i = 0; list.length < n; i++) {
      const ch = `room:${this.tag}-${i}`;
      const ep = this.appEndpoint(ch);
      if (per.get(ep) < Math.ceil(n / this.shards.length)) { per.set(ep, per.get(ep) + 1); list.push(ch); }
    }
    return list;
  }

  // A library client on `transport` (websocket, sse or longpoll) subscribed to `channels`; its wire
  // (what its transport received) is recorded in sub.wire.
  async addClient(name, urls, channels, { publishes = false, transport = 'websocket', clientOpts = {} } = {}) {
    const wire = new Wire(name);
    const client = new WebimClient({
      urls, token: this.cluster.token(name, ['room:*']), WebSocket: wireWebSocket(this, name, wire), fetch: wireFetch(wire),
      transports: [transport],
      backoff: { baseMs: 100, maxMs: 1000, stableMs: 2000, restartMs: 200 }, requestTimeoutMs: 3000, connectTimeoutMs: 3000,
      ...clientOpts,
    });
    const sub = { name, transport, client, wire, start: new Map(), got: new Map(), resyncs: [], publishes, n: 0, inflight: 0 };
    let down = null;
    client.on('state', (s) => {
      if (s === 'reconnecting' && down === null) down = now();
      if (s === 'open' && down !== null) { this.reconnectMs.push(now() - down); down = null; }
    });
    client.on('resync', (ev) => {
      sub.resyncs.push(ev);
      const list = sub.got.get(ev.ch);
      if (list) {
        list.resyncMark = list.length;
        list.resyncReason = ev.reason;
      }
      this.log(`resync ${name} ${JSON.stringify(ev)}`);
    });
    client.on('error', (e) => { if (!this.stopLoad) this.log(`client ${name} error: ${e.message}`); });
    await client.connect();
    for (const ch of channels) {
      const list = [];
      sub.got.set(ch, list);
      const off = client.subscribe(ch, (m) => {
        list.push({ seq: m.seq, epoch: m.epoch, id: m.data?.id, resynced: list.resyncMark === list.length && (list.resyncReason ?? true), t: now() });
      });
      sub.start.set(ch, await off.ready);
    }
    this.subscribers.push(sub);
    this.clients.push(client);
    return sub;
  }

  // ---- load ----

  publish(sub, ch, extra = {}) {
    const id = `${sub.name}-${sub.n++}`;
    this.sent.set(id, { ch, by: sub.name, t: now() });
    sub.inflight++;
    const p = sub.client.publish(ch, { id, pad: 'x'.repeat(extra.pad ?? this.opts.pad) }, { cid: id })
      .then((a) => this.acks.set(id, { epoch: a.epoch, seq: a.seq, t: now() }))
      .catch((e) => { this.sent.get(id).error = e.code; })
      .finally(() => { sub.inflight--; this.pendingPubs.delete(p); });
    this.pendingPubs.add(p);
    return p;
  }

  async clientLoop(sub) {
    while (!this.stopLoad) {
      if (sub.inflight < 20) this.publish(sub, this.channels[Math.floor(Math.random() * this.channels.length)]);
      await sleep(this.opts.pubIntervalMs * (0.5 + Math.random()));
    }
  }

  // The PHP app's path: one request at a time; an unknown outcome is retried with the same cid.
  async appLoop(i) {
    let n = 0;
    while (!this.stopLoad) {
      const id = `app${i}-${n++}`;
      const ch = this.channels[Math.floor(Math.random() * this.channels.length)];
      this.sent.set(id, { ch, by: `app${i}`, t: now() });
      for (;;) {
        let r;
        try { r = await this.appRequest({ op: 'pub', ch, data: { id, pad: 'a'.repeat(this.opts.pad) }, from: 'app', cid: id }); }
        catch (e) { r = { ok: false, code: 'timeout' }; }
        if (r.ok) { this.acks.set(id, { epoch: r.epoch, seq: r.seq, t: now() }); break; }
        if (r.code !== 'unavailable' && r.code !== 'timeout') { this.sent.get(id).error = r.code; this.notes.push(`app publish ${id}: ${JSON.stringify(r)}`); break; }
        this.errCodes[`app:${r.code}`] = (this.errCodes[`app:${r.code}`] ?? 0) + 1;
        if (this.appDeadline && now() > this.appDeadline) break;
        await sleep(200);
      }
      await sleep(50);
    }
  }

  // ---- the whole run ----

  async execute(fault) {
    const o = this.opts;
    const t0 = (this.t0 = now());
    const sampler = setInterval(() => this.sampleRss(), 1000);
    this.sampleRss();
    const loops = this.subscribers.filter((s) => s.publishes).map((s) => this.clientLoop(s));
    for (let i = 0; i < o.appPublishers; i++) loops.push(this.appLoop(i));
    const planned = t0 + o.duration * 1000;
    let end = planned;
    // Faults: once at 30% of the run, or every faultEveryS until the planned end. The fault itself is
    // bounded; the load goes on for at least the liveness bound (+1 s) after each fault ends, so that
    // resumption is measured under load, and the drain below gives recovery its time.
    let next = t0 + Math.max(500, o.duration * 300);
    while (now() < end) {
      if (now() >= next && now() < planned) {
        const t = now();
        const { endedAt = now(), ...what } = await fault(this);
        this.faults.push({ at: (t - t0) / 1000, took: (now() - t) / 1000, endedAt: (endedAt - t0) / 1000, ...what });
        this.faultEnds.push(endedAt);
        end = Math.max(end, endedAt + o.liveBoundMs + 1000);
        this.log(`fault ${JSON.stringify(what)}`);
        if (!o.faultEveryS) next = Infinity;
        else next = now() + o.faultEveryS * 1000;
      }
      await sleep(Math.min(100, Math.max(1, end - now())));
    }
    this.stopLoad = true;
    this.appDeadline = now() + o.drainMs;
    let drainTimer;
    await Promise.race([Promise.all([...loops, ...this.pendingPubs]), new Promise((r) => { drainTimer = setTimeout(r, o.drainMs); })]);
    clearTimeout(drainTimer); // a pending timer would keep the process alive after the run
    // Everything acked must reach every subscriber: wait until they are at history's end.
    this.history = await this.readHistory();
    const deadline = now() + o.drainMs;
    while (now() < deadline && !this.caughtUp()) await sleep(100);
    clearInterval(sampler);
    this.sampleRss();
    this.metrics = await this.frontendMetrics();
    this.runSeconds = (now() - t0) / 1000;
  }

  caughtUp() {
    return this.subscribers.every((s) => [...s.got.keys()].every((ch) => {
      const h = this.history.get(ch);
      const pos = s.client.position(ch);
      return pos && pos.epoch === h.epoch && pos.seq >= h.last;
    }));
  }

  async readHistory() {
    const out = new Map();
    for (const ch of [...this.channels, ...this.extraChannels]) {
      const msgs = [];
      let epoch = null;
      let after = 0;
      for (let page = 0; page < 10000; page++) {
        let r;
        for (let attempt = 0; ; attempt++) {
          try { r = await this.appRequest({ op: 'hist', ch, after, limit: 200 }, 5000); } catch (e) { r = { ok: false, msg: e.message }; }
          if (r.ok) break;
          if (attempt > 20) throw new Error(`hist ${ch} after ${after}: ${JSON.stringify(r)}`);
          await sleep(250);
        }
        epoch = r.epoch;
        msgs.push(...r.msgs);
        if (!r.more || r.msgs.length === 0) break;
        after = r.msgs[r.msgs.length - 1].seq;
      }
      out.set(ch, { epoch, msgs, last: msgs.length ? msgs[msgs.length - 1].seq : 0 });
    }
    return out;
  }

  async frontendMetrics() {
    const m = { gaps: 0 };
    for (const fe of this.cluster.frontends) {
      try { m.gaps += metric((await httpGet(fe.port, '/metrics')).body, 'webim_gaps_total'); } catch { /* killed */ }
    }
    return m;
  }

  // ---- liveness ----

  // For each fault: from its end to the first ack afterwards of each publisher (library clients,
  // app-ingress publishers) and to the first delivery afterwards to each subscriber of the loaded
  // channels. `firstMs`: the first of the kind (publishing resumed at all); `allMs`: the last of the
  // kind (every one of them resumed; null if one never did). ok: every allMs <= liveBoundMs.
  liveness() {
    const bound = this.opts.liveBoundMs;
    const sortedTimes = (entries) => {
      const m = new Map();
      for (const [who, t] of entries) (m.get(who) ?? m.set(who, []).get(who)).push(t);
      for (const list of m.values()) list.sort((a, b) => a - b);
      return m;
    };
    const firstAfter = (list, t) => {
      let lo = 0;
      let hi = list.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (list[mid] < t) lo = mid + 1; else hi = mid; }
      return lo < list.length ? list[lo] : null;
    };
    const acks = sortedTimes([...this.acks].filter(([id]) => !id.startsWith('seed-')).map(([id, a]) => [this.sent.get(id).by, a.t]));
    const library = this.subscribers.filter((s) => s.publishes).map((s) => s.name);
    const app = Array.from({ length: this.opts.appPublishers }, (_, i) => `app${i}`);
    const loaded = new Set(this.channels);
    const receivers = this.subscribers.filter((s) => [...s.got.keys()].some((ch) => loaded.has(ch)));
    const deliveries = sortedTimes(receivers.flatMap((s) => [...s.got].filter(([ch]) => loaded.has(ch)).flatMap(([, l]) => l.map((d) => [s.name, d.t]))));
    const measure = (names, times, end) => {
      const ms = names.map((n) => { const t = firstAfter(times.get(n) ?? [], end); return [n, t === null ? null : t - end]; });
      const got = ms.filter(([, v]) => v !== null);
      const missing = ms.filter(([, v]) => v === null).map(([n]) => n);
      const slowest = got.reduce((a, b) => (b[1] > a[1] ? b : a), [null, -1]);
      return {
        count: names.length,
        firstMs: got.length ? Math.min(...got.map(([, v]) => v)) : null,
        allMs: missing.length || !got.length ? null : slowest[1],
        slowest: slowest[0],
        ...(missing.length ? { missing } : {}),
      };
    };
    const faults = this.faultEnds.map((end) => ({
      endedAt: (end - this.t0) / 1000,
      library: measure(library, acks, end),
      app: measure(app, acks, end),
      delivery: measure(receivers.map((s) => s.name), deliveries, end),
    }));
    const kinds = ['library', 'app', 'delivery'];
    // Per kind, the slowest resumption over all faults (null: one never resumed).
    const worst = {};
    for (const k of kinds) {
      const all = faults.filter((f) => f[k].count).map((f) => f[k].allMs);
      worst[k] = all.includes(null) ? null : Math.max(0, ...all);
    }
    const ok = faults.every((f) => kinds.every((k) => !f[k].count || (f[k].allMs !== null && f[k].allMs <= bound)));
    return { boundMs: bound, ok, worstMs: worst, faults };
  }

  // ---- classification ----

  classify() {
    const c = { lost: 0, duplicated: 0, storedTwice: 0, outOfOrder: 0, unexpected: 0, wireDuplicated: 0, unackedAtEnd: 0, resyncs: 0, reloads: 0 };
    const examples = { lost: [], duplicated: [], storedTwice: [], outOfOrder: [], unexpected: [], wireDuplicated: [] };
    const ex = (k, v) => { if (examples[k].length < 10) examples[k].push(v); };
    // History: seq -> id per channel; id -> seqs. Each stored message carries the epoch it was
    // delivered in: a fast channel's epoch changes after a crash while its seqs go on
    // (docs/durability.md "Delivery modes"), so acks and deliveries match on (epoch, seq).
    const bySeq = new Map();
    const byEpochSeq = new Map();  // ch -> `${epoch}:${seq}` -> id
    const idSeqs = new Map();
    for (const [ch, h] of this.history) {
      const m = new Map();
      const e = new Map();
      byEpochSeq.set(ch, e);
      let prev = 0;
      for (const msg of h.msgs) {
        const id = msg.data?.id;
        m.set(msg.seq, id);
        e.set(`${msg.epoch}:${msg.seq}`, id);
        if (msg.seq !== prev + 1) this.notes.push(`history of ${ch} has a hole: ${prev} -> ${msg.seq}`);
        prev = msg.seq;
        if (!this.sent.has(id)) { c.unexpected++; ex('unexpected', { where: 'history', ch, seq: msg.seq, id }); }
        if (idSeqs.has(id)) { c.storedTwice++; ex('storedTwice', { id, ch, seqs: [idSeqs.get(id), msg.seq] }); }
        idSeqs.set(id, msg.seq);
      }
      bySeq.set(ch, m);
    }
    let checked = 0;
    for (const [id, s] of this.sent) {
      checked++;
      const a = this.acks.get(id);
      if (!a) { if (!idSeqs.has(id)) c.unackedAtEnd++; continue; }
      const h = this.history.get(s.ch);
      if (byEpochSeq.get(s.ch).get(`${a.epoch}:${a.seq}`) !== id) {
        c.lost++;
        ex('lost', { id, ch: s.ch, ack: a, history: { epoch: h.epoch, idAtSeq: bySeq.get(s.ch).get(a.seq) ?? null, storedAt: idSeqs.get(id) ?? null } });
      }
    }
    let deliveries = 0;
    for (const sub of this.subscribers) {
      c.resyncs += sub.resyncs.length;
      for (const [ch, list] of sub.got) {
        const start = sub.start.get(ch);
        const h = this.history.get(ch);
        const seenIds = new Set();  // since the last reload (duplicates)
        const seenSeqs = new Set();
        const everSeen = new Set();  // over the whole run (what reached the handler at all)
        let prev = start.seq;
        let prevEpoch = start.epoch;
        for (const d of list) {
          deliveries++;
          if (d.resynced === 'epoch') {
            // A new epoch: the library told the application to rebuild its view and delivers the
            // channel's recent history again (reloadLimit); counting starts afresh.
            c.reloads++;
            seenIds.clear();
            seenSeqs.clear();
          }
          if (seenIds.has(d.id) || seenSeqs.has(`${d.epoch}:${d.seq}`)) { c.duplicated++; ex('duplicated', { sub: sub.name, ch, seq: d.seq, id: d.id }); }
          seenIds.add(d.id);
          everSeen.add(d.id);
          seenSeqs.add(`${d.epoch}:${d.seq}`);
          if (d.epoch === prevEpoch && d.seq !== prev + 1 && !d.resynced) { c.outOfOrder++; ex('outOfOrder', { sub: sub.name, ch, prev, seq: d.seq }); }
          prev = d.seq;
          prevEpoch = d.epoch;
          // Not sent, or its (epoch, seq) stored for another message (a seq reused), or a delivery of
          // the current epoch that history does not hold.
          const stored = byEpochSeq.get(ch).get(`${d.epoch}:${d.seq}`);
          if (!this.sent.has(d.id) || (stored !== undefined ? stored !== d.id : d.epoch === h.epoch)) {
            c.unexpected++;
            ex('unexpected', { sub: sub.name, ch, seq: d.seq, id: d.id, history: bySeq.get(ch).get(d.seq) ?? null });
          }
        }
        // Everything in history after the subscriber's start must have reached its handler (also
        // across a fast channel's new epoch: history still holds the start, in the start's epoch).
        const startHeld = start.epoch === h.epoch || byEpochSeq.get(ch).has(`${start.epoch}:${start.seq}`);
        if (!startHeld) { this.notes.push(`${sub.name} ${ch}: start epoch ${start.epoch} != history epoch ${h.epoch}`); continue; }
        for (const msg of h.msgs) {
          if (msg.seq <= start.seq || everSeen.has(msg.data?.id)) continue;
          c.lost++;
          ex('lost', { sub: sub.name, ch, seq: msg.seq, id: msg.data?.id, notDelivered: true, subscriberAt: sub.client.position(ch) });
        }
      }
    }
    // The wire: duplicates the server sent (whatever the library then dropped).
    const wire = { msgs: 0, resent: 0, unsolicited: 0, twice: 0, covered: 0, byTransport: {} };
    for (const sub of this.subscribers) {
      const w = sub.wire;
      const t = (wire.byTransport[sub.transport] ??= { clients: 0, streams: 0, msgs: 0, delivered: 0, duplicates: 0 });
      t.clients++;
      t.streams += w.streams;
      t.msgs += w.msgs;
      t.delivered += [...sub.got.values()].reduce((a, l) => a + l.length, 0);
      t.duplicates += w.dups.length;
      wire.msgs += w.msgs;
      wire.resent += w.resent;
      wire.unsolicited += w.unsolicited;
      for (const d of w.dups) {
        c.wireDuplicated++;
        wire[d.why]++;
        ex('wireDuplicated', { ...d, t: undefined, atS: (d.t - this.t0) / 1000 });
      }
    }
    return { counts: c, examples, checked, acked: this.acks.size, deliveries, wire };
  }

  async stop() {
    this.stopLoad = true;
    for (const cl of this.clients) cl.close();
    const exits = {};
    for (const p of [...this.cluster.frontends, ...this.hubProcesses()]) if (p) exits[p.name] = await p.stop();
    if (this.mounted) {
      try { await execP('umount', [this.mounted]); } catch (e) { this.notes.push(`umount: ${e.message}`); }
    }
    await this.cluster.stop();
    return exits;
  }

  // ---- fault helpers ----

  async restartFrontend(i, signalFirst = 'SIGKILL') {
    const old = this.cluster.frontends[i];
    old.child.kill(signalFirst);
    await old.exited;
    await sleep(300);
    // The same public and private ports again (the harness maps the one to the other).
    const ports = { '--listen': old.port, '--admin-listen': old.adminPort };
    const args = old.child.spawnargs.slice(1).map((a, k, all) => (a === '127.0.0.1:0' && ports[all[k - 1]] ? `127.0.0.1:${ports[all[k - 1]]}` : a));
    for (let attempt = 0; ; attempt++) {
      const fe = new Process(old.name, old.child.spawnfile, args);
      try {
        await waitReady(fe, /webim-frontend ready/);
        fe.port = old.port;
        fe.adminPort = old.adminPort;
        fe.url = old.url;
        this.cluster.frontends[i] = fe;
        return;
      } catch (e) {
        if (attempt > 10) throw e; // port still held: retry shortly
        await sleep(200);
      }
    }
  }

  async restartHub(proc, setter) {
    proc.child.kill('SIGKILL');
    await proc.exited;
    const hub = new Process(proc.name, BROADCAST, proc.child.spawnargs.slice(1));
    await waitReady(hub, /webim-broadcast ready/);
    setter(hub);
    return hub;
  }

  async mountData() {
    const dir = join(this.cluster.dir, 'hub');
    mkdirSync(dir, { recursive: true });
    try {
      await execP('mount', ['-t', 'tmpfs', '-o', `size=${this.opts.tmpfsSize ?? '8m'}`, 'tmpfs', dir]);
    } catch (e) {
      const err = new Error(`skipped: cannot mount tmpfs (${e.message.trim()})`);
      err.skip = true;
      throw err;
    }
    this.mounted = dir;
  }
}

function execP(cmd, args) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => { err += d; });
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: ${err || code}`))));
  });
}

// Fills the filesystem holding `dir` until ENOSPC; returns the filler's path and size.
function fillDisk(dir) {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  let bytes = 0;
  try {
    for (;;) { writeSync(fd, chunk); bytes += chunk.length; }
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
    // Partial chunks: take the last bytes too.
    for (let n = 4096; n >= 1; n = Math.floor(n / 2)) {
      try { for (;;) { writeSync(fd, chunk, 0, n); bytes += n; } } catch { /* next size */ }
    }
  } finally {
    closeSync(fd);
  }
  return { path, bytes };
}

// ---- scenarios ----------------------------------------------------------------------------------

async function slowSetup(run) {
  const flood = run.extraChannels[0];
  const urls = run.cluster.frontends.map((fe) => fe.url);
  run.slow = await run.addClient('slow', urls, [...run.channels, flood],
    { clientOpts: run.opts.slowHistPage ? { histPageSize: run.opts.slowHistPage } : {} });
  run.flooder = await run.addClient('flooder', [...urls.slice(1), urls[0]], [flood]);
}

async function slowFault(run) {
  const before = { ...run.closeCodes };
  const sock = [...run.sockets].reverse().find((s) => s.tag === 'slow').ws;
  sock.pause(); // stops reading: the frontend's backlog for it grows until 4009
  const t = now();
  let floods = 0;
  while (now() - t < run.opts.pauseMs) {
    for (let i = 0; i < run.opts.floodPer100ms; i++, floods++) run.publish(run.flooder, run.extraChannels[0], { pad: run.opts.floodPad });
    await sleep(100);
  }
  sock.resume();
  const endedAt = now();
  await sleep(1500);
  const closes = Object.fromEntries(Object.entries(run.closeCodes).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v));
  return { fault: `slow subscriber paused ${run.opts.pauseMs} ms under a flood of ${floods} x ${run.opts.floodPad} B`, closes, endedAt };
}

// liveBoundMs per scenario (Run.liveness: from the fault's end to every publisher's next ack and
// every subscriber's next delivery), honest for a loaded 2-core machine: a library client waits at
// most its 3 s request timeout (or <= 1 s reconnect backoff) before it re-sends; an app publisher its
// 3 s `webim-broadcast request` timeout and 200 ms; a frontend gives up on the hub after 2 s. Measured
// here: <= 200 ms, except an app request caught by a hub kill (its 3 s timeout, ~3.2 s).
const SCENARIO_DEFS = {
  'frontend-kill': {
    // Ends when the restarted frontend is ready; its clients have moved to the others by then.
    opts: { liveBoundMs: 5000 },
    async fault(run) {
      const i = (run.faultIndex = ((run.faultIndex ?? -1) + 1)) % run.cluster.frontends.length;
      const closesBefore = run.closeCodes[1006] ?? 0;
      await run.restartFrontend(i, 'SIGKILL');
      return { fault: `kill -9 ${run.cluster.frontends[i].name}, restarted on the same port`, abnormalClosesSoFar: (run.closeCodes[1006] ?? 0) - closesBefore };
    },
  },
  'hub-restart': {
    // Ends when the restarted hub is ready: requests it lost wait out their timeouts (3 s).
    opts: { liveBoundMs: 5000 },
    async fault(run) {
      const t = now();
      await run.restartHub(run.cluster.hub, (h) => { run.cluster.hub = h; });
      return { fault: 'kill -9 hub, restart on the same data', restartMs: now() - t };
    },
  },
  'hub-restart-fast': {
    // The same with every channel delivered fast (published once written, before the sync): the
    // restart after kill -9 moves them to new epochs; nothing acked is lost, no (epoch, seq) is
    // delivered for two messages, every subscriber gets the rest after one resync.
    opts: { liveBoundMs: 5000, hubArgs: ['--fast-namespaces', 'room'] },
    async fault(run) {
      const t = now();
      await run.restartHub(run.cluster.hub, (h) => { run.cluster.hub = h; });
      if (!/start new epochs/.test(run.cluster.hub.log)) throw new Error('the restarted hub did not move the fast channels to new epochs');
      return { fault: 'kill -9 hub (fast namespaces), restart on the same data', restartMs: now() - t };
    },
  },
  'frontend-stop': {
    // Pings every 300 ms, dropped 300 ms after an unanswered ping: a 3.5 s SIGSTOP is far past it, and
    // past the clients' 3 s request timeout (publishes are re-sent with their cid on the same socket).
    // Ends at SIGCONT.
    opts: { feArgs: ['--ping-interval-ms', '300', '--pong-timeout-ms', '300'], stopMs: 3500, liveBoundMs: 5000 },
    async fault(run) {
      const i = (run.faultIndex = ((run.faultIndex ?? -1) + 1)) % run.cluster.frontends.length;
      const fe = run.cluster.frontends[i];
      const before = { ...run.closeCodes };
      process.kill(fe.child.pid, 'SIGSTOP');
      await sleep(run.opts.stopMs);
      process.kill(fe.child.pid, 'SIGCONT');
      const endedAt = now();
      await sleep(1000);
      const closes = Object.fromEntries(Object.entries(run.closeCodes).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v));
      return { fault: `SIGSTOP ${fe.name} for ${run.opts.stopMs} ms, SIGCONT`, closesWithin1s: closes, endedAt };
    },
  },
  'slow-subscriber': {
    // The flood goes to a channel of its own (subscribed by the slow client and the flooder): the
    // other clients share this Node process and would be too slow for it themselves. Recovery and
    // the slow client's `hist` pages (25 x 4 KB) stay under the 256 KiB backlog; see
    // slow-subscriber-large for the library's default page and the frontend's defaults. Ends when the
    // slow client reads again (closed 4009 meanwhile, it reconnects and resumes).
    opts: { feArgs: ['--max-backlog-bytes', '262144', '--recovery-max-bytes', '131072', '--write-timeout-ms', '30000'],
      pauseMs: 3000, extraChannels: 1, floodPad: 4000, floodPer100ms: 60, slowHistPage: 25, liveBoundMs: 5000 },
    setup: slowSetup,
    fault: slowFault,
  },
  // The same with 8 KB messages, the frontend's default backlog (1 MiB) and the library's default hist
  // page (200 messages, up to 1 MiB): the client catches up through pages as large as its backlog
  // limit (a client's own replies do not count against it; this looped on 4009 before f4fb3b9).
  'slow-subscriber-large': {
    opts: { feArgs: ['--write-timeout-ms', '30000'], pauseMs: 2500, extraChannels: 1, floodPad: 8000, floodPer100ms: 40,
      liveBoundMs: 5000 },
    setup: slowSetup,
    fault: slowFault,
  },
  'hwm-flood': {
    // Ends when the burst is acked; nothing is down, so publishing never stops.
    opts: { hubArgs: ['--pub-hwm', '2', '--sync-interval-ms', '300'], channels: 6, liveBoundMs: 3000 },
    async fault(run) {
      // Concurrent bursts on every channel, then quiet: tails are dropped at the hub's XPUB and only
      // the periodic sync reveals them.
      const burster = run.subscribers[0];
      const burst = [];
      for (const ch of run.channels) for (let i = 0; i < 60; i++) burst.push(run.publish(burster, ch, { pad: 3000 }));
      await Promise.all(burst);
      const endedAt = now();
      await sleep(800);
      return { fault: `burst of ${burst.length} publishes over ${run.channels.length} channels, hub --pub-hwm 2`, gapsSoFar: (await run.frontendMetrics()).gaps, endedAt };
    },
  },
  'shard-restart': {
    // Ends when the restarted shard is ready (as hub-restart).
    opts: { shards: ['0-511', '512-1023'], liveBoundMs: 5000 },
    async fault(run) {
      const i = (run.faultIndex = ((run.faultIndex ?? -1) + 1)) % run.cluster.shardHubs.length;
      const t = now();
      await run.restartHub(run.cluster.shardHubs[i], (h) => { run.cluster.shardHubs[i] = h; });
      return { fault: `kill -9 ${run.cluster.shardHubs[i].name} (the other keeps serving), restart`, restartMs: now() - t };
    },
  },
  'disk-full': {
    // Ends when the filler is deleted: the store recovers by itself (publishes get `unavailable` and
    // are retried meanwhile).
    opts: { mountData: true, hubArgs: ['--retention', ''], fullMs: 2000, liveBoundMs: 5000 },
    async fault(run) {
      const before = run.errCodes.unavailable ?? 0;
      const beforeApp = run.errCodes['app:unavailable'] ?? 0;
      const { path, bytes } = fillDisk(run.mounted);
      const t = now();
      while (now() - t < 8000 && (run.errCodes.unavailable ?? 0) + (run.errCodes['app:unavailable'] ?? 0) - before - beforeApp < 5) await sleep(50);
      await sleep(run.opts.fullMs);
      unlinkSync(path);
      return {
        fault: `disk full (${(bytes / 1048576).toFixed(1)} MiB filler on the hub's tmpfs) for ${now() - t} ms, then freed`,
        unavailableReplies: (run.errCodes.unavailable ?? 0) - before, appUnavailable: (run.errCodes['app:unavailable'] ?? 0) - beforeApp,
      };
    },
  },
};

for (const name of [...SCENARIOS, ...LARGE_MESSAGE_SCENARIOS]) {
  if (!SCENARIO_DEFS[name]) throw new Error(`scenarios.json names ${name}, which lib.mjs does not define`);
}

/**
 * Runs one scenario and returns its report (JSON-serializable). Throws an error with `skip: true`
 * when the scenario cannot run here (tmpfs not mountable).
 * @param {string} name one of SCENARIOS or LARGE_MESSAGE_SCENARIOS
 * @param {object} opts duration (s), faultEveryS, log, ... (see Run)
 */
export async function runScenario(name, opts = {}) {
  const def = SCENARIO_DEFS[name];
  if (!def) throw new Error(`unknown scenario ${name} (one of ${[...SCENARIOS, ...LARGE_MESSAGE_SCENARIOS].join(', ')})`);
  const run = new Run(name, { ...def.opts, ...opts });
  let result;
  try {
    await run.start();
    if (def.setup) await def.setup(run);
    await run.execute(def.fault);
    result = run.classify();
  } catch (e) {
    if (!e.skip) {
      e.logs = run.cluster?.logs() ?? '';
      e.message += `\n--- logs (tail)\n${e.logs.slice(-4000)}`;
    }
    try { await run.stop(); } catch { /* already failing */ }
    throw e;
  }
  const exits = await run.stop();
  return {
    scenario: name,
    duration: run.opts.duration,
    runSeconds: run.runSeconds,
    messages: { sent: run.sent.size, acked: result.acked, checked: result.checked, deliveries: result.deliveries },
    counts: result.counts,
    examples: result.examples,
    wire: result.wire,
    liveness: run.liveness(),
    faults: run.faults,
    reconnectMs: summarize(run.reconnectMs),
    reconnectSamples: run.reconnectMs,
    closeCodes: run.closeCodes,
    errCodes: run.errCodes,
    frontendGaps: run.metrics.gaps,
    clients: run.subscribers.length,
    exits,
    notes: run.notes,
    rss: run.rss,
  };
}

export function passed(report) {
  const c = report.counts;
  return c.lost === 0 && c.duplicated === 0 && c.storedTwice === 0 && c.outOfOrder === 0 && c.unexpected === 0 &&
    c.wireDuplicated === 0 && report.liveness.ok;
}
