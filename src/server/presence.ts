// Presence (docs/protocol.md §17): each session's ephemeral state in a scope (a cursor, a
// selection, a name), sent to the other sessions of the scope that negotiated the extension.
// Never stored, never acknowledged, outside the indexed stream (index 0): nothing here touches
// the changeset path, the outbox or the store, and a server whose clients never ask for presence
// never builds any of it.
//
// Cost model. A scope's presence lives in a Room. A state update only records the session's
// latest entry (coalescing); the room sends what changed at most `rate` times a second: the first
// change after a quiet period at the end of the event-loop turn, later ones at the end of each
// period, each session's latest state once. What one send carries is encoded once, as one text
// shared by every member (a Batch); a member that is one of its authors gets the text without its
// own entry, cut out with two slices (O(1)), never re-encoded. A member's output waiting for its
// next frame is a few references to batches, bounded: past MAX_BATCHES it becomes "send the whole
// state" (a snapshot, built when written), so a slow or paused client costs one room's states at
// most, not a backlog.

import { exceedsBytes } from '../protocol/frame.js';
import type { PresenceGrant } from '../protocol/messages.js';
import type { Scope } from '../scope/scope.js';

/** The server option `presence` (docs/protocol.md §17). */
export interface PresenceOptions {
  /** How many times a second, at most, a scope's presence changes are sent. Default 20. */
  rate: number;
  /** Largest state a session may set, in UTF-8 bytes of its JSON. Default 4096. */
  maxStateBytes: number;
}

export const defaultPresenceOptions: Readonly<PresenceOptions> = Object.freeze({
  rate: 20,
  maxStateBytes: 4096,
});

/** The presence version this server speaks. */
export const PRESENCE_VERSION = 1;

/**
 * `presence` as given (`false` turns the extension off) → the options, or null when off. Throws
 * a TypeError for a value out of range, at construction like every option.
 */
export function resolvePresenceOptions(
  given: false | Partial<PresenceOptions> | undefined,
): Readonly<PresenceOptions> | null {
  if (given === false) return null;
  if (given === undefined) return defaultPresenceOptions;
  const rate = given.rate ?? defaultPresenceOptions.rate;
  const maxStateBytes = given.maxStateBytes ?? defaultPresenceOptions.maxStateBytes;
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0 || rate > 1000) {
    throw new TypeError(`Server option presence.rate must be a number in (0, 1000], got ${String(rate)}`);
  }
  if (!Number.isInteger(maxStateBytes) || maxStateBytes < 2) {
    throw new TypeError(
      `Server option presence.maxStateBytes must be an integer >= 2, got ${String(maxStateBytes)}`,
    );
  }
  return Object.freeze({ rate, maxStateBytes });
}

/** How a room waits: the next turn, and a period. Tests pass their own to step time by hand. */
export interface PresenceTimers {
  /** Runs `fn` once the current event-loop turn's input is processed. */
  soon(fn: () => void): void;
  /** Runs `fn` after `ms`; returns what cancels it. */
  after(ms: number, fn: () => void): () => void;
}

const nodeTimers: PresenceTimers = {
  soon: (fn) => {
    setImmediate(fn);
  },
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return () => clearTimeout(t);
  },
};

/**
 * A member's pending output for one room past this many batches is replaced by a snapshot: a
 * client that does not read for a while gets the current states, not every change it missed.
 */
const MAX_BATCHES = 4;

/** Pending output of a member for a room: batches in order, or the whole state. */
const SNAPSHOT = 0;
type Pending = Batch[] | typeof SNAPSHOT;

/** Every room of one server, by scope. One per server, made when a session first negotiates. */
export class PresenceHub {
  readonly options: Readonly<PresenceOptions>;
  readonly #timers: PresenceTimers;
  readonly #rooms = new Map<Scope, Room>();

  constructor(options: Readonly<PresenceOptions>, timers: PresenceTimers = nodeTimers) {
    this.options = options;
    this.#timers = timers;
  }

  /** What a client that asked for presence is told in `SessionCreateReply.extensions`. */
  get grant(): PresenceGrant {
    return { version: PRESENCE_VERSION, maxStateBytes: this.options.maxStateBytes, rate: this.options.rate };
  }

  /** Rooms with members (for tests and the inspector). */
  get size(): number {
    return this.#rooms.size;
  }

  /** A new member: one per session that negotiated presence; `wake` asks its session to flush. */
  member(id: string, wake: () => void): PresenceMember {
    return new PresenceMember(this, id, wake);
  }

