// Presence in the client SDK (docs/client.md, "Presence"; the wire: docs/protocol.md §17): this
// client's ephemeral state in a scope (a cursor, a selection, a name) and the other sessions'.
//
// - Nothing here is stored or acknowledged: a state is sent as it is when the session is live,
//   at most as often as the server's `rate` (the latest state wins; the server coalesces too),
//   and sent again whenever the session becomes live again (a resume or a new session), because
//   the server forgets a session's state when its socket goes away.
// - The others' states arrive as snapshots (on fetch and after every reconnect: they replace
//   what is held) and changes (`state: null` = that session left).
import { ErrorCode, JetstreamError } from '../errors.js';
import { utf8Length } from '../protocol/frame.js';
import type { PresenceGrant, ServerPresence } from '../protocol/messages.js';
import { Emitter } from '../util/emitter.js';

/** A presence state: a JSON object. Applications narrow it with the type parameter. */
export type PresenceState = Record<string, unknown>;

/** Another session's presence in the scope. */
export interface PresencePeer<P extends object = PresenceState> {
  /** The server's id of that session: stable while it lives, no secret. */
  sessionId: string;
  /**
   * Its state, as that client set it. It comes from another client, unchecked: validate it
   * before trusting it with anything but display.
   */
  state: P;
}

export interface PresenceEvents<P extends object = PresenceState> {
  /** The others' presence changed (once per server message): the current list. */
  change: (others: PresencePeer<P>[]) => void;
  /** A session set its first state (or came back after a reconnect). */
  join: (peer: PresencePeer<P>) => void;
  /** A session cleared its state, or left (closed, lost its socket, expired); its last state. */
  leave: (peer: PresencePeer<P>) => void;
  /** A state could not be sent (bigger than the server's limit): it stays local. */
  error: (error: Error) => void;
}

/** What presence needs from its scope and client. */
export interface PresenceLink {
  /** The scope's index in the session; null until it is fetched (and while it is fetched again). */
  scopeIndex(): number | null;
  /** What the server granted; null when it did not (yet), or presence is off. */
  grant(): PresenceGrant | null;
  /** Writes a Presence message; false when the session is not live (it is sent again once it is). */
  send(scopeIndex: number, stateJson: string): boolean;
}

export class ScopePresence<P extends object = PresenceState> extends Emitter<PresenceEvents<P>> {
  readonly #link: PresenceLink;
  #state: P | null = null;
  /** `#state` as JSON ('null' for none). */
  #json = 'null';
  /** What the server holds of ours, as far as we know ('null': nothing). */
  #sent = 'null';
  #lastSentAt = Number.NEGATIVE_INFINITY;
  #timer: ReturnType<typeof setTimeout> | null = null;
  readonly #others = new Map<string, P>();
  #list: PresencePeer<P>[] | null = null;

  /** @internal Made by ClientScope. */
  constructor(link: PresenceLink) {
    super();
    this.#link = link;
  }

  /** True when the server granted presence to this session: states are shared. */
  get available(): boolean {
    return this.#link.grant() !== null;
  }

  /** This client's own state in the scope (a copy of what was set), or null. */
  get state(): P | null {
    return this.#state;
  }

