// Types for webim.js, the webim client library (PROTOCOL.md section 1).

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
  data: T;
}

export type MessageHandler<T = unknown> = (msg: Message<T>) => void;

export type State = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

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

/** A connection as the client sees it. The WebSocket transport is the default; the HTTP fallback will be another. */
export interface Transport {
  send(request: object): void;
  close(code?: number, reason?: string): void;
}

export interface TransportHandlers {
  onOpen(): void;
  onMessage(frame: any): void;
  /** Called once, also when opening failed. */
  onClose(ev: { code: number; reason: string }): void;
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
  /** The server recovered from `since` itself. */
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

export interface EventMap {
  state: State;
  recovered: RecoveredEvent;
  resync: ResyncEvent;
  subscribed: { ch: string } & Position;
  error: Error;
}

export class WebimError extends Error {
  /** forbidden, bad_request, too_large, not_found, wrong_shard, timeout, closed, kicked, auth, token */
  code: string;
  constructor(code: string, message?: string);
}

export type Unsubscribe = (() => void) & {
  /** Resolves with the channel's position when first subscribed; older messages: history(ch, {before: seq + 1}). */
  ready: Promise<Position>;
};

export class WebimClient {
  constructor(options: ClientOptions);
  readonly state: State;
  /** The authenticated user id (the token's `sub`), once open. */
  readonly user: string | null;
  connect(): Promise<void>;
  close(): void;
  on<K extends keyof EventMap>(event: K, fn: (payload: EventMap[K]) => void): () => void;
  subscribe<T = unknown>(ch: string, handler: MessageHandler<T>, options?: { since?: Position }): Unsubscribe;
  publish(ch: string, data: unknown, options?: { cid?: string }): Promise<Position & { cid: string }>;
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
