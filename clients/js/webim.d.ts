// Types for webim.js, the webim client library (docs/protocol.md sections 1 and 2).

export interface Position {
  epoch: string;
  seq: number;
}

/** A delivered message: `from` is the sender's token subject (or the app-given sender). */
export interface Message<T = unknown> {
  op: 'msg';
  ch: string;
  epoch: string;
  seq: number;
  from: string;
  ts: number;
  /** Absent on a delete entry and on a deleted message. */
  data: T;
  /** An edit entry: the seq of the message it edits (`data` is the new value). */
  edit?: number;
  /** A delete entry: the seq of the message it deletes (no `data`). */
  delete?: number;
  /** A message deleted since (history only): its data is gone. */
  deleted?: boolean;
  /** An inbox DM notice (docs/protocol.md "Conversations"): message `seq` of dm `ch` exists. No `data`. */
  notice?: { ch: string; seq: number };
}

/** A DM notice in the user's inbox `inbox` (entry seq `by`): message `seq` of dm `ch` from `from`. */
export interface NoticeEvent {
  ch: string;
  seq: number;
  from: string;
  ts: number;
  inbox: string;
  by: number;
}

/** One conversation: last activity (`ts` ms, `seq`), unread counts; `peerRead` on dm: channels. */
export interface Conversation {
  ch: string;
  ts: number;
  seq: number;
  unread: number;
  read: number;
  peerRead?: number;
}

/** An edit or delete of message `seq` of `ch`, by the entry at seq `by` (in order with the messages). */
export interface EditEvent<T = unknown> {
  ch: string;
  seq: number;
  by: number;
  from: string;
  ts: number;
  data?: T;
}

export type MessageHandler<T = unknown> = (msg: Message<T>) => void;

/** An ephemeral event of a subscribed channel (typing, ...): no seq, not stored, best effort. */
export interface Signal<T = unknown> {
  op: 'signal';
  ch: string;
  from: string;
  ts: number;
  data: T;
}

/** A read receipt: `user` read `ch` up to `seq` (on a dm, an opted-in room, or from the user's own other devices). */
export interface ReadEvent {
  op: 'read';
  ch: string;
  user: string;
  seq: number;
}

/** One user's presence (online()); `settling`: the hub restarted lately, ask again. */
export interface OnlineStatus {
  user: string;
  online: boolean;
  /** Offline: Unix ms of the last connection's end, null when never seen. */
  last_seen?: number | null;
  settling?: boolean;
}

/** A watched user's presence (the token's `watch` claim): after auth, then each change. */
export interface WatchEvent {
  op: 'watch';
  user: string;
  online: boolean;
  last_seen?: number | null;
}

/** Who joined and left a subscribed presence channel since its previous event (coalesced, best effort). */
export interface PresenceEvent {
  ch: string;
  join: string[];
  leave: string[];
  ts: number;
}

export type State = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** 'custom' when options.transport replaces the built-in ones. */
export type TransportName = 'websocket' | 'sse' | 'longpoll' | 'custom';

/** The second argument of 'state' listeners. */
export interface StateInfo {
  state: State;
  /** The transport of the connection (being) made. */
  transport: TransportName;
}

export interface FallbackOptions {
  /** Consecutive failed connections (never authenticated, or unusable) before the next transport is tried (default 2). */
  after?: number;
  /** A WebSocket handshake not open by then moves on to the next transport at once, ms (default 5000). */
  openTimeoutMs?: number;
  /** While on a fallback, the preferred transport is probed after a delay in [cap/2, cap), cap = min(probeMaxMs,
   * probeBaseMs * 2^n) (defaults 5000 and 60000); when it connects and authenticates, the client switches back. */
  probeBaseMs?: number;
  probeMaxMs?: number;
}

export interface BackoffOptions {
  /** First retry delay cap, ms (default 500). */
  baseMs?: number;
  /** Largest retry delay, ms (default 30000). */
  maxMs?: number;
  /** A connection open this long resets the backoff (default 10000). */
  stableMs?: number;
  /** After close 1012 (server restart), reconnect within a uniform [0, restartMs) (default 2000). */
  restartMs?: number;
}