  /** The other sessions' states, in the order they appeared. */
  get others(): PresencePeer<P>[] {
    if (this.#list === null) {
      this.#list = [];
      for (const [sessionId, state] of this.#others) this.#list.push({ sessionId, state });
    }
    return this.#list.slice();
  }

  /** Another session's state, if it has one. */
  get(sessionId: string): P | undefined {
    return this.#others.get(sessionId);
  }

  /**
   * Replaces this client's state in the scope (`null`: none). Sent at once, or at the latest
   * within one period of the server's rate; only the latest of several quick calls is sent.
   * Throws a TypeError for something that is not an object, and a JetstreamError
   * (`JS_ERR_INVALID_VALUE`) when its JSON is larger than the server accepts.
   */
  set(state: P | null): void {
    if (state !== null && (typeof state !== 'object' || Array.isArray(state))) {
      throw new TypeError('A presence state is a plain object, or null');
    }
    const json = state === null ? 'null' : JSON.stringify(state);
    const tooBig = this.#tooBig(json);
    if (tooBig) throw tooBig;
    // A copy: the caller may go on changing its object; what was set is what is sent.
    this.#state = state === null ? null : (JSON.parse(json) as P);
    this.#json = json;
    this.#schedule();
  }

  /** Sets the state to the current one with `patch`'s keys replaced (a cursor move, say). */
  update(patch: Partial<P>): void {
    this.set({ ...(this.#state ?? {}), ...patch } as P);
  }

  /** Clears this client's state: the others see it leave. */
  clear(): void {
    this.set(null);
  }

  // ---- from the client ------------------------------------------------------------------------

  /** @internal The session is live for this scope again: the server holds nothing of ours. */
  _resend(): void {
    this.#sent = 'null';
    this.#lastSentAt = Number.NEGATIVE_INFINITY;
    this.#schedule();
  }

  /** @internal A Presence message for this scope. */
  _receive(msg: ServerPresence): void {
    const joined: PresencePeer<P>[] = [];
    const left: PresencePeer<P>[] = [];
    let changed = false;
    if (msg.snapshot) {
      const next = new Map<string, P>();
      for (const e of msg.entries) if (e.state !== null) next.set(e.session, e.state as P);
      for (const [sessionId, state] of this.#others) {
        if (!next.has(sessionId)) left.push({ sessionId, state });
      }
      for (const [sessionId, state] of next) {
        const had = this.#others.get(sessionId);
        if (had === undefined) joined.push({ sessionId, state });
        if (had !== state) changed = true;
      }
      this.#others.clear();
      for (const [sessionId, state] of next) this.#others.set(sessionId, state);
      changed ||= left.length > 0;
    } else {
      for (const e of msg.entries) {
        const had = this.#others.get(e.session);
        if (e.state === null) {
          if (had === undefined) continue;
          this.#others.delete(e.session);
          left.push({ sessionId: e.session, state: had });
        } else {
          this.#others.set(e.session, e.state as P);
          if (had === undefined) joined.push({ sessionId: e.session, state: e.state as P });
        }
        changed = true;
      }
    }
    if (!changed) return;
    this.#list = null;
    for (const peer of left) this.emit('leave', peer);
    for (const peer of joined) this.emit('join', peer);
    this.emit('change', this.others);
  }

  /** @internal The others are unknown now (the session was lost, or presence is not granted). */
  _forgetOthers(): void {
    if (this.#others.size === 0) return;
    const left = this.others;
    this.#others.clear();
    this.#list = null;
    for (const peer of left) this.emit('leave', peer);
    this.emit('change', []);
  }

  /** @internal The client closed: nothing more is sent. */
  _close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this._forgetOthers();
  }

  // ---- sending --------------------------------------------------------------------------------

  /** The error for a state over the server's limit, or null. */
  #tooBig(json: string): JetstreamError | null {
    const grant = this.#link.grant();
    if (grant === null || json === 'null') return null;
    const bytes = utf8Length(json);
    if (bytes <= grant.maxStateBytes) return null;
    return new JetstreamError(
      ErrorCode.INVALID_VALUE,
      `Presence state is ${bytes} bytes of JSON, more than the server accepts (maxStateBytes ${grant.maxStateBytes})`,
    );
  }

  /** Sends the state now, or once the rate allows; nothing while it is what the server holds. */
  #schedule(): void {
    if (this.#timer !== null) return; // the pending send takes the latest state
    const grant = this.#link.grant();
    if (grant === null || this.#link.scopeIndex() === null || this.#json === this.#sent) return;
    const wait = this.#lastSentAt + 1000 / grant.rate - Date.now();
    if (wait <= 0) {
      this.#send();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#send();
    }, wait);
  }

  #send(): void {
    const scopeIndex = this.#link.scopeIndex();
    if (scopeIndex === null || this.#json === this.#sent) return;
    const tooBig = this.#tooBig(this.#json);
    if (tooBig) {
      // Set before the grant was known, and over its limit: kept here, never sent.
      this.emit('error', tooBig);
      return;
    }
    if (!this.#link.send(scopeIndex, this.#json)) return; // sent again once live (_resend)
    this.#sent = this.#json;
    this.#lastSentAt = Date.now();
  }
}
