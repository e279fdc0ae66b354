// The client: one session with a Jetstream server over a WebSocket, and the scopes it fetched.
//
// Reliability (docs/protocol.md §3, §4):
// - Every message with an index ≠ 0 stays in `#unacked` until the server's Ping acknowledges
//   it. Messages are only written while the connection is "live": after SessionCreateReply on
//   a new session, or after the server answered our resume Ping (resendMissing) on a resumed
//   one. Becoming live writes every un-acked message, in index order, so the server (which
//   drops indices at or below the highest it saw) never skips one.
// - Inbound: duplicates (index ≤ last seen) are dropped; a gap means a message was lost, so the
//   client reconnects and the server resends.
// - A socket that closes for any other reason is reopened with backoff, resuming the session
//   with its token: in an `X-Jetstream-SessionToken` header where the WebSocket implementation
//   can send headers (the `ws` package), else as a query parameter (browsers cannot set
//   headers; URLs end up in proxy and access logs, see docs/client.md).
// - Close 4096/4097 while a session existed is fatal: a new session is created, every scope is
//   fetched again, and each scope re-applies its unanswered changesets on top of the new state.
// - With the `offline` option (docs/client.md, "Offline edits"; offline.ts), the session and the
//   unanswered changesets are saved to a store: a message is written only once saved, a Ping
//   acknowledges no further than the saved record, and a new Client resumes from the record.
import { ErrorCode, ErrorType, JetstreamError } from '../errors.js';
import type { ModelClass, ModelObject } from '../model/model-object.js';
import {
  decodeServerFrame,
  encodeClientPresence,
  encodeClientScopeSync,
  encodePing,
  encodeScopeFetch,
  encodeSessionCreate,
} from '../protocol/client-codec.js';
import type {
  Fragment,
  FragmentReply,
  PresenceGrant,
  ServerMessage,
  SessionCreateReply,
  WireError,
} from '../protocol/messages.js';
import { Emitter } from '../util/emitter.js';
import { connectLimit, connectTimeoutMessage } from './connect-timeout.js';
import type { FetchedScope } from './fetched-scope.js';
import { OfflineKeeper, type OfflineOptions } from './offline.js';
import type { OfflineRecord, OfflineScope } from './offline-store.js';
import type { PresenceState } from './presence.js';
import { checkState, checkSync, type SchemaMismatchError } from './schema-check.js';
import { ClientScope, type ScopeHost, type SyncOptions } from './scope.js';

/** The part of the WebSocket API the client uses: the browser's, or the `ws` package's. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

export interface ConnectOptions {
  /** SessionCreate params, for the server's `session` hook (authentication). */
  params?: Record<string, unknown>;
  /** WebSocket implementation; default `globalThis.WebSocket`. In Node < 22 pass `ws`'s. */
  WebSocket?: unknown;
  /** Protocol version sent in SessionCreate. Default `0.2.0` (what the iOS client sends). */
  version?: string;
  /** Keep-alive ping interval, ms (± 10 % jitter). Default 10 000. */
  pingInterval?: number;
  /** Reconnect backoff: first delay and ceiling, ms. Defaults 250 and 10 000. */
  minReconnectDelay?: number;
  maxReconnectDelay?: number;
  /**
   * connect() rejects (type `connect-timeout`) when no session is open after this many ms, and
   * the client is closed. Default 10 000 (`DEFAULT_CONNECT_TIMEOUT`); `0` or `Infinity`: no limit,
   * keep retrying with backoff. Only the first session is bounded: once connected, a client
   * reconnects with backoff for as long as it is open.
   */
  connectTimeout?: number;
  /**
   * How a reconnecting client presents its session token: `'header'` (the
   * `X-Jetstream-SessionToken` upgrade header, kept out of URLs and so out of proxy and access
   * logs) or `'query'` (`?x-jetstream-sessiontoken=…`, the only way in a browser). Default:
   * `'header'` with the `ws` package's WebSocket, else `'query'`.
   */
  sessionTokenIn?: 'header' | 'query';
  /**
   * Keep unacknowledged edits (and the session, and each scope's last state) in a store, so
   * that they survive a reload and are sent once the client is back (docs/client.md, "Offline
   * edits"). Off by default.
   */
  offline?: OfflineOptions;
  /**
   * Ask the server for the presence extension (docs/client.md, "Presence"): `scope.presence`
   * then shares this client's state with the scope's other sessions and shows theirs. Default
   * true; a server that does not speak it (the original) ignores the request.
   */
  presence?: boolean;
}

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** What a connection badge shows. */
export interface SyncStatus {
  state: ConnectionState;
  /** True while a session is live on an open socket. */
  connected: boolean;
  /** Changesets made locally and not answered by the server yet, over every scope. */
  pendingChangesets: number;
  /** When the server last answered a changeset of ours (ms since the epoch), or null. */
  lastAcknowledgedAt: number | null;
  /** How many sessions the client had to create (1 normally; more after fatal closes). */
  sessions: number;
}