/** A connection as the client sees it: the WebSocket, or the HTTP fallback speaking the same request/reply objects. */
export interface Transport {
  send(request: object): void;
  close(code?: number, reason?: string): void;
}

export interface TransportHandlers {
  onOpen(): void;
  onMessage(frame: any): void;
  /** Called once, also when opening failed. `unusable`: this kind of transport does not work here. */
  onClose(ev: { code: number; reason: string; unusable?: boolean }): void;
}

export type TransportFactory = (url: string, handlers: TransportHandlers) => Transport;

export interface ClientOptions {
  url?: string;
  /** Several frontends: each reconnect tries the next one. */
  urls?: string[];
  /** A JWT. Without getToken it cannot be refreshed, and close 4001 ends the client. */
  token?: string;
  /** Called at start (if no token), before the token's exp, and after close 4001. */
  getToken?: () => string | Promise<string>;
  /** WebSocket constructor (default globalThis.WebSocket); in Node pass the `ws` package. */
  WebSocket?: any;
  /** Transports in order of preference (default all three); unavailable ones are left out. One entry forces it. */
  transports?: Array<'websocket' | 'sse' | 'longpoll'>;
  /** fetch for the HTTP fallback (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** EventSource for SSE (default globalThis.EventSource; without one, the event stream is read with fetch). */
  EventSource?: any;
  fallback?: FallbackOptions;
  /** Replaces the built-in transports (no switching). */
  transport?: TransportFactory;
  backoff?: BackoffOptions;
  /** Reply deadline per request, ms (default 10000). A timed-out publish is re-sent with its cid. */
  requestTimeoutMs?: number;
  /** Deadline for opening and authenticating, ms (default 10000). */
  connectTimeoutMs?: number;
  /** hist page size when filling gaps (default 200). */
  histPageSize?: number;
  /** Most messages fetched to fill one gap; beyond it a 'resync' with reason 'too_far' (default 10000). */
  maxGapFill?: number;
  /** Messages reloaded after an epoch change (default 200). */
  reloadLimit?: number;
}

export interface RecoveredEvent {
  ch: string;
  /** true: every missed message was (or is about to be) delivered; false: history was lost, see 'resync'. */
  recovered: boolean;
  /** The server recovered from `since` itself. Over the HTTP fallback this is reported when the stream is
   * resumed; if the server then cannot recover, a second event follows with server:false and `filled`. */
  server: boolean;
  /** Messages the client fetched from history to fill the gap. */
  filled: number;
}

export interface ResyncEvent {
  ch: string;
  epoch: string;
  seq: number;
  /** 'epoch': history reset (new epoch); 'server': the server could not fill a gap; 'gap': history lacks
   * messages; 'too_far': more than maxGapFill missed. Messages may have been skipped: reload views from history. */
  reason: 'epoch' | 'server' | 'gap' | 'too_far';
}

/** A refreshed token no longer grants `ch`: its subscription ended for good (not subscribed again). */
export interface RevokedEvent {
  ch: string;
  /** 'forbidden' */
  code: string;
  msg: string;
}

export interface EventMap {
  state: State;
  recovered: RecoveredEvent;
  resync: ResyncEvent;
  subscribed: { ch: string } & Position;
  /** Also reported as an 'error' with code 'forbidden'. */
  revoked: RevokedEvent;
  /** A signal of a subscribed channel, the user's own included. */
  signal: Signal;
  /** A read receipt (the user's own other devices included). */
  read: ReadEvent;
  /** The read cursors a (re)subscription's reply carried (WebSocket): the user's, and on a dm the peer's. */
  cursors: { ch: string; read: number; peerRead?: number };
  /** A watched user's status after auth, then every change (WebSocket only). */
  watch: WatchEvent;
  /** Channel presence: joins and leaves of a subscribed channel in a presence namespace. */
  presence: PresenceEvent;
  /** An edit entry of a subscribed channel (docs/protocol.md "Edit and delete"). */
  edit: EditEvent;
  /** A delete entry of a subscribed channel: drop message `seq`. */
  delete: EditEvent;
  /** A DM notice in the subscribed inbox: a message in one of the user's dm: channels (either side). */
  notice: NoticeEvent;
  error: Error;
}

