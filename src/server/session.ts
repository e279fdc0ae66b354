// A session: one client's conversation with the server (docs/protocol.md §3, §4). It outlives
// sockets: a client that reconnects with the token re-attaches and both sides resend what the
// other has not acknowledged.
//
// Outbound: one index counter (SessionCreateReply took 0), every message with index ≠ 0 kept
// until the client's Ping acks it, and everything queued in one event-loop turn sent as one
// frame. Inbound: dedupe by index, garbage counted and answered where the client waits.
//
// Everything a client can make its session spend is bounded (`sessionLimits`, docs/server.md):
// bytes held for it (a client that neither reads nor acknowledges is closed), bytes buffered in
// its socket (above the high-water mark the session stops writing and lets messages wait),
// inbound messages, fragments, fetches and resends per second, and changesets queued. Over a
// limit the session is closed with 4097 and a reason naming the limit; nothing else is touched.
// Fetches also share the server's state budget (`stateBytes`): beyond it, a fetch, and everything
// its session sent after it, wait their turn.
import { ErrorType, OutcomeUnknownError, type WireError } from '../errors.js';
import type { ChangesetRequest } from '../pipeline/pipeline.js';
// Direct module imports on the hot path: a re-exporting index compiles to property getters.
import {
  type DecodedItem,
  decodeFrame,
  encodeFragments,
  encodePing,
  encodeScopeFetchReply,
  encodeScopeState,
  encodeScopeSync,
  encodeScopeSyncReply,
} from '../protocol/codec.js';
import type {
  ClientMessage,
  FragmentReply,
  GrantedExtensions,
  RequestedExtensions,
  ScopeFetch,
  ScopeSync,
} from '../protocol/messages.js';
import { Scope } from '../scope/scope.js';
import type { ChangesetResult, ListWrite } from '../scope/types.js';
import type { Connection, ConnectionHandler, InboundData } from '../transport/types.js';
import { Emitter } from '../util/emitter.js';
import { closeReason } from './close-reason.js';
import type { SessionEvents } from './events.js';
import { callHook, reasonMessage } from './hooks.js';
import type { ScopeHub, Subscriber } from './hub.js';
import type { ServerMetrics } from './metrics.js';
import type { Logger, ResolvedOptions, SessionLimitOptions } from './options.js';
import { type LogChunk, Outbox } from './outbox.js';
import { PresenceHub, type PresenceMember } from './presence.js';
import { mergeCorrections, type Own, SeenCollections } from './seen-collections.js';

/** What a session needs from its server. */
export interface SessionHost {
  readonly options: ResolvedOptions;
  readonly hub: ScopeHub;
  readonly logger: Logger;
  /** Scopes served by name when the application installs no fetch handler. */
  findScope(name: string): Scope | undefined;
  /** Hands a client changeset to the changeset pipeline (pipeline/). */
  submit(scope: Scope, req: ChangesetRequest): ChangesetResult | Promise<ChangesetResult>;
  /**
   * Null when a fetched scope's state may be sent now; else a promise that resolves when it may
   * (a cluster process catching up with the scope's owner): true, or false when it may not be
   * sent at all (the fetch then fails and the client asks again). Never rejects.
   */
  stateReady(scope: Scope): Promise<boolean> | null;
  /**
   * Runs `fn` once every change accepted so far is durable (at once without a store), with the
   * store's error if they could not be stored.
   */
  afterCommit(fn: (err: Error | null) => void): void;
  scheduleFlush(session: Session): void;
  /** The session ended, its socket (if any) closed with `code`. */
  sessionEnded(session: Session, code: number): void;
  /** The server's metrics, when on (docs/operations.md). */
  readonly metrics: ServerMetrics | null;
  /** A session from `address` was closed for going over a limit (see `limitCooldown`). */
  overLimit(address: string | undefined): void;
}

const CLOSE_DENIED = 4096;
const CLOSE_SESSION_CLOSED = 4097;

/** Sessions created by this process, for their ids. */
let sessionCount = 0;

export class Session extends Emitter<SessionEvents> implements Subscriber, ConnectionHandler {
  /** The secret the client presents to resume. Never sent again after SessionCreateReply. */
  readonly token: string;
  /**
   * A short name of the session for logs and the inspector (docs/operations.md, "Logs"): unique
   * in this process, and unlike the token, no secret.
   */
  readonly id: string;
  /** When the session was created (ms since the epoch, the server's clock). */
  readonly createdAt: number;
  /** When its client last acknowledged messages (a Ping with `ack`), or null: never. */
  lastAckAt: number | null = null;
  /** The SessionCreate `params`, for authentication. */
  readonly params: Record<string, unknown>;
  /** The SessionCreate `version`. */
  readonly version: string;
  /**
   * The protocol extensions granted to this session (docs/protocol.md §17), as its
   * SessionCreateReply tells them; undefined when it asked for none this server grants.
   */
  readonly extensions: GrantedExtensions | undefined;
  /** Scopes this session fetched; the position is the `scopeIndex`. */
  readonly scopes: Scope[] = [];
  /** Free for the application (user id, roles…). */
  data: Record<string, unknown> = {};
  expired = false;
  connection: Connection | null = null;

