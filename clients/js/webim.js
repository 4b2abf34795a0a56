// webim client library: one WebSocket to a webim frontend (PROTOCOL.md section 1), with
// reconnection, resumable subscriptions (no gap, no duplicate, in order per channel), publishes
// that are retried with the same `cid` until durably stored, and token refresh.
//
// An ES module with no build step and no runtime dependencies. Browsers use their WebSocket;
// Node passes one (e.g. the `ws` package) as `options.WebSocket`.
//
// The connection is a swappable transport (see `createWebSocketTransport`): the HTTP fallback of
// PROTOCOL.md section 2 will be another transport with the same four members, so everything above
// it (requests, subscriptions, recovery) is shared.

/**
 * @typedef {{epoch: string, seq: number}} Position
 * @typedef {{op: 'msg', ch: string, epoch: string, seq: number, from: string, ts: number, data: any}} Message
 * @typedef {(msg: Message) => void} MessageHandler
 * @typedef {'idle'|'connecting'|'open'|'reconnecting'|'closed'} State
 * @typedef {{baseMs?: number, maxMs?: number, stableMs?: number, restartMs?: number}} BackoffOptions
 *
 * @typedef {object} Transport  What the client needs from a connection; the HTTP fallback will be one too.
 * @property {(obj: object) => void} send  sends one request object
 * @property {(code?: number, reason?: string) => void} close
 *
 * @typedef {object} TransportHandlers
 * @property {() => void} onOpen
 * @property {(obj: any) => void} onMessage  one parsed server frame
 * @property {(ev: {code: number, reason: string}) => void} onClose  called once, also when opening failed
 *
 * @typedef {(url: string, handlers: TransportHandlers) => Transport} TransportFactory
 *
 * @typedef {object} ClientOptions
 * @property {string} [url]  the frontend's WebSocket URL, `ws(s)://host/ws`
 * @property {string[]} [urls]  several frontends, tried in turn on every reconnect
 * @property {string} [token]  a JWT; without `getToken` it cannot be refreshed
 * @property {() => Promise<string>|string} [getToken]  fetches a fresh JWT (at start, before `exp`, after close 4001)
 * @property {any} [WebSocket]  WebSocket constructor (default: globalThis.WebSocket)
 * @property {TransportFactory} [transport]  replaces the WebSocket transport
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

const randomId = () =>
  globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;

// Errors after which a request is not retried.
const FINAL_ERRORS = new Set(['forbidden', 'bad_request', 'too_large', 'not_found', 'wrong_shard']);

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
    const WS = options.WebSocket ?? globalThis.WebSocket;
    if (!options.transport && !WS) throw new TypeError('WebimClient: no WebSocket; pass options.WebSocket');
    this.makeTransport = options.transport ?? createWebSocketTransport(WS);

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
    /** @type {Map<string, Channel>} */
    this.channels = new Map();
    /** @type {Map<string, Set<Function>>} */
    this.listeners = new Map();
    this.timers = { retry: null, refresh: null, connect: null, stable: null };
  }

  // ---- events --------------------------------------------------------------------------------

  /**
   * Events: 'state' (State), 'recovered' ({ch, recovered, server, filled}), 'resync' ({ch, epoch, seq, reason}),
   * 'error' (Error), 'subscribed' ({ch, epoch, seq}).
   * @param {string} event @param {Function} fn @returns {() => void} removes the listener
   */
  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(fn);
    return () => this.listeners.get(event)?.delete(fn);
  }

  emit(event, payload) {
    for (const fn of this.listeners.get(event) ?? []) {
      try { fn(payload); } catch (e) { if (event !== 'error') this.emit('error', e); }
    }
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
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
    let transport;
    transport = this.makeTransport(url, {
      onOpen: () => { if (this.transport === transport) this.sendAuth(this.token, true); },
      onMessage: (obj) => { if (this.transport === transport) this.onFrame(obj); },
      onClose: (ev) => { if (this.transport === transport) this.onClose(ev); },
    });
    this.transport = transport;
    this.timers.connect = setTimeout(() => transport.close(4000, 'connect timeout'), this.options.connectTimeoutMs);
  }

  onClose({ code }) {
    this.transport = null;
    this.authed = false;
    this.clearTimer('connect');
    this.clearTimer('refresh');
    this.clearTimer('stable');
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
    this.setState('reconnecting');
    this.scheduleReconnect(code === 1012 ? Math.floor(Math.random() * this.backoff.restartMs) : undefined);
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
    if (r.op === 'pub') this.sendRequest(r);
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
    if (obj.op === 'resync') return this.onResync(obj);
    const r = this.inflight.get(obj.id);
    if (!r) return;
    this.inflight.delete(obj.id);
    clearTimeout(r.timer);
    if (obj.op === 'ok') return r.resolve(obj);
    const code = obj.code ?? 'error';
    if (r.op === 'pub' && !FINAL_ERRORS.has(code)) {
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

  sendSub(channel) {
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
    this.sendRequest(r);
  }

  onSubscribed(channel, generation, reply, resuming) {
    if (this.channels.get(channel.name) !== channel || channel.generation !== generation) return;
    const position = { epoch: reply.epoch, seq: reply.seq };
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
      for (;;) {
        const page = await this.history(channel.name, { after: channel.lastSeq, limit: this.options.histPageSize });
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

  onResync({ ch, epoch, seq }) {
    const channel = this.channels.get(ch);
    if (!channel || channel.epoch === null) return;
    if (epoch !== channel.epoch) return void this.reload(channel, { epoch, seq }, 'epoch');
    // Same epoch, a gap the server could not fill: deliver what history still has, skip the rest.
    this.emit('resync', { ch, epoch, seq, reason: 'server' });
    if (!channel.filling) this.fill(channel, channel.generation, seq, true);
  }

  // Delivers held messages that are next in order. A gap before them is fetched from history, or,
  // right after such a fetch (`skipGaps`), reported as lost and skipped.
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
  }

  /** The last position delivered on `ch` (to resume elsewhere with `subscribe(ch, h, {since})`). */
  position(ch) {
    const c = this.channels.get(ch);
    return c && c.epoch !== null ? { epoch: c.epoch, seq: c.lastSeq } : undefined;
  }
}
