// webim client library: one connection to a webim frontend, with reconnection, resumable
// subscriptions (no gap, no duplicate, in order per channel), publishes that are retried with the
// same `cid` until durably stored, and token refresh.
//
// An ES module with no build step and no runtime dependencies. Browsers use their WebSocket, fetch
// and EventSource; Node passes a WebSocket (e.g. the `ws` package) as `options.WebSocket` and uses
// its built-in fetch for the HTTP fallback.
//
// The connection is a swappable transport (`(url, {onOpen, onMessage, onClose}) => {send, close}`):
// the WebSocket (docs/protocol.md section 1) or the HTTP fallback (section 2: SSE or long-poll for
// delivery, POST for commands), which speaks the same request/reply objects, so everything above it
// (requests, subscriptions, recovery) is shared. The client starts with the first of
// `options.transports`, moves to the next after repeated failures, and, while on a fallback, probes
// the first one with backoff and switches back when it works.
/**
 * @typedef {{epoch: string, seq: number}} Position
 * @typedef {{op: 'msg', ch: string, epoch: string, seq: number, from: string, ts: number, data?: any,
 *   edit?: number, delete?: number, deleted?: boolean, notice?: {ch: string, seq: number}}} Message
 *   `edit`/`delete`: an entry editing or deleting message `seq` (a delete has no data); `deleted`: a
 *   message deleted since (history; no data); `notice`: an inbox entry telling of message `seq` of the
 *   dm channel `ch` (no data; also a 'notice' event)
 * @typedef {{ch: string, ts: number, seq: number, unread: number, read: number, peerRead?: number}} Conversation
 * @typedef {(msg: Message) => void} MessageHandler
 * @typedef {'idle'|'connecting'|'open'|'reconnecting'|'closed'} State
 * @typedef {'websocket'|'sse'|'longpoll'|'custom'} TransportName
 * @typedef {{baseMs?: number, maxMs?: number, stableMs?: number, restartMs?: number}} BackoffOptions
 * @typedef {{after?: number, openTimeoutMs?: number, probeBaseMs?: number, probeMaxMs?: number}} FallbackOptions
 *
 * @typedef {object} Transport  What the client needs from a connection.
 * @property {(obj: object) => void} send  sends one request object
 * @property {(code?: number, reason?: string) => void} close
 *
 * @typedef {object} TransportHandlers
 * @property {() => void} onOpen
 * @property {(obj: any) => void} onMessage  one parsed server frame
 * @property {(ev: {code: number, reason: string, unusable?: boolean}) => void} onClose  called once, also when
 *   opening failed; `unusable`: this kind of transport does not work here (counts towards switching)
 *
 * @typedef {(url: string, handlers: TransportHandlers) => Transport} TransportFactory
 *
 * @typedef {object} ClientOptions
 * @property {string} [url]  the frontend's WebSocket URL, `ws(s)://host/ws`
 * @property {string[]} [urls]  several frontends, tried in turn on every reconnect
 * @property {string} [token]  a JWT; without `getToken` it cannot be refreshed
 * @property {() => Promise<string>|string} [getToken]  fetches a fresh JWT (at start, before `exp`, after close 4001)
 * @property {any} [WebSocket]  WebSocket constructor (default: globalThis.WebSocket)
 * @property {Array<'websocket'|'sse'|'longpoll'>} [transports]  in order of preference (default all three;
 *   the unavailable ones are left out: no WebSocket, no fetch)
 * @property {typeof fetch} [fetch]  for the HTTP fallback (default: globalThis.fetch)
 * @property {any} [EventSource]  for SSE (default: globalThis.EventSource; without one, SSE is read with fetch)
 * @property {FallbackOptions} [fallback]  when to switch transports and how often to probe the preferred one
 * @property {TransportFactory} [transport]  replaces the built-in transports (no switching)
 * @property {BackoffOptions} [backoff]  reconnect delays: full jitter in [0, min(maxMs, baseMs * 2^attempt))
 * @property {number} [requestTimeoutMs]  reply deadline per request (default 10000); a timed-out publish is re-sent
 * @property {number} [connectTimeoutMs]  deadline for open + auth (default 10000)
 * @property {number} [histPageSize]  page size when filling gaps from history (default 200, the server's maximum)
 * @property {number} [maxGapFill]  most messages fetched to fill one gap; beyond it the client resyncs (default 10000)
 * @property {number} [reloadLimit]  messages reloaded after an epoch change (default 200)
 */

/** Error with the server's code: forbidden, bad_request, too_large, not_found, ..., or closed. */
export class WebimError extends Error {
  /** @param {string} code @param {string} [message] */
  constructor(code, message) {
    super(message ? `${code}: ${message}` : code);
    this.name = 'WebimError';
    this.code = code;
  }
}

/**
 * Reconnect delay with "full jitter": uniform in [0, min(maxMs, baseMs * 2^attempt)).
 * @param {number} attempt  0 for the first retry
 * @param {BackoffOptions} [options]
 * @param {() => number} [random]
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, { baseMs = 500, maxMs = 30000 } = {}, random = Math.random) {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * cap);
}

/**
 * Reads `exp` (seconds) from a JWT's payload without verifying it (the server verifies).
 * @param {string} token
 * @returns {number|undefined}
 */