  #host: SessionHost;
  #outbox = new Outbox(this);
  /** A keep-alive Ping to put in front of the next frame. */
  #ping: string | null = null;
  /** The client asked for a resend: the next frame is Ping + every unacknowledged message. */
  #resendRequested = false;
  #flushQueued = false;
  /** After a resume, nothing goes out before the client's first message (§4). */
  #hold = false;
  #lastClientIndex = 0;
  #invalid = 0;
  #lastActivity: number;
  /** When the next keep-alive Ping is due; 0 while no socket is attached (see _tick). */
  #nextPingAt = 0;
  /** The socket was above its high-water mark at the last flush: writing waits for it to drain. */
  #blocked = false;
  /** Changesets handed to the pipeline and not answered yet. */
  #queued = 0;
  /** While the socket is paused for going over a rate: the timer that resumes reading. */
  #throttled: ReturnType<typeof setTimeout> | null = null;
  /** Scopes this session may read but not change (a 'fetch' answered with a read-only grant). */
  #readOnly: Set<Scope> | null = null;
  #rates: SessionRates;
  /** What this session's messages cost in the current event-loop turn (see TURN_SHARE). */
  #turnUsed = 0;
  #turnScheduled = false;
  /** Frames read beyond the turn's share, processed in the next turns, in order. */
  #backlog: InboundData[] = [];
  /** The socket is paused (by the backlog, a throttle or a fetch waiting for the state budget). */
  #paused = false;
  /**
   * Fetches of this session waiting for the server's state budget (`stateBytes`): while there is
   * one, the session's later messages wait behind it (the rest of its frame in #rest, later
   * frames in the backlog, the socket paused), so that they are answered after it, in order.
   */
  #statesWaiting = 0;
  #rest: DecodedItem[] | null = null;
  /** What the client saw of each scope: the bases its collection changes merge against (§7.10). */
  readonly #seen = new SeenCollections();
  /** Presence (docs/protocol.md §17): only for a session that negotiated it, else null. */
  #presence: PresenceMember | null = null;

  constructor(
    host: SessionHost,
    token: string,
    params: Record<string, unknown>,
    version: string,
    extensions?: RequestedExtensions,
  ) {
    super();
    this.#host = host;
    this.#lastActivity = host.options.clock.now();
    this.#rates = new SessionRates(host.options, this.#lastActivity);
    this.token = token;
    this.id = `s${(++sessionCount).toString(36)}`;
    this.createdAt = this.#lastActivity;
    this.params = params;
    this.version = version;
    const presence = host.options.presence;
    if (presence !== null && extensions?.presence !== undefined) {
      host.hub.presence ??= new PresenceHub(presence);
      this.#presence = host.hub.presence.member(this.id, () => this.#wake());
      this.extensions = { presence: host.hub.presence.grant };
    }
  }

  /** Messages sent and not yet acknowledged (for tests and metrics). */
  get unacknowledged(): number {
    return this.#outbox.size;
  }

  /** What the messages held for the client weigh (see `sessionLimits.maxPendingBytes`). */
  get pendingBytes(): number {
    return this.#outbox.bytes;
  }

  // ---- sockets --------------------------------------------------------------------------------

  /** @internal Attaches a socket; the previous one, if any, is closed and forgotten (§4.4). */
  _attach(conn: Connection, resumed: boolean): void {
    if (this.expired) return;
    const previous = this.connection;
    if (previous && previous !== conn) {
      previous.setHandler(null);
      previous.close(1000, 'Replaced by a new connection');
    }
    this.connection = conn;
    this.#paused = false; // a new socket starts reading; the backlog pauses it if need be
    conn.setHandler(this);
    // Messages already written to the old socket go out again only if the client asks
    // (resendMissing); messages never written anywhere (queued while detached) follow the
    // client's first message, as the original did with its queue.
    this.#ping = null;
    this.#resendRequested = false;
    this.#hold = resumed;
    this.#schedulePing(this.#host.options.clock.now());
    this.#presence?.attached();
  }

  /** @internal ConnectionHandler: a frame from the attached socket. */
  onMessage(conn: Connection, data: InboundData): void {
    if (conn === this.connection) this._receive(data);
  }

  /** @internal ConnectionHandler: the socket closed; the session lives on until it expires. */
  onClose(conn: Connection): void {
    if (conn !== this.connection) return;
    conn.setHandler(null);
    this.connection = null;
    this.#nextPingAt = 0;
    this.#presence?.detached();
  }

  /** Ends the session: closes the socket with 4097 and forgets the token. */
  close(
    code = CLOSE_SESSION_CLOSED,
    reason: WireError = { message: 'Session closed', type: ErrorType.sessionExpired },
  ): void {
    if (this.expired) return;
    this.expired = true;
    this.#nextPingAt = 0;
    for (const scope of this.scopes) this.#host.hub.unsubscribe(scope, this);
    this.#presence?.leaveAll();
    const conn = this.connection;
    conn?.setHandler(null);
    this.connection = null;
    this.#outbox.clear();
    this.#ping = null;
    if (conn) conn.close(code, closeReason(reason));
    this.#host.sessionEnded(this, code);
    try {
      this.emit('expire');
    } catch (err) {
      this.#host.logger.error({ err }, 'session expire listener threw');
    }
  }

  // ---- inbound ---------------------------------------------------------------------------------