export interface ClientEvents {
  status: (status: SyncStatus) => void;
  /** Something went wrong that the client recovers from (or a denial, which it does not). */
  error: (error: Error) => void;
  /** A new session replaced one the server ended (close 4096/4097). */
  sessionRestarted: () => void;
}

interface FetchEntry {
  name: string;
  params: Record<string, unknown>;
  /** Its presence state type is the fetch caller's business (object: any of them). */
  scope: ClientScope<ModelObject, object>;
  fetched: boolean;
  failed: boolean;
  /** Fetches asked again because the server was rebuilding the scope (backoff). */
  refetches: number;
  /** Resolves the fetch() promise with `scope`. */
  resolve: () => void;
  reject: (err: Error) => void;
}

const FATAL = new Set([4096, 4097]);
const CLOSE_GAP = 4000;

type ClientErrorCode =
  | typeof ErrorCode.CLIENT_SESSION_DENIED
  | typeof ErrorCode.CLIENT_FETCH_DENIED
  | typeof ErrorCode.CLIENT_PROTOCOL
  | typeof ErrorCode.CLIENT_CLOSED
  | typeof ErrorCode.CLIENT_CONNECT_TIMEOUT
  | typeof ErrorCode.CLIENT_OFFLINE_STORE;

/** A failure the client reports: a denied session or fetch, a closed client, an unreadable frame. */
export class JetstreamClientError extends JetstreamError {
  constructor(error: WireError, code: ClientErrorCode) {
    super(code, error.message, error.type);
    this.name = 'JetstreamClientError';
  }
}

const CLIENT_CLOSED: WireError = Object.freeze({ message: 'Client closed', type: ErrorType.clientClosed });

export class Client extends Emitter<ClientEvents> implements ScopeHost {
  readonly url: string;
  /** Resolves once the first session is established; rejects if it is denied. */
  readonly ready: Promise<void>;

  readonly #WS: WebSocketConstructor;
  readonly #tokenInHeader: boolean;
  readonly #params: Record<string, unknown>;
  readonly #version: string;
  readonly #pingInterval: number;
  readonly #minDelay: number;
  readonly #maxDelay: number;
  readonly #askPresence: boolean;
  /** What the server granted of presence for the current session (docs/protocol.md §17). */
  #presence: PresenceGrant | null = null;