export function tokenExpiry(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(Array.from(atob(part), (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''));
    const exp = JSON.parse(json).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The WebSocket transport: one JSON object per text frame.
 * @param {any} WebSocketImpl
 * @returns {TransportFactory}
 */
export function createWebSocketTransport(WebSocketImpl) {
  return (url, handlers) => {
    const ws = new WebSocketImpl(url);
    let closed = false;
    const finish = (code, reason) => {
      if (closed) return;
      closed = true;
      handlers.onClose({ code, reason });
    };
    ws.onopen = () => handlers.onOpen();
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return; // binary frames are reserved
      let obj;
      try { obj = JSON.parse(ev.data); } catch { return; }
      handlers.onMessage(obj);
    };
    ws.onclose = (ev) => finish(ev.code, ev.reason || '');
    ws.onerror = () => {}; // always followed by close
    return {
      send: (obj) => ws.send(JSON.stringify(obj)),
      close: (code = 1000, reason = '') => {
        try { ws.close(code, reason); } catch { /* not open yet: close() still ends it */ }
        // Report the close now: the server's close frame may never come (dead peer).
        finish(code, reason);
      },
    };
  };
}

/** The HTTP base of a frontend for the fallback: `ws(s)://host/prefix/ws` -> `http(s)://host/prefix`. */
export function httpBaseUrl(url) {
  return url.replace(/^ws(s?):\/\//i, 'http$1://').replace(/\/ws\/?$/, '').replace(/\/$/, '');
}

// No channel ever has this epoch, so `since=ch:NO_EPOCH:0` makes the server answer with a `resync`
// carrying the channel's current position: the fallback's equivalent of the `sub` reply.
const NO_EPOCH = '0000000000000000';

/**
 * The HTTP fallback (docs/protocol.md section 2) behind the transport interface. It takes the same request
 * objects as the WebSocket and answers with the same replies:
 * - `auth` -> POST /session (a fresh token later makes a new sid, and the event stream is reopened);
 * - `pub`, `hist` -> POST /cmd?sid=...;
 * - `sub`, `unsub` -> (re)open GET /events with every subscribed channel and its position as `since`.
 *   A new subscription asks for `ch:NO_EPOCH:0`; the server's `resync` with the position becomes its
 *   reply. A resumed one is answered at once; if the server cannot recover its `since`, its `resync` is
 *   passed on with `notRecovered: true` (the client then fills the gap from hist, as after `recovered:false`).
 * Events come as SSE (EventSource, or read from a fetch stream) or, in 'longpoll' mode, as one JSON array
 * per request. A network failure ends the transport (the client reconnects and resumes, like after a
 * dropped WebSocket); HTTP 401 ends it as the WebSocket's close 4001 would.
 * @param {{mode?: 'sse'|'longpoll', fetch?: typeof fetch, EventSource?: any}} [options]
 * @returns {TransportFactory}
 */
export function createHttpTransport({ mode = 'sse', fetch: fetchImpl = globalThis.fetch?.bind(globalThis),
  EventSource: EventSourceImpl = globalThis.EventSource } = {}) {
  if (!fetchImpl) throw new TypeError('createHttpTransport: no fetch');
  return (url, handlers) =>
    new HttpSession(httpBaseUrl(url), mode, fetchImpl, mode === 'sse' ? EventSourceImpl : undefined, handlers);
}

class HttpSession {
  constructor(base, mode, fetchImpl, EventSourceImpl, handlers) {
    Object.assign(this, { base, mode, fetch: fetchImpl, EventSource: EventSourceImpl, handlers });
    this.sid = null;
    this.closed = false;
    this.aborter = new AbortController(); // every request of this session
    /** @type {Map<string, Position|null>} subscribed channels: how far the event stream got (null: not yet known) */
    this.channels = new Map();
    /** @type {Map<string, number>} new subscriptions waiting for their position: channel -> `sub` id */
    this.pending = new Map();
    this.stream = null; // the open GET /events: {stop()}
    this.streamOpened = false; // an event stream ever opened in this session
    this.reopenQueued = false;
    setTimeout(() => { if (!this.closed) handlers.onOpen(); }, 0);
  }

  send(req) {
    if (this.closed) return;
    if (req.op === 'auth') return void this.auth(req);
    if (req.op === 'sub') {
      // One channel (ch, since) or a batch (subs): either way one event stream, answered per channel.
      for (const { ch, since } of req.subs ?? [req]) {
        this.channels.set(ch, since ?? null);
        if (since) this.reply({ op: 'ok', id: req.id, ch, epoch: since.epoch, seq: since.seq, recovered: true });
        else this.pending.set(ch, req.id);
      }
      return this.reopen();
    }
    if (req.op === 'unsub') {
      this.channels.delete(req.ch);
      this.pending.delete(req.ch);
      this.reply({ op: 'ok', id: req.id });
      return this.reopen();
    }
    this.guard(async () => this.reply(await this.command(req)));
  }

  close(code = 1000, reason = '') {
    this.fail(code, reason);
  }

  fail(code, reason, unusable = false) {
    if (this.closed) return;
    this.closed = true;
    this.stream?.stop();
    this.aborter.abort();
    this.handlers.onClose({ code, reason, unusable });
  }

  reply(obj) {
    if (!this.closed && obj) this.handlers.onMessage(obj);
  }

  // Runs `fn`; a network failure ends the session (the client resends with the same cids elsewhere).
  async guard(fn, unusable = () => false) {
    try {
      await fn();
    } catch (e) {
      if (!this.closed) this.fail(1006, `${e?.message ?? e}`, unusable());
    }
  }

  async post(path, body) {
    // A string body goes as text/plain: a "simple" cross-origin request, no CORS preflight.
    const res = await this.fetch(this.base + path, { method: 'POST', body: JSON.stringify(body), signal: this.aborter.signal });
    return { status: res.status, json: await res.json().catch(() => null) };
  }

  auth(req) {
    return this.guard(async () => {
      const { status, json } = await this.post('/session', { token: req.token });
      if (status === 401) return this.fail(4001, json?.msg ?? 'token rejected');
      if (status !== 200 || !json?.sid) throw new Error(`POST /session: HTTP ${status}`);
      const refresh = this.sid !== null;
      this.sid = json.sid;
      this.reply({ op: 'ok', id: req.id, user: json.user });
      if (refresh) this.reopen(); // the old stream ends at the old sid's expiry
    });
  }

  // One pub or hist through POST /cmd; resolves with its reply (undefined once the session is over).
  async command(req) {
    const { status, json } = await this.post(`/cmd?sid=${this.sid}`, req);
    if (status === 401) return void this.fail(4001, 'session expired');
    if (json?.op) return json;
    return { op: 'err', id: req.id, code: status === 413 ? 'too_large' : 'unavailable', msg: `POST /cmd: HTTP ${status}` };
  }

  // Subscriptions changed: reopen the event stream once, after the requests sent in this tick.
  reopen() {
    if (this.reopenQueued) return;
    this.reopenQueued = true;
    queueMicrotask(() => {
      this.reopenQueued = false;
      if (!this.closed) this.openStream();
    });
  }

  eventsUrl() {
    const names = [...this.channels.keys()];
    const since = names.map((ch) => {
      const p = this.channels.get(ch);
      return p ? `${ch}:${p.epoch}:${p.seq}` : `${ch}:${NO_EPOCH}:0`;
    });
    // sid (base64url and '.'), channel names, epochs and seqs are URL-safe as they are.
    return `${this.base}/events?sid=${this.sid}&ch=${names.join(',')}&since=${since.join(',')}`;
  }

  openStream() {
    this.stream?.stop();
    this.stream = null;
    if (!this.channels.size) return;
    const controller = new AbortController();
    const stream = { stopped: false, signal: controller.signal, es: null };
    stream.stop = () => { stream.stopped = true; controller.abort(); stream.es?.close(); };
    this.stream = stream;
    const run = this.mode === 'longpoll' ? this.poll(stream) : this.EventSource ? this.eventSource(stream) : this.fetchEvents(stream);
    this.guard(() => run.catch((e) => { if (!stream.stopped) throw e; }),
      () => this.mode === 'sse' && !this.streamOpened); // SSE that never opened: try long-poll
  }

  async poll(stream) {
    while (!stream.stopped) {
      // A signal of its own per poll, aborted with the stream's: some fetch implementations (Node
      // 20's) keep a listener on the signal per request until it is collected, and a session polls
      // thousands of times.
      const poll = new AbortController();
      const abort = () => poll.abort();
      stream.signal.addEventListener('abort', abort, { once: true });
      let events;
      try {
        const res = await this.fetch(this.eventsUrl(), { signal: poll.signal });
        if (res.status !== 200) return this.refused(stream, res.status);
        events = await res.json();
      } finally {
        stream.signal.removeEventListener('abort', abort);
      }
      this.streamOpened = true;
      for (const obj of events) if (!stream.stopped) this.onEvent(obj);
    }
  }

  async fetchEvents(stream) {
    const res = await this.fetch(this.eventsUrl(), { headers: { Accept: 'text/event-stream' }, signal: stream.signal });
    if (res.status !== 200) return this.refused(stream, res.status);
    this.streamOpened = true;
    await readEventStream(res.body, (data) => { if (!stream.stopped) this.onEvent(parseJson(data)); });
    throw new Error('event stream ended'); // the sid expired, or the frontend went away
  }

  eventSource(stream) {
    return new Promise((resolve, reject) => {
      let opened = false;
      const es = new this.EventSource(this.eventsUrl());
      stream.es = es;
      es.onopen = () => { opened = this.streamOpened = true; };
      es.onmessage = (ev) => { if (!stream.stopped) this.onEvent(parseJson(ev.data)); };
      es.onerror = () => {
        // No automatic reconnect: it would resume every channel but one from stale positions.
        es.close();
        if (opened) reject(new Error('event stream failed'));
        else resolve(this.refused(stream, 0)); // EventSource hides the status: find out below
      };
    });
  }

  // GET /events was refused (`status` 0: unknown). 401: the sid expired. 400/403: a channel is invalid
  // or not granted; a one-message hist per channel finds which, their subscriptions fail, and the rest
  // continue. Anything else is a failure of the stream.
  async refused(stream, status) {
    if (status === 401) return this.fail(4001, 'session expired');
    if (status !== 0 && status !== 400 && status !== 403) throw new Error(`GET /events: HTTP ${status}`);
    let dropped = 0;
    await Promise.all([...this.channels.keys()].map(async (ch) => {
      const reply = await this.command({ op: 'hist', id: 0, ch, after: 0, limit: 1 });
      if (reply?.op !== 'err' || reply.code === 'unavailable' || stream.stopped) return;
      dropped++;
      this.channels.delete(ch);
      const id = this.pending.get(ch);
      this.pending.delete(ch);
      if (id !== undefined) this.reply({ op: 'err', id, ch, code: reply.code, msg: reply.msg });
      // A channel already subscribed (a new sid from a refreshed token, or a resumed one): what the
      // WebSocket says with `revoked`.
      else this.reply({ op: 'revoked', ch, code: reply.code, msg: reply.msg });
    }));
    if (stream.stopped || this.closed) return;
    if (!dropped) throw new Error(`GET /events: ${status ? `HTTP ${status}` : 'failed'}`);
    this.openStream();
  }

  onEvent(obj) {
    if (obj?.op === 'read') return this.reply(obj); // a receipt: on a dm, or the user's inbox (naming another channel)
    const position = this.channels.get(obj?.ch);
    if (position === undefined) return; // not subscribed (any more)
    if (obj.op === 'resync') {
      this.channels.set(obj.ch, { epoch: obj.epoch, seq: obj.seq });
      const id = this.pending.get(obj.ch);
      if (id === undefined) return this.reply({ ...obj, notRecovered: true });
      this.pending.delete(obj.ch);
      return this.reply({ op: 'ok', id, ch: obj.ch, epoch: obj.epoch, seq: obj.seq }); // where the new subscription starts
    }
    if (obj.op === 'signal') return this.reply(obj); // no seq: moves no position
    if (obj.op === 'presence' && obj.id === undefined) return this.reply(obj); // a join/leave event: no position
    if (obj.op !== 'msg' || position === null) return;
    if (obj.epoch !== position.epoch || obj.seq > position.seq) this.channels.set(obj.ch, { epoch: obj.epoch, seq: obj.seq });
    this.reply(obj);
  }
}

function parseJson(text) {
  try { return JSON.parse(text); } catch { return undefined; }
}

/**
 * Reads a text/event-stream body, calling `onData` with each event's data (comments are skipped).
 * @param {ReadableStream<Uint8Array>} body @param {(data: string) => void} onData
 */
export async function readEventStream(body, onData) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const lines = buffer.slice(0, end).split('\n');
      buffer = buffer.slice(end + 2);
      const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(l[5] === ' ' ? 6 : 5));
      if (data.length) onData(data.join('\n'));
    }
  }
}