  /**
   * @internal One inbound frame. A session gets a share of each event-loop turn (TURN_SHARE);
   * frames read beyond it wait, with the socket paused, for the next turn, so one client's
   * burst never delays every other session's messages by more than a share (docs/server.md,
   * "Limits").
   */
  _receive(data: InboundData): void {
    if (this.expired) return;
    if (this.#statesWaiting > 0 || this.#backlog.length > 0 || this.#turnUsed >= TURN_SHARE) {
      const conn = this.connection;
      // A transport that cannot pause would grow the backlog without bound: process at once.
      if (conn?.pauseReading && conn.resumeReading) {
        conn.pauseReading();
        this.#paused = true;
        this.#backlog.push(data);
        this.#scheduleTurn();
        return;
      }
    }
    this.#process(data);
  }

  #process(data: InboundData): void {
    this.#lastActivity = this.#host.options.clock.now();
    if (this.#hold) {
      this.#hold = false;
      this.#wake();
    }
    const result = decodeFrame(data, this.#host.options.limits, { handshake: false });
    if (!result.ok) {
      this.#garbage(result.error);
      return;
    }
    const items = result.items;
    this.#turnUsed += turnCost(items);
    this.#scheduleTurn();
    const now = this.#host.options.clock.now();
    const wait = this.#rates.messages(items.length, now);
    if (wait > 0 && !this.#throttle(wait)) {
      this.#overLimit('Too many messages');
      return;
    }
    // A frame holding several messages is processed in index order (docs/protocol.md §2).
    if (items.length > 1) items.sort(byIndex);
    this.#dispatchFrom(items, 0, now);
  }