  #ws: WebSocketLike | null = null;
  #token: string | null = null;
  #live = false;
  #closed = false;
  #nextIndex = 1;
  #unacked: { index: number; text: string }[] = [];
  #lastServer = -1;
  #replies = new Map<number, (msg: ServerMessage) => void>();
  #fetches: FetchEntry[] = [];
  #byIndex = new Map<number, FetchEntry>();
  #attempt = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  #pingTimer: ReturnType<typeof setTimeout> | null = null;
  #refetchTimers = new Set<ReturnType<typeof setTimeout>>();
  #status: SyncStatus = {
    state: 'connecting',
    connected: false,
    pendingChangesets: 0,
    lastAcknowledgedAt: null,
    sessions: 0,
  };
  /** Offline persistence (offline.ts), and the load of its record while it runs. */
  #keeper: OfflineKeeper | null = null;
  #loading: Promise<void> | null = null;
  /** The session was resumed from a stored record (so a new session is a restart). */
  #fromRecord = false;
  /** The highest index written on the current socket. */
  #written = 0;
  #readyResolve!: () => void;
  #readyReject!: (err: Error) => void;
  #isReady = false;

  constructor(url: string, options: ConnectOptions = {}) {
    super();
    const WS = (options.WebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket) as
      | WebSocketConstructor
      | undefined;
    if (typeof WS !== 'function') {
      throw new TypeError(
        'No WebSocket implementation: pass one, e.g. connect(url, { WebSocket }) from the ws package',
      );
    }
    this.url = url;
    this.#WS = WS;
    // The ws package's sockets (and subclasses) have terminate(); browsers' do not.
    const canSendHeaders =
      typeof (WS.prototype as { terminate?: unknown } | undefined)?.terminate === 'function';
    this.#tokenInHeader = (options.sessionTokenIn ?? (canSendHeaders ? 'header' : 'query')) === 'header';
    this.#params = options.params ?? {};
    this.#version = options.version ?? '0.2.0';
    this.#pingInterval = options.pingInterval ?? 10_000;
    this.#minDelay = options.minReconnectDelay ?? 250;
    this.#maxDelay = options.maxReconnectDelay ?? 10_000;
    this.#askPresence = options.presence !== false;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.ready.catch(() => {});
    if (options.offline) this.#startOffline(options.offline);
    else this.#open();
  }

  get status(): SyncStatus {
    return { ...this.#status };
  }

  /** The current session token (null between sessions). */
  get sessionToken(): string | null {
    return this.#token;
  }

  /** The scopes fetched so far. */
  get scopes(): ClientScope[] {
    // Presence states read as plain records here, whatever type each fetch gave them.
    return this.#fetches.filter((f) => !f.failed).map((f) => f.scope as ClientScope);
  }

  /**
   * Fetches a scope: resolves with a live ClientScope once its state has arrived. `RootModel`
   * is the class of the scope's root, from the model module the server uses too.
   */
  fetch<T extends ModelObject, P extends object = PresenceState>(
    name: string,
    RootModel: ModelClass<T>,
    params: Record<string, unknown> = {},
  ): Promise<FetchedScope<T, P>> {
    return new Promise<FetchedScope<T, P>>((resolve, reject) => {
      const start = () => {
        if (this.#closed) {
          reject(new JetstreamClientError(CLIENT_CLOSED, ErrorCode.CLIENT_CLOSED));
          return;
        }
        const scope = new ClientScope<T, P>(name, RootModel, params, this);
        const entry: FetchEntry = {
          name,
          params,
          scope,
          fetched: false,
          failed: false,
          refetches: 0,
          // Resolved only once a state is applied: the root exists from then on.
          resolve: () => resolve(scope as FetchedScope<T, P>),
          reject,
        };
        this.#fetches.push(entry);
        this.#restoreScope(entry);
        this.#sendFetch(entry);
        // A stored state shows at once; the server's replaces it when it comes.
        if (entry.fetched) entry.resolve();
      };
      // With `offline`, the stored record must be loaded first: it may hold this scope.
      if (this.#loading) this.#loading.then(start);
      else start();
    });
  }

  /**
   * With `offline`: resolves once everything so far is saved in the store (after `close()`,
   * once its last save is done).
   */
  persisted(): Promise<void> {
    return this.#keeper ? this.#keeper.flushed() : Promise.resolve();
  }

  /** Closes the connection for good. Unanswered changesets settle as rejected. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#live = false;
    this.#clearTimers();
    const ws = this.#ws;
    this.#ws = null;
    if (ws) ws.close(1000, 'Client closed');
    // Saved before the unanswered changesets fail below: they stay in the store, for the next client.
    this.#keeper?.stop();
    for (const f of this.#fetches) {
      if (!f.fetched) f.reject(new JetstreamClientError(CLIENT_CLOSED, ErrorCode.CLIENT_CLOSED));
      f.scope._failAll(CLIENT_CLOSED);
      f.scope.presence._close();
    }
    if (!this.#isReady) this.#readyReject(new JetstreamClientError(CLIENT_CLOSED, ErrorCode.CLIENT_CLOSED));
    this.#setStatus({ state: 'closed', connected: false });
  }

  // ---- ScopeHost ------------------------------------------------------------------------------

  /** @internal */
  _sendSync(
    scope: ClientScope<ModelObject, object>,
    fragments: Fragment[],
    options: SyncOptions,
    onReply: (r: FragmentReply[] | null) => void,
    onIndex?: (index: number) => void,
    ack?: number,
  ): void {
    const scopeIndex = scope.scopeIndex!;
    // The server merges collection changes against what the client acknowledged (docs/protocol.md
    // §7.10): the server messages the edits were made on are acknowledged in the same frame,
    // ahead of the ScopeSync, also when it is written again after a resume.
    const seen = ack === undefined ? null : encodePing(Math.min(ack, this.#ack()), false);
    const index = this.#send(
      (i) => {
        const sync = encodeClientScopeSync(i, scopeIndex, fragments, options);
        return seen === null ? sync : `[${seen},${sync}]`;
      },
      (msg) => {
        this.#setStatus({ lastAcknowledgedAt: Date.now() });
        onReply(msg.type === 'ScopeSyncReply' ? msg.fragmentReplies : null);
      },
    );
    onIndex?.(index);
  }

  /** @internal */
  _ackIndex(): number {
    return this.#ack();
  }

  /** @internal */
  _presenceGrant(): PresenceGrant | null {
    return this.#presence;
  }

  /** @internal A Presence message: index 0, never buffered (docs/protocol.md §17). */
  _sendPresence(scopeIndex: number, stateJson: string): boolean {
    if (!this.#live || this.#presence === null || this.#ws?.readyState !== 1) return false;
    this.#write(encodeClientPresence(scopeIndex, stateJson));
    return true;
  }

  /** @internal */
  _pendingChanged(): void {
    let n = 0;
    for (const f of this.#fetches) n += f.scope.pendingCount;
    this.#setStatus({ pendingChangesets: n });
    this.#keeper?.changed();
  }

  // ---- sending --------------------------------------------------------------------------------

  #send(build: (index: number) => string, onReply?: (msg: ServerMessage) => void): number {
    const index = this.#nextIndex++;
    const text = build(index);
    this.#unacked.push({ index, text });
    if (onReply) this.#replies.set(index, onReply);
    this.#writeReady();
    this.#keeper?.changed();
    return index;
  }

  /**
   * While live, writes in index order the buffered messages not written on this socket yet,
   * up to the first one that may not be written yet (offline: not saved yet).
   */
  #writeReady(): void {
    if (!this.#live) return;
    const list = this.#unacked;
    let k = list.length;
    while (k > 0 && list[k - 1]!.index > this.#written) k--;
    for (; k < list.length; k++) {
      const m = list[k]!;
      if (!this.#canWrite(m.index)) {
        this.#keeper?.changed(); // it waits for a save: have one now
        return;
      }
      this.#write(m.text);
      this.#written = m.index;
    }
  }

  /** Offline: only what a saved record of this session lists may go out (see offline.ts). */
  #canWrite(index: number): boolean {
    const k = this.#keeper;
    return !k || (k.savedToken === this.#token && index < k.savedNext);
  }

  /** The `ack` of a Ping. Offline: no further than the saved record (see offline.ts). */
  #ack(): number {
    const k = this.#keeper;
    if (!k) return Math.max(this.#lastServer, 0);
    return k.savedToken === this.#token ? Math.max(Math.min(this.#lastServer, k.savedServer), 0) : 0;
  }

  #write(text: string): void {
    const ws = this.#ws;
    if (ws && ws.readyState === 1) ws.send(text);
  }

  #sendFetch(entry: FetchEntry): void {
    this.#send(
      (i) => encodeScopeFetch(i, entry.name, entry.params),
      (msg) => {
        if (msg.type !== 'ScopeFetchReply') return;
        if (msg.scopeIndex === undefined && entry.fetched && msg.error?.type === ErrorType.storeFailed) {
          // A scope fetched again after a new session while the server rebuilds it from its
          // store (docs/protocol.md §13, `store-failed`: nothing was acknowledged, the rebuild
          // ends; a cluster process does it after losing a lease): ask again rather than fail
          // the scope and drop the edits waiting for it (they are re-applied once it arrives).
          this.emit('error', new JetstreamClientError(msg.error, ErrorCode.CLIENT_FETCH_DENIED));
          this.#refetchLater(entry);
          return;
        }
        if (msg.scopeIndex === undefined) {
          entry.failed = true;
          const error = new JetstreamClientError(
            msg.error ?? { message: 'Fetch failed' },
            ErrorCode.CLIENT_FETCH_DENIED,
          );
          entry.scope._failAll(msg.error ?? { message: 'Fetch failed' });
          if (!entry.fetched) entry.reject(error);
          else this.emit('error', error);
          return;
        }
        entry.refetches = 0;
        this.#byIndex.set(msg.scopeIndex, entry);
      },
    );
  }

  /** Fetches `entry` again after a backoff delay, unless the session ended meanwhile (its restart fetches every scope). */
  #refetchLater(entry: FetchEntry): void {
    const token = this.#token;
    const delay = Math.min(this.#maxDelay, this.#minDelay * 2 ** entry.refetches++);
    const timer = setTimeout(() => {
      this.#refetchTimers.delete(timer);
      if (!this.#closed && this.#token === token) this.#sendFetch(entry);
    }, delay);
    this.#refetchTimers.add(timer);
  }

  // ---- connection -----------------------------------------------------------------------------

  #open(): void {
    if (this.#closed) return;
    const token = this.#token;
    let ws: WebSocketLike;
    try {
      if (!token) ws = new this.#WS(this.url);
      else if (this.#tokenInHeader)
        ws = new this.#WS(this.url, undefined, { headers: { 'X-Jetstream-SessionToken': token } });
      else ws = new this.#WS(withQuery(this.url, 'x-jetstream-sessiontoken', token));
    } catch (err) {
      this.emit('error', err as Error);
      this.#scheduleReconnect();
      return;
    }
    this.#ws = ws;
    this.#live = false;
    ws.onopen = () => {
      if (ws !== this.#ws) return;
      if (this.#token) ws.send(encodePing(this.#ack(), true));
      else
        ws.send(
          encodeSessionCreate(this.#version, this.#params, this.#askPresence ? { presence: 1 } : undefined),
        );
    };
    ws.onmessage = (ev) => {
      if (ws === this.#ws) this.#receive(ev.data);
    };
    ws.onclose = (ev) => {
      if (ws === this.#ws) this.#onClose(ev.code);
    };
    ws.onerror = () => {};
  }

  #onClose(code: number): void {
    this.#ws = null;
    this.#live = false;
    this.#stopPing();
    if (this.#closed) return;
    if (FATAL.has(code) && this.#token) this.#restartSession();
    this.#setStatus({ state: 'reconnecting', connected: false });
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer) return;
    const base = Math.min(this.#maxDelay, this.#minDelay * 2 ** this.#attempt);
    this.#attempt++;
    const delay = base / 2 + Math.random() * (base / 2);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#open();
    }, delay);
  }

  /** The server forgot the session: start a new one and fetch every scope again. */
  #restartSession(): void {
    this.#token = null;
    this.#nextIndex = 1;
    this.#unacked = [];
    this.#lastServer = -1;
    this.#replies.clear();
    this.#byIndex.clear();
    for (const f of this.#fetches) if (!f.failed) f.scope._suspend();
    for (const f of this.#fetches) f.scope.presence._forgetOthers();
    this.#attempt = 0;
    this.#keeper?.sessionLost();
    this.#keeper?.changed();
  }

  /** The socket lost a message (index gap): reconnect; the server resends what we missed. */
  #reconnectNow(): void {
    const ws = this.#ws;
    this.#ws = null;
    this.#live = false;
    this.#stopPing();
    ws?.close(CLOSE_GAP, 'Message gap');
    this.#setStatus({ state: 'reconnecting', connected: false });
    this.#open();
  }

  // ---- receiving ------------------------------------------------------------------------------

  #receive(data: unknown): void {
    const frame = decodeServerFrame(data as string);
    if (!frame.ok) {
      this.emit('error', new JetstreamClientError(frame.error, ErrorCode.CLIENT_PROTOCOL));
      return;
    }
    // Whatever else the frame holds (acks, replies, states) changes the record: save it, soon.
    // Presence is not in the record: a frame of presence alone (up to 20 a second) saves nothing.
    if (this.#keeper && frame.messages.some((m) => m.type !== 'Presence')) this.#keeper.changed(false);
    // A message the decoder dropped still used an index: tolerate the gap it leaves.
    const tolerateGap = frame.dropped.length > 0;
    for (const msg of frame.messages) {
      if (this.#ws === null) return;
      if (msg.type === 'Ping') {
        this.#onPing(msg.ack, msg.resendMissing);
        continue;
      }
      if (msg.type === 'Presence') {
        // Index 0, outside the indexed stream: no dedupe, no gap (docs/protocol.md §17).
        const entry = this.#byIndex.get(msg.scopeIndex);
        if (entry?.fetched) entry.scope.presence._receive(msg);
        continue;
      }
      if (msg.index <= this.#lastServer) continue;
      if (msg.index > this.#lastServer + 1 && !tolerateGap) {
        this.#reconnectNow();
        return;
      }
      this.#lastServer = msg.index;
      this.#dispatch(msg);
    }
  }

  #onPing(ack: number, resendMissing: boolean): void {
    let n = 0;
    while (n < this.#unacked.length && this.#unacked[n]!.index <= ack) n++;
    if (n) this.#unacked.splice(0, n);
    if (resendMissing) this.#goLive();
  }

  #goLive(): void {
    this.#live = true;
    this.#attempt = 0;
    this.#written = 0;
    this.#writeReady();
    // The server forgot our presence with the socket: every fetched scope sends it again.
    for (const f of this.#fetches) if (f.fetched && !f.failed) f.scope.presence._resend();
    this.#armPing();
    this.#setStatus({ state: 'connected', connected: true });
  }

  #dispatch(msg: ServerMessage): void {
    switch (msg.type) {
      case 'SessionCreateReply': {
        if (msg.error || !msg.sessionToken) {
          const err = new JetstreamClientError(
            msg.error ?? { message: 'Session denied' },
            ErrorCode.CLIENT_SESSION_DENIED,
          );
          this.emit('error', err);
          if (!this.#isReady) this.#readyReject(err);
          this.close();
          return;
        }
        this.#token = msg.sessionToken;
        this.#presence = presenceGrant(msg);
        if (this.#presence === null) for (const f of this.#fetches) f.scope.presence._forgetOthers();
        const restarted = this.#status.sessions > 0 || this.#fromRecord;
        this.#setStatus({ sessions: this.#status.sessions + 1 });
        if (restarted) {
          // Fetch every scope again, in the order they were first fetched; nothing else is queued
          // (scopes hold their changesets until they are fetched again).
          this.#unacked = [];
          this.#replies.clear();
          this.#nextIndex = 1;
          for (const f of this.#fetches) if (!f.failed) this.#sendFetch(f);
          this.emit('sessionRestarted');
        }
        this.#goLive();
        if (!this.#isReady) {
          this.#isReady = true;
          this.#readyResolve();
        }
        return;
      }
      case 'ScopeFetchReply':
      case 'ScopeSyncReply': {
        const handler = this.#replies.get(msg.replyTo);
        if (!handler) {
          // After a reload: it may answer a stored changeset of a scope not fetched again yet.
          if (msg.type === 'ScopeSyncReply') this.#keeper?.early(msg.replyTo, msg.fragmentReplies);
          return;
        }
        this.#replies.delete(msg.replyTo);
        handler(msg);
        return;
      }
      case 'ScopeState': {
        const entry = this.#byIndex.get(msg.scopeIndex);
        if (!entry) return;
        // The server's models against ours (schema-check.ts): a first state that does not fit
        // rejects the fetch; a later one is applied as far as it fits, and reported.
        const mismatch = checkState(entry.name, entry.scope.rootClass, msg.rootUUID, msg.fragments);
        if (!entry.fetched && mismatch) {
          this.#rejectFetch(entry, msg.scopeIndex, mismatch);
          return;
        }
        if (mismatch) this.emit('error', mismatch);
        if (!entry.fetched) {
          entry.scope._applyState(msg.rootUUID, msg.fragments);
          entry.fetched = true;
          entry.scope._fetched(msg.scopeIndex);
          entry.resolve();
        } else if (entry.scope.scopeIndex === null) {
          entry.scope._recover(msg.scopeIndex, msg.rootUUID, msg.fragments);
        } else {
          entry.scope._applyState(msg.rootUUID, msg.fragments);
        }
        // A (new) fetch of the scope: the server holds none of our presence there yet.
        entry.scope.presence._resend();
        return;
      }
      case 'ScopeSync': {
        const entry = this.#byIndex.get(msg.scopeIndex);
        if (!entry?.fetched) return;
        const scope = entry.scope;
        const mismatch = checkSync(entry.name, scope.rootClass, msg.fragments, (uuid) => scope.get(uuid));
        scope._applySync(msg.fragments);
        if (mismatch) this.emit('error', mismatch);
        return;
      }
    }
  }

  /** The state that answers a fetch does not fit the client's models: the fetch fails for good. */
  #rejectFetch(entry: FetchEntry, scopeIndex: number, error: SchemaMismatchError): void {
    entry.failed = true;
    this.#byIndex.delete(scopeIndex);
    entry.scope._failAll(error.toWire());
    entry.scope.presence._close();
    entry.reject(error);
  }

  // ---- offline persistence (docs/client.md, "Offline edits") ---------------------------------

  /** Claims the key, loads the record, resumes from it, and only then opens the socket. */
  #startOffline(options: OfflineOptions): void {
    const keeper = new OfflineKeeper(options, this.url, {
      snapshot: () => this.#snapshot(),
      saved: () => this.#writeReady(),
      failed: (what, cause) => this.emit('error', offlineError(what, cause)),
    });
    this.#keeper = keeper;
    this.#loading = keeper
      .start()
      .then(
        (record) => {
          if (record && !this.#closed) this.#restore(record);
        },
        (err) => {
          // Unreadable: go on without persistence rather than overwrite what may hold edits.
          this.#keeper = null;
          if (!this.#closed) this.emit('error', offlineError('load', err));
        },
      )
      .then(() => {
        this.#loading = null;
        this.#open();
      });
  }

  #restore(record: OfflineRecord): void {
    const s = record.session;
    this.#token = s.token;
    this.#nextIndex = s.nextIndex;
    this.#lastServer = s.lastServer;
    this.#unacked = s.unacked.slice();
    this.#fromRecord = s.token !== null;
    // A resumed session keeps what the server granted it when it was created.
    if (s.token !== null)
      this.#presence = presenceGrant({ type: 'SessionCreateReply', index: 0, extensions: s.extensions });
    // What the record holds can be shown at once, offline too: no need to wait for a session.
    if ((s.token !== null || record.scopes.length > 0) && !this.#isReady) {
      this.#isReady = true;
      this.#readyResolve();
    }
  }

  /** A fetch of a scope the record holds: show it, and route the replies it still waits for. */
  #restoreScope(entry: FetchEntry): void {
    const stored = this.#keeper?.take(entry.name, entry.params);
    if (!stored) return;
    const handlers = entry.scope._offlineRestore(stored.scope);
    entry.fetched = entry.scope.root !== null;
    for (const [index, handler] of handlers) {
      if (stored.early.has(index)) handler(stored.early.get(index)!);
      else
        this.#replies.set(index, (msg) => {
          this.#setStatus({ lastAcknowledgedAt: Date.now() });
          handler(msg.type === 'ScopeSyncReply' ? msg.fragmentReplies : null);
        });
    }
  }

  /** The record as of now: the session, and what each scope keeps (offline-store.ts). */
  #snapshot(): OfflineRecord {
    const keeper = this.#keeper!;
    const scopes: OfflineScope[] = [];
    for (const f of this.#fetches) {
      if (f.failed) continue;
      const kept = f.scope._offlineExport(keeper.keepState);
      if (kept) scopes.push({ name: f.name, params: f.params, ...kept });
    }
    scopes.push(...keeper.untaken());
    return {
      version: 1,
      session: {
        token: this.#token,
        nextIndex: this.#nextIndex,
        lastServer: this.#lastServer,
        unacked: this.#unacked.map((m) => ({ index: m.index, text: m.text })),
        ...(this.#presence ? { extensions: { presence: this.#presence } } : {}),
      },
      scopes,
    };
  }

  // ---- timers and status ----------------------------------------------------------------------

  #armPing(): void {
    this.#stopPing();
    const delay = this.#pingInterval * (0.9 + Math.random() * 0.2);
    this.#pingTimer = setTimeout(() => {
      this.#pingTimer = null;
      if (this.#live) this.#write(encodePing(this.#ack(), false));
      if (this.#live) this.#armPing();
    }, delay);
  }

  #stopPing(): void {
    if (this.#pingTimer) clearTimeout(this.#pingTimer);
    this.#pingTimer = null;
  }

  #clearTimers(): void {
    this.#stopPing();
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    for (const t of this.#refetchTimers) clearTimeout(t);
    this.#refetchTimers.clear();
  }

  #setStatus(patch: Partial<SyncStatus>): void {
    const next = { ...this.#status, ...patch };
    const s = this.#status;
    if (
      next.state === s.state &&
      next.connected === s.connected &&
      next.pendingChangesets === s.pendingChangesets &&
      next.lastAcknowledgedAt === s.lastAcknowledgedAt &&
      next.sessions === s.sessions
    ) {
      return;
    }
    this.#status = next;
    this.emit('status', { ...next });
  }
}

/**
 * Opens a session: resolves with the client once the server accepted it. Rejects when the server
 * denies it, and with a `connect-timeout` error (closing the client) when no session opened
 * within `connectTimeout` ms (default 10 000; see connect-timeout.ts).
 */
export async function connect(url: string, options: ConnectOptions = {}): Promise<Client> {
  const limit = connectLimit(options.connectTimeout);
  const client = new Client(url, options);
  if (limit === null) {
    await client.ready;
    return client;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new JetstreamClientError(
            {
              message: connectTimeoutMessage(url, limit, client.status.state),
              type: ErrorType.connectTimeout,
            },
            ErrorCode.CLIENT_CONNECT_TIMEOUT,
          ),
        ),
      limit,
    );
  });
  try {
    await Promise.race([client.ready, expired]);
  } catch (err) {
    client.close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return client;
}

/** The presence extension as the server granted it, if it did (docs/protocol.md §17). */
function presenceGrant(reply: SessionCreateReply): PresenceGrant | null {
  const g = reply.extensions?.presence as Partial<PresenceGrant> | undefined;
  if (typeof g !== 'object' || g === null) return null;
  const { version, maxStateBytes, rate } = g;
  if (typeof version !== 'number' || version < 1) return null;
  if (typeof maxStateBytes !== 'number' || !(maxStateBytes > 0)) return null;
  if (typeof rate !== 'number' || !(rate > 0)) return null;
  return { version, maxStateBytes, rate };
}

function offlineError(what: 'load' | 'save', cause: unknown): JetstreamClientError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  const err = new JetstreamClientError(
    { message: `Offline store: could not ${what} the record: ${detail}` },
    ErrorCode.CLIENT_OFFLINE_STORE,
  );
  err.cause = cause;
  return err;
}

function withQuery(url: string, key: string, value: string): string {
  const hash = url.indexOf('#');
  const base = hash >= 0 ? url.slice(0, hash) : url;
  return `${base}${base.includes('?') ? '&' : '?'}${key}=${encodeURIComponent(value)}`;
}