const randomId = () =>
  globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

// Channels per `sub` request (the server takes up to 256).
const MAX_SUB_BATCH = 256;

// Errors of a history read (filling a gap, catching up) after which it is tried again.
const RETRYABLE_READ = new Set(['unavailable', 'timeout', 'rate_limited']);

// Errors after which a request is not retried.
const FINAL_ERRORS = new Set(['forbidden', 'bad_request', 'too_large', 'not_found', 'wrong_shard']);
// Requests stored once by cid: re-sent with the same cid until answered (publish, edit, delete).
const IDEMPOTENT = new Set(['pub', 'edit', 'delete']);

/** Per-channel state: what was delivered, and messages held back until the ones before them are. */
class Channel {
  constructor(name) {
    this.name = name;
    /** @type {Set<MessageHandler>} */
    this.handlers = new Set();
    /** @type {string|null} */
    this.epoch = null;
    this.lastSeq = 0; // last seq delivered to handlers
    this.live = false; // subscribed on this connection and caught up
    /** @type {Map<number, Message>} live messages held until the gap before them is filled */
    this.held = new Map();
    this.filling = false;
    this.generation = 0; // bumped on every (re)subscribe, so stale fills stop
    /** @type {{resolve: (p: Position) => void, reject: (e: Error) => void, promise: Promise<Position>}} */
    this.ready = deferred();
  }
}

function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => {}); // rejections are for whoever awaits it
  return { promise, resolve, reject };
}

// The built-in transports that can work here, in the order of `options.transports`.
function transportFactories(options) {
  if (options.transport) return { custom: options.transport };
  const WS = options.WebSocket ?? globalThis.WebSocket;
  const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
  const EventSourceImpl = options.EventSource ?? globalThis.EventSource;
  const streams = EventSourceImpl || typeof ReadableStream !== 'undefined';
  const make = {
    websocket: WS && (() => createWebSocketTransport(WS)),
    sse: fetchImpl && streams && (() => createHttpTransport({ mode: 'sse', fetch: fetchImpl, EventSource: EventSourceImpl })),
    longpoll: fetchImpl && (() => createHttpTransport({ mode: 'longpoll', fetch: fetchImpl })),
  };
  const factories = {};
  for (const kind of options.transports ?? ['websocket', 'sse', 'longpoll']) {
    if (!(kind in make)) throw new TypeError(`WebimClient: unknown transport ${kind}`);
    if (make[kind]) factories[kind] = make[kind]();
  }
  return factories;
}