  /** Dispatches `items` from `from` on; what follows a fetch that has to wait is kept in #rest. */
  #dispatchFrom(items: DecodedItem[], from: number, now: number): void {
    for (let i = from; i < items.length && !this.expired; i++) {
      this.#dispatch(items[i]!, now);
      if (this.#statesWaiting > 0) {
        if (i + 1 < items.length) this.#rest = items.slice(i + 1);
        return;
      }
    }
  }

  #dispatch(item: DecodedItem, now: number): void {
    if (item.kind === 'invalid') {
      this.#garbage(item.error);
      return;
    }
    if (item.kind === 'answerable') {
      if (this.#fresh(item.index) !== FRESH) return;
      if (item.type === 'ScopeFetch') {
        this.#enqueue((i) => encodeScopeFetchReply(i, item.index, item.error));
      } else {
        const replies: FragmentReply[] = new Array(item.fragmentCount).fill({ error: item.error });
        this.#enqueue((i) => encodeScopeSyncReply(i, item.index, replies));
      }
      this.#garbage(item.error);
      return;
    }
    const msg: ClientMessage = item.message;
    this.#host.metrics?.messageIn(msg.type);
    if (msg.type === 'Ping') {
      this.#outbox.acknowledge(msg.ack);
      this.#seen.acknowledged(msg.ack);
      this.lastAckAt = now;
      if (msg.resendMissing) {
        if (!this.#rates.resend(now)) {
          this.#overLimit('Too many resend requests');
          return;
        }
        this.#resend();
      }
      return;
    }
    if (msg.type === 'Presence') {
      // Index 0, outside the indexed stream; refused input is counted like any garbage (§17).
      const refused =
        this.#presence === null
          ? 'Presence was not negotiated for this session'
          : this.#presence.set(this.scopes[msg.scopeIndex], msg.state);
      if (refused !== null) this.#garbage({ message: refused, type: ErrorType.invalidMessage });
      return;
    }
    if (msg.type !== 'ScopeSync' && msg.type !== 'ScopeFetch') {
      this.#fresh(msg.index);
      return; // SessionCreate after the handshake, Reply, server types: ignored (§14).
    }
    const fresh = this.#fresh(msg.index);
    if (fresh === SEEN) return;
    if (fresh === TOO_FAR) {
      const e: WireError = {
        message: `Message index ${msg.index} is too far above the last one (${this.#lastClientIndex})`,
        type: ErrorType.invalidMessage,
      };
      if (msg.type === 'ScopeFetch') this.#enqueue((i) => encodeScopeFetchReply(i, msg.index, e));
      else this.#enqueue((i) => encodeScopeSyncReply(i, msg.index, [{ error: e }]));
      this.#garbage(e);
      return;
    }
    if (msg.type === 'ScopeSync') {
      const wait = this.#rates.fragments(msg.fragments.length, now);
      if (wait > 0 && !this.#throttle(wait)) {
        this.#overLimit('Too many fragments');
        return;
      }
      this.#sync(msg);
    } else {
      if (!this.#rates.fetch(now)) {
        this.#overLimit('Too many fetches');
        return;
      }
      // Without fetch listeners the answer is known now, and the reply is queued in this turn,
      // before any later message of the same frame is processed (docs/protocol.md §2).
      if (this.listenerCount('fetch') === 0) {
        const scope = this.#host.findScope(msg.name);
        this.#fetched(msg, scope ? { scope } : { error: `No such scope '${msg.name}'` });
      } else {
        // Never an unhandled rejection: an unexpected failure fails this fetch only.
        this.#askFetchListeners(msg)
          .then((found) => this.#fetched(msg, found))
          .catch((err: unknown) => {
            this.#host.logger.error({ err }, 'fetch failed');
            const e: WireError = { message: 'Fetch failed', type: ErrorType.rejected };
            this.#enqueue((i) => encodeScopeFetchReply(i, msg.index, e));
          });
      }
    }
  }

  #scheduleTurn(): void {
    if (this.#turnScheduled) return;
    this.#turnScheduled = true;
    setImmediate(() => this.#nextTurn());
  }

  /** A new turn: a new share, spent on the backlog first; reading resumes once it is empty. */
  #nextTurn(): void {
    this.#turnScheduled = false;
    this.#turnUsed = 0;
    while (
      this.#backlog.length > 0 &&
      this.#turnUsed < TURN_SHARE &&
      !this.expired &&
      this.#statesWaiting === 0
    ) {
      this.#process(this.#backlog.shift()!);
    }
    if (this.expired) this.#backlog.length = 0;
    else if (this.#statesWaiting > 0)
      return; // #stateSent takes over
    else if (this.#backlog.length > 0) this.#scheduleTurn();
    else this.#resumeReading();
  }

  /** Reads the socket again, unless a backlog, a throttle or a waiting fetch still holds it paused. */
  #resumeReading(): void {
    if (!this.#paused || this.#backlog.length > 0 || this.#throttled !== null || this.#statesWaiting > 0)
      return;
    this.#paused = false;
    this.connection?.resumeReading?.();
  }

  /**
   * Index rule of §3.1: 0 always passes; at or below the highest seen is a resend, dropped. A
   * jump of more than `maxIndexStep` is refused and not recorded: recorded, an index near 2^53
   * would make every later message of the session look like a resend.
   */
  #fresh(index: number): IndexVerdict {
    if (index === 0) return FRESH;
    if (index <= this.#lastClientIndex) return SEEN;
    if (index - this.#lastClientIndex > this.#host.options.sessionLimits.maxIndexStep) return TOO_FAR;
    this.#lastClientIndex = index;
    return FRESH;
  }

  /**
   * A client over its message or fragment rate by `waitMs` worth: what it sent is processed, and
   * its socket is not read again until its budget has refilled (its writes wait in TCP), so an
   * honest burst is slowed, not refused. False when the session cannot be throttled (a transport
   * that cannot pause, or a debt beyond MAX_THROTTLE_MS): it is then closed instead.
   */
  #throttle(waitMs: number): boolean {
    const conn = this.connection;
    if (!conn?.pauseReading || !conn.resumeReading || waitMs > MAX_THROTTLE_MS) return false;
    conn.pauseReading();
    this.#paused = true;
    // Frames already read still arrive after the pause and deepen the debt: one timer, moved
    // to the latest deadline, so that an earlier, shorter wait cannot resume reading too soon.
    if (this.#throttled) clearTimeout(this.#throttled);
    this.#throttled = setTimeout(() => {
      this.#throttled = null;
      if (this.connection === conn && !this.expired) this.#resumeReading();
    }, waitMs);
    this.#throttled.unref?.();
    return true;
  }

  /** Ends the session for going over one of its limits (docs/server.md, "Limits"). */
  #overLimit(message: string, type: string = ErrorType.rateLimited): void {
    this.#host.logger.info({ session: this.id, limit: message }, 'session over a limit');
    const address = this.connection?.remoteAddress;
    this.close(CLOSE_SESSION_CLOSED, { message, type });
    this.#host.overLimit(address);
  }

  #garbage(error: WireError): void {
    this.#host.logger.debug({ error }, 'invalid inbound message');
    if (++this.#invalid >= this.#host.options.maxInvalidMessages) {
      this.close(CLOSE_DENIED, {
        message: 'Too many invalid messages',
        type: ErrorType.tooManyInvalidMessages,
      });
    }
  }

  #resend(): void {
    this.#resendRequested = true;
    this.#wake();
  }

  // ---- fetch -----------------------------------------------------------------------------------

  /** Answers a fetch once its scope is known (or refused). */
  #fetched(msg: ScopeFetch, found: { scope: Scope; readOnly?: boolean } | { error: string }): void {
    if (this.expired) return;
    if ('error' in found || !found.scope.root) {
      const message = 'error' in found ? found.error : `Scope '${found.scope.name}' has no root`;
      const e: WireError = { message, type: ErrorType.rejected };
      this.#enqueue((i) => encodeScopeFetchReply(i, msg.index, e));
      return;
    }
    const scope = found.scope;
    const readOnly = found.readOnly === true;
    const conn = this.connection;
    // In a cluster, a process that does not own the scope first makes sure its copy holds every
    // change acknowledged anywhere (docs/cluster.md, "Reading your acknowledged writes"); the
    // session's later messages wait behind the fetch meanwhile, as they do for the state budget.
    const ready = this.#host.stateReady(scope);
    if (ready !== null && conn?.pauseReading && conn.resumeReading) {
      this.#holdForState(conn);
      void ready.then((ok) => {
        this.#statesWaiting--;
        if (ok && !this.expired) this.#answerFetch(msg, scope, readOnly);
        else if (!this.expired) {
          const e: WireError = {
            message: `Scope '${scope.name}' is moving to another process: fetch it again`,
            type: ErrorType.storeFailed,
          };
          this.#enqueue((i) => encodeScopeFetchReply(i, msg.index, e));
        }
        if (this.#statesWaiting === 0) this.#stateSent();
      });
      return;
    }
    this.#answerFetch(msg, scope, readOnly);
  }

  /** Sends the state of a fetched scope now, or once the state budget allows. */
  #answerFetch(msg: ScopeFetch, scope: Scope, readOnly: boolean): void {
    const conn = this.connection;
    // Only a socket that can be paused lets its later messages wait behind the fetch: for any
    // other, the state goes out at once, as without a budget.
    if (!conn?.pauseReading || !conn.resumeReading) {
      this.#sendState(msg, scope, readOnly);
      return;
    }
    let queued = false;
    const send = (): number => {
      try {
        return this.#sendState(msg, scope, readOnly);
      } finally {
        if (queued) {
          queued = false;
          if (--this.#statesWaiting === 0) this.#stateSent();
        }
      }
    };
    if (!this.#host.options.stateBudget.request(send)) {
      queued = true;
      this.#holdForState(conn);
    }
  }

  /** A fetch waits: the session's later messages wait behind it, its socket unread (#stateSent ends it). */
  #holdForState(conn: Connection): void {
    this.#statesWaiting++;
    conn.pauseReading?.();
    this.#paused = true;
  }

  /** The fetches that waited were answered: the messages that waited behind them go on, in order. */
  #stateSent(): void {
    if (this.expired) {
      this.#rest = null;
      this.#backlog.length = 0;
      return;
    }
    const rest = this.#rest;
    this.#rest = null;
    if (rest !== null) this.#dispatchFrom(rest, 0, this.#host.options.clock.now());
    if (this.#statesWaiting === 0) this.#scheduleTurn(); // the backlog, then reading again
  }

  /**
   * Subscribes the session to a fetched scope and queues the reply and the state; the bytes of
   * the state (0 when nothing was sent).
   */
  #sendState(msg: ScopeFetch, scope: Scope, readOnly: boolean): number {
    if (this.expired) return 0;
    if (readOnly) (this.#readOnly ??= new Set()).add(scope);
    else this.#readOnly?.delete(scope);
    let scopeIndex = this.scopes.indexOf(scope);
    if (scopeIndex < 0) {
      scopeIndex = this.scopes.push(scope) - 1;
      this.#host.hub.subscribe(scope, this, scopeIndex);
    }
    let state: { rootUUID: string; json: string };
    try {
      state = this.#host.hub.state(scope);
    } catch (err) {
      this.#host.logger.error({ err, scope: scope.name }, 'could not encode scope state');
      const e: WireError = { message: `Scope '${scope.name}' could not be read`, type: ErrorType.rejected };
      this.#enqueue((i) => encodeScopeFetchReply(i, msg.index, e));
      return 0;
    }
    const version = scope.version; // what the state shows (hub.state flushed pending edits)
    this.#host.logger.debug({ session: this.id, scope: scope.name, bytes: state.json.length }, 'fetch');
    // Reply and state in one frame: both are queued in this turn. The state reflects every
    // change already broadcast, and later changes follow it in index order.
    this.#host.afterCommit((err) => {
      if (err) {
        const e: WireError = {
          message: `Scope '${scope.name}' could not be stored: ${err.message}`,
          type: ErrorType.storeFailed,
        };
        this.#enqueue((i) => encodeScopeFetchReply(i, msg.index, e));
        return;
      }
      this.#enqueue((i) => encodeScopeFetchReply(i, msg.index, scopeIndex));
      const at = this.#enqueue((i) => encodeScopeState(i, scopeIndex, state.rootUUID, state.json));
      if (at >= 0) this.#seen.stateSent(scopeIndex, scope, at, version);
      // The others' presence follows the reply, in its frame or a later one (§17).
      this.#presence?.join(scope, scopeIndex);
    });
    return state.json.length;
  }

  /**
   * Maps the fetched name to a Scope through the 'fetch' listeners, in turn, in registration
   * order (like 'session' hooks). A listener that answers with an error denies the fetch; the
   * first to answer with a scope decides, and the later ones are not called; one that answers
   * with nothing hands over to the next.
   */
  async #askFetchListeners(
    msg: ScopeFetch,
  ): Promise<{ scope: Scope; readOnly?: boolean } | { error: string }> {
    for (const listener of this.listeners('fetch')) {
      const answer = await callHook<unknown>(
        (cb) => listener(msg.name, msg.params, cb),
        this.#host.options.hookTimeout,
      );
      if (!answer.ok) {
        this.#host.logger.info({ err: answer.error, scope: msg.name }, 'fetch denied');
        return { error: reasonMessage(answer.error, 'Fetch denied') };
      }
      if (this.expired) return { error: 'Session closed' };
      const value = answer.value;
      if (value === undefined || value === null) continue;
      if (value instanceof Scope) return { scope: value };
      const grant = value as { scope?: unknown; readOnly?: unknown };
      if (typeof grant === 'object' && grant.scope instanceof Scope)
        return { scope: grant.scope, readOnly: grant.readOnly === true };
      return { error: 'Server tried to accept with non-scope' };
    }
    return { error: `No such scope '${msg.name}'` };
  }

  // ---- sync ------------------------------------------------------------------------------------

  #sync(msg: ScopeSync): void {
    const scope = this.scopes[msg.scopeIndex];
    const n = msg.fragments.length;
    if (!scope) {
      const e: FragmentReply = {
        error: {
          message: `Scope at index ${msg.scopeIndex} was not found`,
          type: ErrorType.scopeIndexNotFound,
        },
      };
      this.#enqueue((i) => encodeScopeSyncReply(i, msg.index, new Array(n).fill(e)));
      return;
    }
    if (n === 0) {
      this.#enqueue((i) => encodeScopeSyncReply(i, msg.index, []));
      return;
    }
    const req: ChangesetRequest = {
      fragments: msg.fragments,
      atomic: msg.atomic,
      procedure: msg.procedure,
      origin: this,
    };
    if (this.#readOnly?.has(scope)) {
      const e: FragmentReply = {
        error: { message: `Scope '${scope.name}' is read-only for this session`, type: ErrorType.rejected },
      };
      this.#enqueue((i) => encodeScopeSyncReply(i, msg.index, new Array(n).fill(e)));
      return;
    }
    if (this.#queued >= this.#host.options.sessionLimits.maxQueuedChangesets) {
      this.#overLimit('Too many changesets waiting');
      return;
    }
    if (this.listenerCount('sync') > 0) req.authorize = (s) => this.#authorize(s, msg);
    // Collections the changeset sets are merged against what the client last saw (§7.10).
    req.listBase = this.#seen.baseFor(msg.scopeIndex, scope);
    let result: ChangesetResult | Promise<ChangesetResult>;
    try {
      result = this.#host.submit(scope, req);
    } catch (err) {
      this.#syncFailed(msg.index, n, scope, err);
      return;
    }
    // The pipeline never rejects, but a rejection here would be unhandled and end a Node 20
    // process: whatever happens, it fails this changeset only, like a synchronous throw.
    if (result instanceof Promise) {
      this.#queued++;
      result.then(
        (r) => {
          this.#queued--;
          this.#reply(msg.index, r, scope, msg.scopeIndex);
        },
        (err: unknown) => {
          this.#queued--;
          if (err instanceof OutcomeUnknownError) this.#outcomeUnknown(err);
          else this.#syncFailed(msg.index, n, scope, err);
        },
      );
    } else this.#reply(msg.index, result, scope, msg.scopeIndex);
  }

  /**
   * The application's 'sync' hooks, in turn: each must accept. Asked by the pipeline in the
   * scope's queue, right before the changeset would be applied.
   */
  async #authorize(scope: Scope, msg: ScopeSync): Promise<WireError | null> {
    const info = { fragments: msg.fragments, atomic: msg.atomic === true, procedure: msg.procedure };
    for (const hook of this.listeners('sync')) {
      const answer = await callHook<unknown>((cb) => hook(scope, info, cb), this.#host.options.hookTimeout);
      if (!answer.ok) {
        this.#host.logger.info({ err: answer.error, scope: scope.name }, 'changeset denied');
        return { message: reasonMessage(answer.error, 'Changes denied'), type: ErrorType.rejected };
      }
    }
    return null;
  }

  /**
   * Neither an ack nor an error would be true for a changeset (docs/cluster.md): the session is
   * closed, and the client starts over and re-applies what it has not seen acknowledged.
   */
  #outcomeUnknown(err: OutcomeUnknownError): void {
    this.#host.logger.warn({ err }, 'changeset outcome unknown: session closed');
    this.close(CLOSE_SESSION_CLOSED, err.toWire());
  }

  /** A changeset the applier could not handle at all: every entry fails, nothing internal leaks. */
  #syncFailed(replyTo: number, n: number, scope: Scope, err: unknown): void {
    this.#host.logger.error({ err, scope: scope.name }, 'changeset failed');
    const e: FragmentReply = {
      error: {
        message: 'Could not apply SyncMessage: internal error',
        type: ErrorType.couldNotApplySyncMessage,
      },
    };
    this.#enqueue((i) => encodeScopeSyncReply(i, replyTo, new Array(n).fill(e)));
  }

  #reply(replyTo: number, result: ChangesetResult, scope: Scope, scopeIndex: number): void {
    const results = result.results;
    const replies: FragmentReply[] = new Array(results.length);
    for (let i = 0; i < results.length; i++) {
      const e = results[i];
      replies[i] = e ? { error: e } : ACCEPTED;
    }
    // The version this changeset made, and the lists it set: the client's view once answered.
    const applied = result.applied.length > 0 || result.version !== undefined;
    const version = result.version ?? scope.version;
    const lists = result.lists;
    const owns = lists === undefined ? null : this.#seen.accepted(scopeIndex, scope, lists);
    this.#host.afterCommit((err) => {
      if (err instanceof OutcomeUnknownError) {
        this.#outcomeUnknown(err); // a cluster process lost its scope before storing
        return;
      }
      if (err) {
        // Never an ack for something not stored (§7 step 7).
        const e: FragmentReply = {
          error: {
            message: `Could not apply SyncMessage: the changes could not be stored (${err.message})`,
            type: ErrorType.storeFailed,
          },
        };
        for (let i = 0; i < replies.length; i++) if (replies[i] === ACCEPTED) replies[i] = e;
        this.#seen.failed(owns);
      }
      let accepted = true;
      for (let i = 0; i < replies.length && accepted; i++) accepted = replies[i] === ACCEPTED;
      const at = accepted
        ? this.#enqueueAccepted(replyTo, replies.length)
        : this.#enqueue((i) => encodeScopeSyncReply(i, replyTo, replies));
      if (!err && applied && at >= 0) this.#answered(scope, scopeIndex, lists, owns, at, version);
    });
  }

  /**
   * After the reply to an accepted changeset (message `at`): where the server merged a
   * collection into something else than the client sent, a ScopeSync with the merged value,
   * right after the reply (the SDK keeps its own value until the reply); then the client's view
   * is recorded (docs/protocol.md §7.10).
   */
  #answered(
    scope: Scope,
    scopeIndex: number,
    lists: readonly ListWrite[] | undefined,
    owns: Own[] | null,
    at: number,
    version: number,
  ): void {
    const corrections = lists === undefined ? null : mergeCorrections(lists);
    if (corrections !== null) {
      at = this.#enqueue((i) => encodeScopeSync(i, scopeIndex, encodeFragments(corrections)));
      if (at < 0) return;
    }
    this.#seen.answered(scopeIndex, scope, at, version, owns);
  }

  /** @internal Sends a fresh ScopeState for a scope this session holds (after a restore). */
  _sendState(scope: Scope): void {
    const scopeIndex = this.scopes.indexOf(scope);
    if (scopeIndex < 0 || this.expired) return;
    const state = this.#host.hub.state(scope);
    const at = this.#enqueue((i) => encodeScopeState(i, scopeIndex, state.rootUUID, state.json));
    if (at >= 0) this.#seen.stateSent(scopeIndex, scope, at, scope.version);
  }

  // ---- outbound --------------------------------------------------------------------------------

  /**
   * @internal The hub's fan-out path: no allocation beyond the outbox's array slots. `version`:
   * the scope version of the change (what the client then saw of the scope, §7.10).
   */
  enqueueScopeSync(scopeIndex: number, chunk: LogChunk, pos: number, version?: number): void {
    if (this.expired) return;
    const metrics = this.#host.metrics;
    if (metrics !== null) metrics.scopeSyncsOut++;
    const index = this.#outbox.take();
    this.#outbox.addScopeSync(index, scopeIndex, chunk, pos);
    if (version !== undefined) this.#seen.delivered(scopeIndex, this.scopes[scopeIndex]!, index, version);
    if (this.#outbox.bytes > this.#host.options.sessionLimits.maxPendingBytes) {
      this.#slowConsumer();
      return;
    }
    this.#wake();
  }

  /** Queues a message; its index, or -1 when the session is over. */
  #enqueue(build: (index: number) => string): number {
    if (this.expired) return -1;
    const index = this.#outbox.take();
    const text = build(index);
    this.#outbox.addText(index, text);
    // Every encoder starts with {"type":"<Type>": the type is read from there.
    const metrics = this.#host.metrics;
    if (metrics !== null) metrics.messageOut(text.slice(9, text.indexOf('"', 9)));
    if (this.#outbox.bytes > this.#host.options.sessionLimits.maxPendingBytes) {
      this.#slowConsumer();
      return -1;
    }
    this.#wake();
    return index;
  }

  /**
   * Queues a ScopeSyncReply accepting all `n` fragments of `replyTo`: the outbox keeps it as
   * numbers (a writer holds one per changeset until its client acknowledges).
   */
  #enqueueAccepted(replyTo: number, n: number): number {
    if (this.expired) return -1;
    const metrics = this.#host.metrics;
    if (metrics !== null) metrics.acceptedRepliesOut++;
    const index = this.#outbox.take();
    this.#outbox.addAcceptedReply(index, replyTo, n);
    if (this.#outbox.bytes > this.#host.options.sessionLimits.maxPendingBytes) {
      this.#slowConsumer();
      return -1;
    }
    this.#wake();
    return index;
  }

  /** The client neither reads nor acknowledges what it is sent: the session cannot keep it all. */
  #slowConsumer(): void {
    this.#overLimit('Too many unacknowledged messages: the client is not keeping up', ErrorType.slowConsumer);
  }

  /** Asks the server to flush this session at the end of the turn (once per turn). */
  #wake(): void {
    if (this.#flushQueued || !this.connection || this.#hold) return;
    this.#flushQueued = true;
    this.#host.scheduleFlush(this);
  }

  /** @internal Sends this turn's messages as one frame. */
  _flush(): void {
    this.#flushQueued = false;
    const conn = this.connection;
    if (!conn || this.#hold || this.expired) return;
    // Backpressure: a socket that has not written out what it holds gets nothing more; the
    // messages wait in the outbox (bounded by maxPendingBytes) and the clock retries.
    if ((conn.bufferedAmount ?? 0) > this.#host.options.sessionLimits.socketHighWaterBytes) {
      this.#blocked = true;
      return;
    }
    this.#blocked = false;
    let frame: string | null;
    if (this.#resendRequested) {
      this.#resendRequested = false;
      this.#ping = null;
      frame = this.#outbox.resendFrame(encodePing(this.#lastClientIndex, true));
    } else {
      frame = this.#outbox.takeFrame(this.#ping);
      this.#ping = null;
    }
    // Presence messages end the frame, after its indexed messages (docs/protocol.md §17).
    const presence = this.#presence?.take() ?? null;
    if (presence !== null) frame = frame === null ? `[${presence}]` : `${frame.slice(0, -1)},${presence}]`;
    if (frame !== null) conn.send(frame);
  }

  /** @internal Sends a frame outside the counter (SessionCreateReply, index 0). */
  _sendNow(text: string): void {
    this.connection?.send(`[${text}]`);
  }

  // ---- timers ----------------------------------------------------------------------------------

  #schedulePing(now: number): void {
    const { pingInterval, pingVariance } = this.#host.options;
    this.#nextPingAt = now + pingInterval - pingVariance / 2 + Math.random() * pingVariance;
  }

  /**
   * @internal The server's clock, every few hundred milliseconds for all sessions at once
   * (one interval instead of two timers per session): inactivity expiry (close 4097) and
   * keep-alive pings. Inbound messages only record the time.
   */
  _tick(now: number): void {
    if (this.expired) return;
    if (now - this.#lastActivity >= this.#host.options.sessionExpiry) {
      this.#host.logger.info({ session: this.id }, 'session expired');
      this.close(CLOSE_SESSION_CLOSED, { message: 'Session expired', type: ErrorType.sessionExpired });
      return;
    }
    if (this.connection && this.#nextPingAt !== 0 && now >= this.#nextPingAt) {
      if (!this.#hold) {
        this.#ping = encodePing(this.#lastClientIndex, false);
        this.#wake();
      }
      this.#schedulePing(now);
    }
    if (this.#blocked) this.#wake();
  }
}