export class WebimError extends Error {
  /** forbidden, bad_request, too_large, not_found, wrong_shard, timeout, closed, kicked, auth, token */
  code: string;
  constructor(code: string, message?: string);
}

export type Unsubscribe = (() => void) & {
  /** Resolves with the channel's position when first subscribed; older messages: history(ch, {before: seq + 1}). */
  ready: Promise<Position & { read?: number; peerRead?: number }>;
};

export class WebimClient {
  constructor(options: ClientOptions);
  readonly state: State;
  /** The transport in use (or being tried). */
  readonly transportName: TransportName;
  /** The authenticated user id (the token's `sub`), once open. */
  readonly user: string | null;
  connect(): Promise<void>;
  close(): void;
  /** 'state' listeners also get {state, transport}. */
  on(event: 'state', fn: (state: State, info: StateInfo) => void): () => void;
  on<K extends keyof EventMap>(event: K, fn: (payload: EventMap[K]) => void): () => void;
  subscribe<T = unknown>(ch: string, handler: MessageHandler<T>, options?: { since?: Position }): Unsubscribe;
  publish(ch: string, data: unknown, options?: { cid?: string }): Promise<Position & { cid: string }>;
  /** Edits one's own message `seq` of `ch` (a new entry; retried with the same cid like a publish). */
  edit(ch: string, seq: number, data: unknown, options?: { cid?: string }): Promise<Position & { cid: string }>;
  /** Deletes one's own message `seq` of `ch`: a new entry; the server removes the message's data. */
  delete(ch: string, seq: number, options?: { cid?: string }): Promise<Position & { cid: string }>;
  /** Ephemeral: to the current subscribers only; rejects with 'unavailable' while not connected. */
  signal(ch: string, data: unknown): Promise<void>;
  /** Marks `ch` read up to `seq`; resolves with the cursor now (monotonic, clamped to the last seq). */
  read(ch: string, seq: number): Promise<number>;
  /** Up to 500 channels: unread counts, the user's cursors, the dm peers' cursors. */
  unread(chs: string[]): Promise<{ unread: Record<string, number>; read: Record<string, number>; peerRead: Record<string, number> }>;
  /** One page of the user's conversations, most recent first; page on with `before` = the last item's {ts, ch}. */
  conversations(page?: { limit?: number; before?: { ts: number; ch: string } }): Promise<{ items: Conversation[]; more: boolean }>;
  /** Presence of up to 500 user ids the token's `presence` claim allows. */
  online(users: string[]): Promise<OnlineStatus[]>;
  /** Who is in `ch` (byte order, after `after`); rejects 'forbidden' without a subscribe grant. */
  presence(ch: string, page?: { after?: string; limit?: number }): Promise<{ users: string[]; more: boolean }>;
  presenceStats(ch: string): Promise<{ connections: number; users: number }>;
  history<T = unknown>(
    ch: string,
    range?: { before?: number; after?: number; limit?: number },
  ): Promise<{ epoch: string; msgs: Message<T>[]; more: boolean }>;
  position(ch: string): Position | undefined;
}

/** Full-jitter delay: uniform in [0, min(maxMs, baseMs * 2^attempt)). */
export function backoffDelay(attempt: number, options?: BackoffOptions, random?: () => number): number;
/** The `exp` claim (seconds) of a JWT, unverified. */
export function tokenExpiry(token: string): number | undefined;
export function createWebSocketTransport(WebSocketImpl: any): TransportFactory;
/** The HTTP fallback (docs/protocol.md section 2) as a transport; `url` may be the frontend's ws(s):// URL. */
export function createHttpTransport(options?: {
  mode?: 'sse' | 'longpoll';
  fetch?: typeof fetch;
  EventSource?: any;
}): TransportFactory;
/** `ws(s)://host/prefix/ws` -> `http(s)://host/prefix`. */
export function httpBaseUrl(url: string): string;
/** Reads a text/event-stream body, calling `onData` with each event's data (comments are skipped). */
export function readEventStream(body: ReadableStream<Uint8Array>, onData: (data: string) => void): Promise<void>;