  /** @internal The scope's room, made on first use. */
  _room(scope: Scope): Room {
    let room = this.#rooms.get(scope);
    if (room === undefined) {
      room = new Room(scope, this.#timers, 1000 / this.options.rate, () => this.#rooms.delete(scope));
      this.#rooms.set(scope, room);
    }
    return room;
  }

  /** @internal The scope's room, if it has one. */
  _find(scope: Scope): Room | undefined {
    return this.#rooms.get(scope);
  }

  /** Stops every room's timer (the server is closing). */
  close(): void {
    for (const room of this.#rooms.values()) room.close();
    this.#rooms.clear();
  }
}

/**
 * One session's side of presence: the rooms it is in (with its scopeIndex there) and the output
 * waiting for its next frame.
 */
export class PresenceMember {
  /** The session's id, as other sessions see it (`entries[].session`). */
  readonly id: string;
  /** `{"session":"<id>","state":` — the start of every entry this member authors. */
  readonly head: string;
  readonly #hub: PresenceHub;
  readonly #wake: () => void;
  /** Rooms joined, with this session's scopeIndex for the scope. */
  readonly #rooms = new Map<Room, number>();
  #pending: Map<Room, Pending> | null = null;
  /** False while the session has no socket: nothing is kept for it (a snapshot follows the resume). */
  #attached = true;

  constructor(hub: PresenceHub, id: string, wake: () => void) {
    this.#hub = hub;
    this.id = id;
    this.head = `{"session":${JSON.stringify(id)},"state":`;
    this.#wake = wake;
  }

  /** The session got `scope` (its fetch reply is queued): it receives the others' states. */
  join(scope: Scope, scopeIndex: number): void {
    const room = this.#hub._room(scope);
    this.#rooms.set(room, scopeIndex);
    room.add(this);
    this.#setPending(room, SNAPSHOT);
  }

  /**
   * Sets this session's state in `scope` (`null`: none). Null when done; else why the message is
   * refused (docs/protocol.md §17: it is then dropped and counted as invalid).
   */
  set(scope: Scope | undefined, state: Record<string, unknown> | null): string | null {
    const room = scope === undefined ? undefined : this.#hub._find(scope);
    if (room === undefined || !this.#rooms.has(room))
      return 'Presence for a scope this session has not fetched';
    if (state === null) {
      room.update(this, null);
      return null;
    }
    const json = JSON.stringify(state);
    const max = this.#hub.options.maxStateBytes;
    if (exceedsBytes(json, max)) return `Presence state exceeds maxStateBytes (${max})`;
    room.update(this, json);
    return null;
  }

  /** The socket closed: the others see this session leave; nothing is kept for it meanwhile. */
  detached(): void {
    this.#attached = false;
    this.#pending = null;
    for (const room of this.#rooms.keys()) room.update(this, null);
  }

  /** A socket is attached again: every room's current states go out with the next frame. */
  attached(): void {
    this.#attached = true;
    for (const room of this.#rooms.keys()) this.#setPending(room, SNAPSHOT);
  }

  /** The session ended: it leaves every room, and the others see it leave. */
  leaveAll(): void {
    this.#attached = false;
    this.#pending = null;
    for (const room of this.#rooms.keys()) room.remove(this);
    this.#rooms.clear();
  }

  /**
   * The Presence messages waiting for this session, comma-separated, to end its next frame with
   * (after every indexed message of the frame, docs/protocol.md §17); null when there are none.
   */
  take(): string | null {
    const pending = this.#pending;
    if (pending === null || pending.size === 0) return null;
    this.#pending = null;
    let out = '';
    for (const [room, p] of pending) {
      const scopeIndex = this.#rooms.get(room);
      if (scopeIndex === undefined) continue;
      let entries: string;
      let snapshot = '';
      if (p === SNAPSHOT) {
        entries = room.snapshotFor(this);
        snapshot = ',"snapshot":true';
      } else {
        entries = '';
        for (let i = 0; i < p.length; i++) {
          const part = p[i]!.textFor(this);
          if (part !== '') entries = entries === '' ? part : `${entries},${part}`;
        }
        if (entries === '') continue;
      }
      const message = `{"type":"Presence","index":0,"scopeIndex":${scopeIndex}${snapshot},"entries":[${entries}]}`;
      out = out === '' ? message : `${out},${message}`;
    }
    return out === '' ? null : out;
  }

  /** @internal A room sent `batch`: it goes out with this session's next frame. */
  _queue(room: Room, batch: Batch): void {
    if (!this.#attached || batch.onlyFrom(this)) return;
    const p = this.#pending?.get(room);
    if (p === SNAPSHOT) return;
    if (p === undefined) this.#setPending(room, [batch]);
    else if (p.length >= MAX_BATCHES) this.#setPending(room, SNAPSHOT);
    else p.push(batch);
  }

  #setPending(room: Room, p: Pending): void {
    if (!this.#attached) return;
    (this.#pending ??= new Map()).set(room, p);
    this.#wake();
  }
}

/**
 * What one send of a room carries: the entries (`{"session":…,"state":…}`) joined by commas, once
 * for every member, and where each author's entry lies in it.
 */
class Batch {
  readonly text: string;
  readonly #authors: Map<PresenceMember, number>;
  readonly #starts: number[];
  readonly #ends: number[];

  constructor(entries: Map<PresenceMember, string>) {
    const authors = new Map<PresenceMember, number>();
    const starts: number[] = [];
    const ends: number[] = [];
    let text = '';
    for (const [member, entry] of entries) {
      if (text !== '') text += ',';
      authors.set(member, starts.length);
      starts.push(text.length);
      text += entry;
      ends.push(text.length);
    }
    // Flat now, once: every member's frame copies it (see encodeFragmentsOnce for why).
    text.charCodeAt(0);
    this.text = text;
    this.#authors = authors;
    this.#starts = starts;
    this.#ends = ends;
  }

  /** True when the batch holds `member`'s own entry and nothing else. */
  onlyFrom(member: PresenceMember): boolean {
    return this.#starts.length === 1 && this.#authors.has(member);
  }

  /** The entries `member` receives: all but its own ('' when none). */
  textFor(member: PresenceMember): string {
    const k = this.#authors.get(member);
    if (k === undefined) return this.text;
    const n = this.#starts.length;
    if (n === 1) return '';
    // Entry k with the comma that separates it from its neighbour.
    if (k === 0) return this.text.slice(this.#ends[0]! + 1);
    if (k === n - 1) return this.text.slice(0, this.#starts[k]! - 1);
    return this.text.slice(0, this.#starts[k]! - 1) + this.text.slice(this.#ends[k]!);
  }
}

/** Quiet: no change waiting. Soon: a send at the end of this turn. Period: a send just went out. */
const QUIET = 0;
const SOON = 1;
const PERIOD = 2;

/** One scope's presence: its members, their current states, and the changes not sent yet. */
class Room {
  readonly scope: Scope;
  readonly #members = new Set<PresenceMember>();
  /** Each member's current entry, for snapshots; members without a state are absent. */
  readonly #states = new Map<PresenceMember, string>();
  /** Each member's latest entry since the last send (a `null` state when it left). */
  #dirty = new Map<PresenceMember, string>();
  readonly #timers: PresenceTimers;
  readonly #period: number;
  readonly #onEmpty: () => void;
  #phase: typeof QUIET | typeof SOON | typeof PERIOD = QUIET;
  #cancel: (() => void) | null = null;
  #closed = false;

  constructor(scope: Scope, timers: PresenceTimers, period: number, onEmpty: () => void) {
    this.scope = scope;
    this.#timers = timers;
    this.#period = period;
    this.#onEmpty = onEmpty;
  }

  add(member: PresenceMember): void {
    this.#members.add(member);
  }

  remove(member: PresenceMember): void {
    if (!this.#members.delete(member)) return;
    if (this.#members.size === 0) this.close();
    else this.update(member, null); // the others see it leave with the next send
  }

  /** `member`'s state is now `json` (encoded), or none. */
  update(member: PresenceMember, json: string | null): void {
    if (json === null) {
      // Nobody holds a state for it unless it had one, or one is on its way.
      if (!this.#states.delete(member) && !this.#dirty.has(member)) return;
      this.#dirty.set(member, `${member.head}null}`);
    } else {
      const entry = `${member.head}${json}}`;
      this.#states.set(member, entry);
      this.#dirty.set(member, entry);
    }
    if (this.#phase === QUIET && !this.#closed) {
      this.#phase = SOON;
      this.#timers.soon(() => this.#send());
    }
  }

  /** Every member's current state but `member`'s own, comma-separated. */
  snapshotFor(member: PresenceMember): string {
    let out = '';
    for (const [m, entry] of this.#states) {
      if (m === member) continue;
      out = out === '' ? entry : `${out},${entry}`;
    }
    return out;
  }

  close(): void {
    this.#closed = true;
    this.#cancel?.();
    this.#cancel = null;
    this.#dirty = new Map();
    this.#phase = QUIET;
    this.#onEmpty();
  }

  /** Sends what changed and starts a period; with nothing to send, the room goes quiet. */
  #send(): void {
    this.#cancel = null;
    if (this.#closed || this.#dirty.size === 0) {
      this.#phase = QUIET;
      return;
    }
    const batch = new Batch(this.#dirty);
    this.#dirty = new Map();
    for (const member of this.#members) member._queue(this, batch);
    this.#phase = PERIOD;
    this.#cancel = this.#timers.after(this.#period, () => this.#send());
  }
}