/**
 * A session's share of one event-loop turn, in messages (a ScopeSync also weighs a message per
 * 32 fragments). Past it, the rest of what its socket delivered waits for the next turn, after
 * every other socket's input and the timers, so a burst of thousands of changesets from one
 * client costs the others a few turns of delay, not the whole burst's (BENCHMARKS.md, fairness).
 */
const TURN_SHARE = 64;

function turnCost(items: readonly DecodedItem[]): number {
  let cost = items.length;
  for (const item of items) {
    if (item.kind === 'message' && item.message.type === 'ScopeSync')
      cost += item.message.fragments.length >> 5;
    else if (item.kind === 'answerable' && item.type === 'ScopeSync') cost += item.fragmentCount >> 5;
  }
  return cost;
}

/** A client further over its rate than this (in ms of refill) is closed rather than throttled. */
const MAX_THROTTLE_MS = 10_000;

/** Verdicts of the index rule. */
const FRESH = 0;
const SEEN = 1;
const TOO_FAR = 2;
type IndexVerdict = typeof FRESH | typeof SEEN | typeof TOO_FAR;

function indexOf(item: DecodedItem): number {
  return item.kind === 'message' ? item.message.index : item.kind === 'answerable' ? item.index : 0;
}

function byIndex(a: DecodedItem, b: DecodedItem): number {
  return indexOf(a) - indexOf(b);
}