export class WebimClient {
  /** @param {ClientOptions} options */
  constructor(options) {
    const urls = options.urls ?? (options.url ? [options.url] : []);
    if (!urls.length) throw new TypeError('WebimClient: url or urls is required');
    if (!options.token && !options.getToken) throw new TypeError('WebimClient: token or getToken is required');
    this.urls = urls;
    this.options = {
      requestTimeoutMs: 10000, connectTimeoutMs: 10000, histPageSize: 200, maxGapFill: 10000, reloadLimit: 200,
      ...options,
    };
    this.backoff = { baseMs: 500, maxMs: 30000, stableMs: 10000, restartMs: 2000, ...options.backoff };
    // A history read that failed (fills, catching up) is tried again sooner than a reconnect: at most 5 s apart.
    this.readBackoff = { baseMs: this.backoff.baseMs, maxMs: Math.min(this.backoff.maxMs, 5000) };
    this.fallback = { after: 2, openTimeoutMs: 5000, probeBaseMs: 5000, probeMaxMs: 60000, ...options.fallback };
    /** @type {Record<string, TransportFactory>} the usable transports, in order of preference */
    this.factories = transportFactories(options);
    this.kinds = Object.keys(this.factories);
    if (!this.kinds.length) throw new TypeError('WebimClient: no usable transport (pass options.WebSocket or fetch)');
    this.kindIndex = 0; // the transport in use: kinds[kindIndex]
    /** @type {TransportName} */
    this.transportName = this.kinds[0];
    this.failures = 0; // consecutive failed connections with this transport
    this.probes = 0; // probes of kinds[0] since it last worked
    this.probing = null;

    /** @type {State} */
    this.state = 'idle';
    /** @type {string|null} the user id from the token, known once authenticated */
    this.user = null;
    this.token = options.token ?? null;
    this.needFreshToken = !options.token;
    this.attempt = 0; // reconnect attempts since the last stable connection
    this.urlIndex = -1;
    this.transport = null;
    this.authed = false;
    this.nextId = 1;
    /** @type {Map<number, {op: string, fields: object, resolve: Function, reject: Function, timer?: any}>} */
    this.inflight = new Map(); // sent on this connection, waiting for the reply
    /** @type {Array<{op: string, fields: object, resolve: Function, reject: Function}>} */
    this.queue = []; // waiting for an open connection (including requests re-queued after a drop)
    /** @type {Map<object, any>} publishes waiting to be retried after `unavailable`, with their timers */
    this.retrying = new Map();
    /** @type {Set<Channel>} subscriptions to send at the end of this tick (sendSub) */
    this.subQueue = new Set();
    /** @type {Map<string, Channel>} */
    this.channels = new Map();
    /** @type {Map<string, Set<Function>>} */
    this.listeners = new Map();
    this.timers = { retry: null, refresh: null, connect: null, open: null, stable: null, probe: null };
  }

  // ---- events --------------------------------------------------------------------------------

  /**
   * Events: 'state' (State, {state, transport}), 'recovered' ({ch, recovered, server, filled}),
   * 'resync' ({ch, epoch, seq, reason}), 'error' (Error), 'subscribed' ({ch, epoch, seq}),
   * 'revoked' ({ch, code, msg}: a refreshed token no longer grants the channel; its subscription ended).
   * @param {string} event @param {Function} fn @returns {() => void} removes the listener
   */
  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(fn);
    return () => this.listeners.get(event)?.delete(fn);
  }

  emit(event, payload, extra) {
    for (const fn of this.listeners.get(event) ?? []) {
      try { fn(payload, extra); } catch (e) { if (event !== 'error') this.emit('error', e); }
    }
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state, { state, transport: this.transportName });
  }

  // ---- connection ----------------------------------------------------------------------------

  /** Starts connecting (and keeps reconnecting until close()). Resolves once authenticated. */
  connect() {
    if (this.state === 'idle' || this.state === 'closed') {
      this.stopped = false;
      this.setState('connecting');
      this.openNext();
    }
    return new Promise((resolve, reject) => {
      if (this.state === 'open') return resolve();
      const off = this.on('state', (s) => {
        if (s === 'open') { off(); resolve(); }
        if (s === 'closed') { off(); reject(this.closeError ?? new WebimError('closed')); }
      });
    });
  }

  /** Closes for good: pending publishes and history requests reject with code 'closed'. */
  close() {
    this.shutdown(new WebimError('closed', 'client closed'));
  }

  shutdown(error) {
    this.stopped = true;
    this.closeError = error;
    for (const t of Object.keys(this.timers)) this.clearTimer(t);
    this.stopProbe();
    const transport = this.transport;
    this.transport = null;
    transport?.close(1000);
    this.failAll(error);
    for (const ch of this.channels.values()) ch.ready.reject(error);
    this.setState('closed');
  }

  clearTimer(name) {
    clearTimeout(this.timers[name]);
    this.timers[name] = null;
  }

  async openNext() {
    if (this.stopped) return;
    if (this.needFreshToken) {
      try {
        this.token = await this.options.getToken();
        this.needFreshToken = false;
      } catch (e) {
        this.emit('error', new WebimError('token', `getToken failed: ${e?.message ?? e}`));
        return this.scheduleReconnect();
      }
      if (this.stopped) return;
    }
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    const url = this.urls[this.urlIndex];
    this.authed = false;
    this.transportName = this.kinds[this.kindIndex];
    this.openTimedOut = false;
    let transport = null;
    const handlers = {
      onOpen: () => {
        if (this.transport !== transport) return;
        this.clearTimer('open');
        this.sendAuth(this.token, true);
      },
      onMessage: (obj) => { if (this.transport === transport) this.onFrame(obj); },
      onClose: (ev) => { if (this.transport === transport) this.onClose(ev); },
    };
    try {
      transport = this.factories[this.transportName](url, handlers);
    } catch (e) { // e.g. a malformed URL
      this.emit('error', e);
      return this.onClose({ code: 1006, reason: String(e), unusable: true });
    }
    this.transport = transport;
    this.timers.connect = setTimeout(() => transport.close(4000, 'connect timeout'), this.options.connectTimeoutMs);
    if (this.kindIndex < this.kinds.length - 1) {
      // A handshake that hangs (some proxies hold WebSocket upgrades) moves on to the next transport at once.
      this.timers.open = setTimeout(() => {
        this.openTimedOut = true;
        transport.close(4000, 'open timeout');
      }, this.fallback.openTimeoutMs);
    }
  }

  onClose({ code, unusable = false }) {
    const wasAuthed = this.authed;
    this.transport = null;
    this.authed = false;
    for (const t of ['connect', 'open', 'refresh', 'stable', 'probe']) this.clearTimer(t);
    this.stopProbe();
    // Requests sent on this connection go back to the queue, in their original order; publishes
    // keep their cid, so the server stores each at most once.
    const resend = [...this.inflight.values()].filter((r) => r.op !== 'sub' && r.op !== 'auth');
    for (const r of this.inflight.values()) clearTimeout(r.timer);
    this.inflight.clear();
    this.queue.unshift(...resend.map(({ op, fields, resolve, reject }) => ({ op, fields, resolve, reject })));
    for (const ch of this.channels.values()) {
      ch.live = false;
      ch.held.clear();
      ch.generation++;
    }
    if (this.stopped) return;
    if (code === 4003) {
      return this.shutdown(new WebimError('kicked', 'closed 4003 by the server'));
    }
    if (code === 4001) {
      if (!this.options.getToken) return this.shutdown(new WebimError('auth', 'token rejected or expired (4001)'));
      this.needFreshToken = true;
    }
    let delay = code === 1012 ? Math.floor(Math.random() * this.backoff.restartMs) : undefined;
    if (this.switchTo !== undefined) {
      // The preferred transport works again: reconnect with it now, to the same frontend.
      this.kindIndex = this.switchTo;
      this.switchTo = undefined;
      this.failures = 0;
      this.urlIndex--;
      delay = 0;
    } else if (code !== 4001 && (!wasAuthed || unusable)) {
      // A connection that never worked counts towards moving on to the next transport.
      this.failures += this.openTimedOut ? this.fallback.after : 1;
      if (this.failures >= this.fallback.after && this.kindIndex < this.kinds.length - 1) {
        this.kindIndex++;
        this.failures = 0;
        delay = 0;
      }
    } else {
      this.failures = 0;
    }
    this.setState('reconnecting');
    this.scheduleReconnect(delay);
  }

  // ---- transport switching -------------------------------------------------------------------

  // While on a fallback, tries the preferred transport now and then (exponential backoff with
  // jitter); when it connects and authenticates, the client reconnects with it.
  scheduleProbe() {
    const cap = Math.min(this.fallback.probeMaxMs, this.fallback.probeBaseMs * 2 ** Math.min(this.probes, 20));
    this.probes++;
    this.clearTimer('probe');
    this.timers.probe = setTimeout(() => this.probe(), cap / 2 + Math.random() * (cap / 2));
  }

  probe() {
    if (!this.authed || this.kindIndex === 0) return;
    const probing = { transport: null, timer: null };
    const finish = (works) => {
      if (this.probing !== probing) return;
      this.stopProbe();
      if (!works) return this.scheduleProbe();
      if (!this.authed || !this.transport) return;
      this.probes = 0;
      this.switchTo = 0;
      this.transport.close(1000, 'switching transport');
    };
    this.probing = probing;
    probing.timer = setTimeout(() => finish(false), this.fallback.openTimeoutMs + this.options.requestTimeoutMs);
    try {
      probing.transport = this.factories[this.kinds[0]](this.urls[this.urlIndex], {
        onOpen: () => probing.transport.send({ op: 'auth', id: 1, token: this.token }),
        onMessage: (obj) => { if (obj.id === 1) finish(obj.op === 'ok'); },
        onClose: () => finish(false),
      });
    } catch {
      finish(false);
    }
  }

  stopProbe() {
    const probing = this.probing;
    if (!probing) return;
    this.probing = null;
    clearTimeout(probing.timer);
    probing.transport?.close(1000);
  }

  scheduleReconnect(delay) {
    if (this.stopped) return;
    this.setState('reconnecting');
    const ms = delay ?? backoffDelay(this.attempt, this.backoff);
    this.attempt++;
    this.clearTimer('retry');
    this.timers.retry = setTimeout(() => this.openNext(), ms);
  }

  sendAuth(token, first) {
    const id = this.nextId++;
    const timer = first ? undefined : setTimeout(() => this.transport?.close(4000, 'auth timeout'), this.options.requestTimeoutMs);
    this.inflight.set(id, {
      op: 'auth', fields: {}, timer,
      resolve: (reply) => {
        if (first) this.onAuthenticated(reply);
        this.scheduleRefresh();
      },
      reject: (e) => {
        this.emit('error', e);
        this.transport?.close(4000, 'auth failed');
      },
    });
    this.transport.send({ op: 'auth', id, token });
  }

  onAuthenticated(reply) {
    this.clearTimer('connect');
    this.authed = true;
    this.user = reply.user;
    // Reset the backoff only once the connection has proved stable (not on every brief success).
    this.timers.stable = setTimeout(() => { this.attempt = 0; }, this.backoff.stableMs);
    if (this.kindIndex > 0) this.scheduleProbe();
    this.setState('open');
    for (const ch of this.channels.values()) this.sendSub(ch);
    const queued = this.queue;
    this.queue = [];
    for (const r of queued) this.sendRequest(r);
  }

  // Sends a fresh `auth` before the token expires (the server closes 4001 at `exp` otherwise).
  scheduleRefresh() {
    this.clearTimer('refresh');
    const exp = tokenExpiry(this.token ?? '');
    if (!exp || !this.options.getToken) return;
    const left = exp * 1000 - Date.now();
    const margin = Math.min(60000, Math.max(left / 4, 0));
    this.timers.refresh = setTimeout(async () => {
      let token;
      try {
        token = await this.options.getToken();
      } catch (e) {
        this.emit('error', new WebimError('token', `getToken failed: ${e?.message ?? e}`));
        this.timers.refresh = setTimeout(() => this.scheduleRefresh(), 5000);
        return;
      }
      if (!this.authed) return; // reconnecting: the new connection authenticates with a fresh token anyway
      this.token = token;
      this.sendAuth(token, false);
    }, Math.max(left - margin, 1000));
  }

  // ---- requests ------------------------------------------------------------------------------

  /** Sends a request now if authenticated, else when the connection opens. */
  request(op, fields) {
    return new Promise((resolve, reject) => {
      const r = { op, fields, resolve, reject };
      if (this.stopped) return reject(this.closeError ?? new WebimError('closed'));
      if (this.authed) this.sendRequest(r);
      else this.queue.push(r);
    });
  }

  sendRequest(r) {
    const id = this.nextId++;
    r.timer = setTimeout(() => this.onTimeout(id), this.options.requestTimeoutMs);
    this.inflight.set(id, r);
    this.transport.send({ op: r.op, id, ...r.fields });
  }

  onTimeout(id) {
    const r = this.inflight.get(id);
    if (!r) return;
    this.inflight.delete(id);
    // A publish is re-sent with the same cid (a retry of one in flight waits for it on the server).
    if (IDEMPOTENT.has(r.op)) this.sendRequest(r);
    else r.reject(new WebimError('timeout', `no reply to ${r.op} in ${this.options.requestTimeoutMs} ms`));
  }

  failAll(error) {
    for (const r of this.inflight.values()) { clearTimeout(r.timer); if (r.op !== 'auth') r.reject(error); }
    for (const r of this.queue) r.reject(error);
    for (const [r, timer] of this.retrying) { clearTimeout(timer); r.reject(error); }
    this.retrying.clear();
    this.inflight.clear();
    this.queue = [];
  }

  onFrame(obj) {
    if (obj.op === 'msg') return this.onMessage(obj);
    if (obj.op === 'signal') return this.onSignal(obj);
    if (obj.op === 'read' && obj.id === undefined) return this.emit('read', obj); // a read receipt
    if (obj.op === 'watch') return this.emit('watch', obj); // the token's watchlist (WebSocket)
    if (obj.op === 'presence' && obj.id === undefined) return this.onPresence(obj);
    if (obj.op === 'resync') return this.onResync(obj);
    if (obj.op === 'revoked') return this.onRevoked(obj);
    const r = this.inflight.get(obj.id);
    if (!r) return;
    if (r.batch && obj.ch !== undefined) {
      // One channel of a batched sub: the request is done once every channel is answered.
      const entry = r.batch.get(obj.ch);
      if (!entry) return;
      r.batch.delete(obj.ch);
      if (!r.batch.size) {
        this.inflight.delete(obj.id);
        clearTimeout(r.timer);
      }
      if (obj.op === 'ok') entry.resolve(obj);
      else entry.reject(new WebimError(obj.code ?? 'error', obj.msg));
      return;
    }
    this.inflight.delete(obj.id);
    clearTimeout(r.timer);
    if (obj.op === 'ok') return r.resolve(obj);
    const code = obj.code ?? 'error';
    if (IDEMPOTENT.has(r.op) && !FINAL_ERRORS.has(code)) {
      // unavailable (outcome unknown) or rate_limited: retry later with the same cid.
      const timer = setTimeout(() => {
        this.retrying.delete(r);
        if (this.authed) this.sendRequest(r);
        else this.queue.push(r);
      }, backoffDelay(1, this.backoff));
      this.retrying.set(r, timer);
      return;
    }
    r.reject(new WebimError(code, obj.msg));
  }

  /**
   * Publishes `data` (any JSON value) to `ch`. Resolves once the message is durably stored; retried
   * with the same cid across reconnects until then, so it is stored once.
   * @param {string} ch @param {any} data @param {{cid?: string}} [options]
   * @returns {Promise<Position & {cid: string}>}
   */
  async publish(ch, data, { cid = randomId() } = {}) {
    const reply = await this.request('pub', { ch, data, cid });
    return { epoch: reply.epoch, seq: reply.seq, cid };
  }

  /**
   * Edits message `seq` of `ch` (one's own; docs/protocol.md "Edit and delete"): a new entry of the
   * channel, delivered to subscribers as a message with `edit: seq` and as an 'edit' event. Retried
   * with the same cid like a publish. Rejects with 'forbidden' (not the author, or deleted),
   * 'not_found', 'bad_request' (seq is an edit or delete itself).
   * @param {string} ch @param {number} seq @param {any} data @param {{cid?: string}} [options]
   * @returns {Promise<Position & {cid: string}>}  the entry's position
   */
  async edit(ch, seq, data, { cid = randomId() } = {}) {
    const reply = await this.request('edit', { ch, seq, data, cid });
    return { epoch: reply.epoch, seq: reply.seq, cid };
  }

  /**
   * Deletes message `seq` of `ch` (one's own): a new entry with `delete: seq` (a 'delete' event);
   * the server removes the message's data, history returns it as `{deleted: true}` without data.
   * @param {string} ch @param {number} seq @param {{cid?: string}} [options]
   * @returns {Promise<Position & {cid: string}>}
   */
  async delete(ch, seq, { cid = randomId() } = {}) {
    const reply = await this.request('delete', { ch, seq, cid });
    return { epoch: reply.epoch, seq: reply.seq, cid };
  }

  /**
   * Sends a signal (e.g. {typing: true}) to the current subscribers of `ch`: not stored, not
   * retried, best effort. Resolves once the server took it; rejects with 'unavailable' while not
   * connected (a signal is not worth sending later), else as a publish would ('forbidden', ...).
   * @param {string} ch @param {any} data @returns {Promise<void>}
   */
  async signal(ch, data) {
    if (!this.authed) throw new WebimError('unavailable', 'not connected: signals are not queued');
    await this.request('signal', { ch, data });
  }

  /**
   * Marks `ch` read up to `seq` for this user (monotonic, clamped to the channel's last seq).
   * Resolves with the cursor now. The dm peer (and rooms of opted-in namespaces) get a 'read'
   * event, and so do this user's other devices (through their inbox).
   * @param {string} ch @param {number} seq @returns {Promise<number>}
   */
  async read(ch, seq) {
    return (await this.request('read', { ch, seq })).seq;
  }

  /**
   * Unread counts of up to 500 channels, the user's cursors, and on dm: channels the peer's
   * cursor (receipts sent while away). Rejects 'forbidden' if any channel is not granted.
   * @param {string[]} chs
   * @returns {Promise<{unread: Record<string, number>, read: Record<string, number>, peerRead: Record<string, number>}>}
   */
  async unread(chs) {
    const reply = await this.request('unread', { chs });
    return { unread: reply.unread, read: reply.read, peerRead: reply.peer_read };
  }

  /**
   * One page of this user's conversations, most recent activity first (docs/protocol.md
   * "Conversations"): their dm: channels and the rooms they published to or read, each with its
   * last activity (`ts`, `seq`) and unread counts. Page on with `before: {ts, ch}` of the last item
   * while `more`. Rejects 'bad_request' (limit outside 1..100, a bad `before`).
   * @param {{limit?: number, before?: {ts: number, ch: string}}} [page]
   * @returns {Promise<{items: Conversation[], more: boolean}>}
   */
  async conversations({ limit, before } = {}) {
    const fields = {};
    if (limit !== undefined) fields.limit = limit;
    if (before !== undefined) fields.before = { ts: before.ts, ch: before.ch };
    const reply = await this.request('conversations', fields);
    const items = (reply.items ?? []).map(({ ch, ts, seq, unread, read, peer_read: peerRead }) =>
      (peerRead === undefined ? { ch, ts, seq, unread, read } : { ch, ts, seq, unread, read, peerRead }));
    return { items, more: !!reply.more };
  }

  /**
   * User presence of up to 500 user ids the token's `presence` claim allows: resolves with
   * [{user, online: true} | {user, online: false, last_seen: ms|null} | {user, online: false,
   * settling: true}], in the order asked; rejects 'forbidden', 'too_large', 'unavailable', ...
   * @param {string[]} users @returns {Promise<OnlineStatus[]>}
   */
  async online(users) {
    const reply = await this.request('online', { users });
    return reply.users;
  }

  /**
   * Who is in `ch` (a namespace with channel presence, docs/protocol.md "Channel presence"): one
   * page of user ids in byte order after `after`; page on with the last id while `more`.
   * @param {string} ch @param {{after?: string, limit?: number}} [page]
   * @returns {Promise<{users: string[], more: boolean}>}
   */
  async presence(ch, { after, limit = 100 } = {}) {
    const fields = { ch, limit };
    if (after !== undefined && after !== '') fields.after = after;
    const reply = await this.request('presence', fields);
    return { users: reply.users ?? [], more: !!reply.more };
  }

  /**
   * The live connections and unique users of `ch` (O(1) at the hub).
   * @param {string} ch @returns {Promise<{connections: number, users: number}>}
   */
  async presenceStats(ch) {
    const reply = await this.request('presence_stats', { ch });
    return { connections: reply.connections, users: reply.users };
  }

  /**
   * One page of history, ascending by seq.
   * @param {string} ch @param {{before?: number, after?: number, limit?: number}} [range]
   * @returns {Promise<{epoch: string, msgs: Message[], more: boolean}>}
   */
  async history(ch, { before, after, limit = 50 } = {}) {
    const fields = { ch, limit };
    if (before !== undefined) fields.before = before;
    else fields.after = after ?? 0;
    const reply = await this.request('hist', fields);
    return { epoch: reply.epoch, msgs: reply.msgs ?? [], more: !!reply.more };
  }

  // ---- subscriptions -------------------------------------------------------------------------

  /**
   * Calls `handler` with every message of `ch` published after the subscription started, each once and
   * in seq order, across reconnects. Returns the unsubscribe function; its `ready` promise resolves
   * with the channel's position when first subscribed (load older messages with history({before: seq + 1})).
   * @param {string} ch @param {MessageHandler} handler @param {{since?: Position}} [options]
   * @returns {(() => void) & {ready: Promise<Position>}}
   */
  subscribe(ch, handler, { since } = {}) {
    let channel = this.channels.get(ch);
    if (!channel) {
      channel = new Channel(ch);
      if (since) { channel.epoch = since.epoch; channel.lastSeq = since.seq; }
      this.channels.set(ch, channel);
      if (this.authed) this.sendSub(channel);
    }
    channel.handlers.add(handler);
    const unsubscribe = () => {
      const current = this.channels.get(ch);
      if (current !== channel || !channel.handlers.delete(handler) || channel.handlers.size) return;
      this.channels.delete(ch);
      channel.generation++;
      if (this.authed) this.request('unsub', { ch }).catch(() => {});
    };
    unsubscribe.ready = channel.ready.promise;
    return unsubscribe;
  }

  // Subscriptions made in one tick (every channel after a reconnect, or an app subscribing many at
  // start) go out together: one `sub` request per MAX_SUB_BATCH channels, answered per channel.
  sendSub(channel) {
    this.subQueue.add(channel);
    if (this.subQueue.size === 1) queueMicrotask(() => this.flushSubs());
  }

  flushSubs() {
    const queued = [...this.subQueue];
    this.subQueue.clear();
    if (!this.authed) return; // the next connection subscribes every channel again
    const requests = queued.filter((c) => this.channels.get(c.name) === c).map((c) => this.subRequest(c));
    for (let i = 0; i < requests.length; i += MAX_SUB_BATCH) {
      const chunk = requests.slice(i, i + MAX_SUB_BATCH);
      if (chunk.length === 1) {
        this.sendRequest(chunk[0]);
        continue;
      }
      const batch = new Map(chunk.map((r) => [r.fields.ch, r]));
      this.sendRequest({
        op: 'sub', fields: { subs: chunk.map((r) => r.fields) }, batch,
        resolve: () => {},
        // The whole request failed (or timed out): each channel not answered yet decides for itself.
        reject: (e) => { for (const r of batch.values()) r.reject(e); batch.clear(); },
      });
    }
  }

  subRequest(channel) {
    const generation = channel.generation;
    const fields = { ch: channel.name };
    const resuming = channel.epoch !== null;
    if (resuming) fields.since = { epoch: channel.epoch, seq: channel.lastSeq };
    const r = {
      op: 'sub', fields,
      resolve: (reply) => this.onSubscribed(channel, generation, reply, resuming),
      reject: (e) => {
        if (this.channels.get(channel.name) !== channel || channel.generation !== generation) return;
        if (e.code === 'timeout' || e.code === 'unavailable' || e.code === 'rate_limited') {
          setTimeout(() => { if (this.authed && channel.generation === generation) this.sendSub(channel); },
            backoffDelay(this.attempt + 1, this.backoff));
          return;
        }
        this.channels.delete(channel.name);
        channel.ready.reject(e);
        this.emit('error', new WebimError(e.code ?? 'error', `subscribe ${channel.name}: ${e.message}`));
      },
    };
    return r;
  }

  onSubscribed(channel, generation, reply, resuming) {
    if (this.channels.get(channel.name) !== channel || channel.generation !== generation) return;
    const position = { epoch: reply.epoch, seq: reply.seq };
    if (reply.read !== undefined) {
      // Read cursors (WebSocket only): the user's, and on a dm the peer's; also after each resume.
      const cursors = { read: reply.read, ...(reply.peer_read !== undefined ? { peerRead: reply.peer_read } : {}) };
      Object.assign(position, cursors);
      this.emit('cursors', { ch: channel.name, ...cursors });
    }
    if (!resuming) {
      // A new subscription starts after the current last message.
      channel.epoch = reply.epoch;
      channel.lastSeq = reply.seq;
      channel.ready.resolve(position);
      this.emit('subscribed', { ch: channel.name, ...position });
      return this.goLive(channel);
    }
    channel.ready.resolve(position);
    if (reply.epoch !== channel.epoch) return void this.reload(channel, reply, 'epoch');
    if (reply.recovered === true || reply.seq <= channel.lastSeq) {
      // The server sends what we missed right after this reply, in order.
      this.emit('recovered', { ch: channel.name, recovered: true, server: reply.recovered === true, filled: 0 });
      return this.goLive(channel);
    }
    // recovered:false: fetch (lastSeq, reply.seq] from history ourselves, holding live messages meanwhile.
    this.fill(channel, generation, reply.seq).then((filled) => {
      if (filled === null) return;
      this.emit('recovered', { ch: channel.name, recovered: true, server: false, filled });
    });
  }

  goLive(channel) {
    channel.live = true;
    this.drainHeld(channel);
  }

  // Pages history after lastSeq until `more:false`, delivering in order, then goes live. Live messages
  // are held meanwhile. Resolves with how many were delivered, or null when the subscription changed.
  // `expectGaps` (after a resync or an epoch change) delivers what history has without complaint.
  async fill(channel, generation, upto, expectGaps = false) {
    channel.live = false;
    channel.filling = true;
    let filled = 0;
    try {
      for (let failures = 0; ;) {
        let page;
        try {
          page = await this.history(channel.name, { after: channel.lastSeq, limit: this.options.histPageSize });
          failures = 0;
        } catch (e) {
          // The server cannot read history now (its store is recovering: `unavailable`), or did not
          // answer in time: try again after a backoff, for as long as this subscription lasts.
          if (channel.generation !== generation || this.stopped || !RETRYABLE_READ.has(e.code)) throw e;
          await new Promise((resolve) => setTimeout(resolve, backoffDelay(failures++, this.readBackoff)));
          if (channel.generation !== generation) return null;
          continue;
        }
        if (channel.generation !== generation) return null;
        if (page.epoch !== channel.epoch) {
          channel.filling = false;
          this.reload(channel, { epoch: page.epoch, seq: upto }, 'epoch');
          return null;
        }
        for (const msg of page.msgs) {
          if (msg.seq <= channel.lastSeq) continue;
          if (msg.seq !== channel.lastSeq + 1 && !expectGaps) {
            // History no longer has what we missed: say so, then continue from what it has.
            this.emit('resync', { ch: channel.name, epoch: channel.epoch, seq: msg.seq - 1, reason: 'gap' });
          }
          this.deliver(channel, msg);
          filled++;
        }
        if (!page.more || page.msgs.length === 0) break;
        if (filled >= this.options.maxGapFill) {
          this.emit('resync', { ch: channel.name, epoch: channel.epoch, seq: upto, reason: 'too_far' });
          channel.lastSeq = Math.max(channel.lastSeq, upto);
          break;
        }
      }
    } catch (e) {
      if (channel.generation !== generation) return null;
      // Connection trouble: the next subscription resumes from lastSeq anyway.
      this.emit('error', e);
      return null;
    } finally {
      if (channel.generation === generation) channel.filling = false;
    }
    channel.live = true;
    // History was read after every held message was stored: a hole left before them is permanent.
    this.drainHeld(channel, true);
    return filled;
  }

  // The channel's history was lost or reset (new epoch): tell the application, then deliver the most
  // recent `reloadLimit` messages of the new epoch and continue live.
  reload(channel, { epoch, seq }, reason) {
    this.emit('recovered', { ch: channel.name, recovered: false, server: false, filled: 0 });
    this.emit('resync', { ch: channel.name, epoch, seq, reason });
    channel.epoch = epoch;
    channel.lastSeq = Math.max(0, seq - this.options.reloadLimit);
    channel.held = new Map([...channel.held].filter(([, m]) => m.epoch === epoch));
    return this.fill(channel, channel.generation, seq, true);
  }

  onMessage(msg) {
    const channel = this.channels.get(msg.ch);
    if (!channel || channel.epoch === null) return; // not (yet) subscribed: the sub reply defines the start
    if (msg.epoch !== channel.epoch) {
      // A live message from a new epoch: reload from history (the fill delivers this one too).
      if (!channel.filling) this.reload(channel, { epoch: msg.epoch, seq: msg.seq }, 'epoch');
      return;
    }
    if (msg.seq <= channel.lastSeq) return; // duplicate
    if (channel.live && msg.seq === channel.lastSeq + 1) {
      this.deliver(channel, msg);
      return this.drainHeld(channel);
    }
    channel.held.set(msg.seq, msg);
    // A gap while live (should not happen: the frontend fills gaps): fetch it from history.
    if (channel.live && !channel.filling) this.fill(channel, channel.generation, msg.seq);
  }

  onResync({ ch, epoch, seq, notRecovered }) {
    const channel = this.channels.get(ch);
    if (!channel || channel.epoch === null) return;
    if (epoch !== channel.epoch) return void this.reload(channel, { epoch, seq }, 'epoch');
    if (notRecovered) {
      // The HTTP fallback could not resume from `since` (beyond the recovery window): what the
      // WebSocket's `recovered:false` says. Fill (lastSeq, seq] from history, holding live messages.
      if (channel.filling) return;
      return void this.fill(channel, channel.generation, seq).then((filled) => {
        if (filled !== null) this.emit('recovered', { ch, recovered: true, server: false, filled });
      });
    }
    // Same epoch, a gap the server could not fill: deliver what history still has, skip the rest.
    this.emit('resync', { ch, epoch, seq, reason: 'server' });
    if (!channel.filling) this.fill(channel, channel.generation, seq, true);
  }

  // The server ended a subscription: a refreshed token no longer grants the channel. The subscription
  // fails for good (like a `sub` answered forbidden): nothing more is delivered, it is not subscribed
  // again, its `ready` rejects if still pending, and 'revoked' and 'error' are emitted.
  onRevoked({ ch, code = 'forbidden', msg = 'subscription revoked' }) {
    const channel = this.channels.get(ch);
    if (!channel) return;
    this.channels.delete(ch);
    this.subQueue.delete(channel);
    channel.generation++; // a fill or a sub answer still on its way is stale now
    channel.live = false;
    channel.held.clear();
    const error = new WebimError(code, msg);
    channel.ready.reject(error);
    this.emit('revoked', { ch, code, msg });
    this.emit('error', new WebimError(code, `subscribe ${ch}: ${msg}`));
  }

  // Delivers held messages that are next in order. A gap before them is fetched from history, or,
  // right after such a fetch (`skipGaps`), reported as lost and skipped.
  // A signal of a channel subscribed here: reported as a 'signal' event (the sender's own too).
  onSignal(signal) {
    if (!this.channels.has(signal.ch)) return;
    this.emit('signal', signal);
  }

  // A join/leave event of a channel subscribed here: a 'presence' event {ch, join, leave, ts}.
  onPresence(event) {
    if (!this.channels.has(event.ch)) return;
    this.emit('presence', { ch: event.ch, join: event.join ?? [], leave: event.leave ?? [], ts: event.ts });
  }

  drainHeld(channel, skipGaps = false) {
    if (!channel.live) return;
    for (const seq of [...channel.held.keys()]) if (seq <= channel.lastSeq) channel.held.delete(seq);
    while (channel.held.size) {
      const next = channel.held.get(channel.lastSeq + 1);
      if (next) {
        channel.held.delete(next.seq);
        this.deliver(channel, next);
        continue;
      }
      const first = Math.min(...channel.held.keys());
      if (!skipGaps) return void this.fill(channel, channel.generation, Math.max(...channel.held.keys()));
      this.emit('resync', { ch: channel.name, epoch: channel.epoch, seq: first - 1, reason: 'gap' });
      channel.lastSeq = first - 1;
    }
  }

  deliver(channel, msg) {
    channel.lastSeq = msg.seq;
    for (const handler of [...channel.handlers]) {
      try { handler(msg); } catch (e) { this.emit('error', e); }
    }
    // Edit and delete entries, in order with the messages (live, gap-filled or resumed alike): what
    // an app applies to the message it names. `seq` is the message's, `by` the entry's.
    if (msg.edit !== undefined) {
      this.emit('edit', { ch: channel.name, seq: msg.edit, by: msg.seq, from: msg.from, ts: msg.ts, data: msg.data });
    } else if (msg.delete !== undefined) {
      this.emit('delete', { ch: channel.name, seq: msg.delete, by: msg.seq, from: msg.from, ts: msg.ts });
    } else if (msg.notice !== undefined) {
      // A DM notice in the inbox (live, gap-filled or resumed alike): message `seq` of dm `ch` exists.
      this.emit('notice', { ch: msg.notice.ch, seq: msg.notice.seq, from: msg.from, ts: msg.ts, inbox: channel.name, by: msg.seq });
    }
  }

  /** The last position delivered on `ch` (to resume elsewhere with `subscribe(ch, h, {since})`). */
  position(ch) {
    const c = this.channels.get(ch);
    return c && c.epoch !== null ? { epoch: c.epoch, seq: c.lastSeq } : undefined;
  }
}