/**
 * A session's inbound budgets: a token bucket per kind of request (messages, fragments, fetches,
 * resends), as plain numbers in one object: every live session has one, and 10,000 sessions
 * should not cost 50,000 small objects.
 */
class SessionRates {
  readonly #limits: Readonly<SessionLimitOptions>;
  #messages: number;
  #fragments: number;
  #fetches: number;
  #resends: number;
  #at: number;

  constructor(options: ResolvedOptions, now: number) {
    const l = options.sessionLimits;
    this.#limits = l;
    this.#messages = l.messages.burst;
    this.#fragments = l.fragments.burst;
    this.#fetches = l.fetches.burst;
    this.#resends = l.resends.burst;
    this.#at = now;
  }

  /** Refills every bucket for the time elapsed since the last take. */
  #refill(now: number): void {
    const seconds = (now - this.#at) / 1000;
    if (!(seconds > 0)) return;
    this.#at = now;
    const l = this.#limits;
    this.#messages = Math.min(l.messages.burst, this.#messages + seconds * l.messages.perSecond);
    this.#fragments = Math.min(l.fragments.burst, this.#fragments + seconds * l.fragments.perSecond);
    this.#fetches = Math.min(l.fetches.burst, this.#fetches + seconds * l.fetches.perSecond);
    this.#resends = Math.min(l.resends.burst, this.#resends + seconds * l.resends.perSecond);
  }

  /**
   * Takes `n` messages' worth, into debt if need be: 0 when the bucket had them, else how many
   * ms the bucket needs to be back at zero (the client is throttled that long).
   */
  messages(n: number, now: number): number {
    this.#refill(now);
    this.#messages -= n;
    return this.#messages >= 0 ? 0 : (-this.#messages / this.#limits.messages.perSecond) * 1000;
  }

  /** The same for fragments of ScopeSync messages. */
  fragments(n: number, now: number): number {
    this.#refill(now);
    this.#fragments -= n;
    return this.#fragments >= 0 ? 0 : (-this.#fragments / this.#limits.fragments.perSecond) * 1000;
  }

  fetch(now: number): boolean {
    this.#refill(now);
    if (this.#fetches < 1) return false;
    this.#fetches -= 1;
    return true;
  }

  resend(now: number): boolean {
    this.#refill(now);
    if (this.#resends < 1) return false;
    this.#resends -= 1;
    return true;
  }
}

const ACCEPTED: FragmentReply = Object.freeze({}) as FragmentReply;
