// The client's side of offline persistence (docs/client.md, "Offline edits"): loads the record
// a previous page (or process) left, saves a new one after every change, and tells the client
// what is durable, which is what the two rules below need.
//
// - A message with a client index is written to the socket only once a saved record lists it
//   (its index below the record's `nextIndex`). Otherwise a reload could forget a changeset the
//   server applied and reuse its index (the server drops a reused index as a resend,
//   docs/protocol.md §3.1), or send it again after the reload under a new index.
// - The `ack` a Ping carries is at most the saved `lastServer`. The server forgets what we
//   acknowledge (§3.3); a reload goes back to the saved record, and asks the server to resend
//   everything after that record's `lastServer` (§4.4): it must still have it.
//
// Saves are coalesced: at most one at a time, and a new one starts when it ends if anything
// changed meanwhile. Each takes the whole record at the moment it starts, so the record is one
// consistent picture of the client.
import type { FragmentReply } from '../protocol/messages.js';
import type { OfflineClaim, OfflineRecord, OfflineScope, OfflineStore } from './offline-store.js';

/** The `offline` option of `connect()`. */
export interface OfflineOptions {
  /** Where the record is kept: `IndexedDBOfflineStore`, `FileOfflineStore`, `MemoryOfflineStore`, or your own. */
  store: OfflineStore;
  /**
   * The record's key. Default: the server URL. Give each user (and each app on one server) its
   * own key, e.g. `${url}#${userId}`: a record holds a session token.
   */
  key?: string;
  /**
   * Keep each scope's last confirmed state too (default true), so that a page shows the scope
   * with its pending edits at once, even offline. False: keep only the pending edits, which
   * then show once the server's state has arrived.
   */
  state?: boolean;
}

/** What the keeper needs from its client. */
export interface OfflineHost {
  /** The whole record, as of now. */
  snapshot(): OfflineRecord;
  /** A save completed: `record` is durable. */
  saved(record: OfflineRecord): void;
  /** A save failed (it is tried again later); the client reports it as an `error` event. */
  failed(what: 'save', cause: unknown): void;
}

const MAX_RETRY_DELAY = 30_000;
/**
 * How long a save waits when nothing waits for it, ms: one that only records what came from
 * the server (acks, replies, remote changes). A message to send waits for its save, so that
 * one starts at once.
 */
const LATER = 200;

export class OfflineKeeper {
  readonly store: OfflineStore;
  readonly keepState: boolean;
  /** The key in use (after `start`, the claimed one). */
  key: string;
  /** What the last durable record says: only that may be relied on after a reload. */
  savedToken: string | null = null;
  savedNext = 1;
  savedServer = -1;
  /** Scopes of the loaded record that no `fetch` took yet. */
  #restored: OfflineScope[] = [];
  /** Replies to changesets of those scopes that came before the scope was fetched, by index. */
  readonly #early = new Map<number, FragmentReply[] | null>();
  readonly #host: OfflineHost;
  #claim: OfflineClaim | null = null;
  #dirty = false;
  #saving: Promise<void> | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** When `#timer` fires (ms since the epoch). */
  #due = 0;
  /** Something waits for the next save (a message to send): save at once. */
  #soon = false;
  #failures = 0;
  /** The record was loaded: from then on, saves replace it. */
  #loaded = false;
  #stopped = false;

  constructor(options: OfflineOptions, defaultKey: string, host: OfflineHost) {
    this.store = options.store;
    this.keepState = options.state !== false;
    this.key = options.key ?? defaultKey;
    this.#host = host;
  }

  /**
   * Claims the key and loads its record: null when there is none, or one of another format
   * (replaced by the next save). Rejects when the store cannot load it.
   */
  async start(): Promise<OfflineRecord | null> {
    if (this.store.claim) {
      this.#claim = await this.store.claim(this.key);
      this.key = this.#claim.key;
    }
    let record: OfflineRecord | null;
    try {
      record = await this.store.load(this.key);
    } catch (err) {
      this.#claim?.release();
      this.#stopped = true;
      throw err;
    }
    if (this.#stopped) {
      this.#claim?.release(); // the client closed meanwhile
      return null;
    }
    this.#loaded = true;
    if (!isRecord(record)) return null;
    this.savedToken = record.session.token;
    this.savedNext = record.session.nextIndex;
    this.savedServer = record.session.lastServer;
    this.#restored = record.scopes.slice();
    return record;
  }

  /** Takes the stored part of a scope a `fetch` asks for, with the replies it got early. */
  take(
    name: string,
    params: Record<string, unknown>,
  ): { scope: OfflineScope; early: Map<number, FragmentReply[] | null> } | null {
    const key = scopeKey(name, params);
    const i = this.#restored.findIndex((s) => scopeKey(s.name, s.params) === key);
    if (i < 0) return null;
    const [scope] = this.#restored.splice(i, 1);
    const early = new Map<number, FragmentReply[] | null>();
    for (const pc of scope!.pending) {
      if (pc.index !== null && this.#early.has(pc.index)) {
        early.set(pc.index, this.#early.get(pc.index)!);
        this.#early.delete(pc.index);
      }
    }
    return { scope: scope!, early };
  }

  /** A reply no one waits for: keep it if it answers a stored changeset of a scope not fetched yet. */
  early(replyTo: number, replies: FragmentReply[] | null): void {
    if (this.#restored.some((s) => s.pending.some((pc) => pc.index === replyTo)))
      this.#early.set(replyTo, replies);
  }

  /** The session of the record is gone: its changesets are sent anew in the next one. */
  sessionLost(): void {
    this.#early.clear();
    for (const s of this.#restored) for (const pc of s.pending) pc.index = null;
  }

  /** The stored scopes no `fetch` took, as the next record keeps them (less what was answered). */
  untaken(): OfflineScope[] {
    if (this.#early.size === 0) return this.#restored;
    return this.#restored.map((s) => ({
      ...s,
      pending: s.pending.filter((pc) => pc.index === null || !this.#early.has(pc.index)),
    }));
  }

  /**
   * Something in the record changed: save it at once when `soon` (something waits for the
   * save), else within LATER ms.
   */
  changed(soon = true): void {
    if (this.#stopped || !this.#loaded) return;
    this.#dirty = true;
    if (soon) this.#soon = true;
    if (!this.#saving) this.#plan();
  }

  /** Schedules the next save, never before the retry of a failed one. */
  #plan(): void {
    if (this.#failures > 0 && this.#timer) return;
    const delay = this.#soon ? 0 : LATER;
    const due = Date.now() + delay;
    if (this.#timer) {
      if (this.#due <= due) return;
      clearTimeout(this.#timer);
    }
    this.#due = due;
    this.#timer = setTimeout(() => this.#save(), delay);
  }

  /** Resolves once everything changed so far is saved, or a save failed. */
  async flushed(): Promise<void> {
    for (;;) {
      if (this.#saving) {
        const failures = this.#failures;
        await this.#saving;
        if (this.#failures > failures) return;
      } else if (this.#timer && this.#dirty && !this.#stopped) {
        clearTimeout(this.#timer);
        this.#save();
      } else {
        return;
      }
    }
  }

  /**
   * The client closed: save what it has now, once, and give the key back when done. Before the
   * record was loaded there is nothing to save (and saving would overwrite it).
   */
  stop(): void {
    if (this.#stopped) return;
    if (!this.#loaded) {
      this.#stopped = true; // start() gives the key back
      return;
    }
    // Stopped first: taking the snapshot may seal edits, which report changes no longer saved.
    this.#stopped = true;
    const last = this.#saving ?? Promise.resolve();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const record = this.#host.snapshot();
    const final: Promise<void> = last
      .then(() => this.store.save(this.key, record))
      .catch((err) => {
        this.#failures++;
        this.#host.failed('save', err);
      })
      .finally(() => {
        if (this.#saving === final) this.#saving = null;
        this.#claim?.release();
      });
    this.#saving = final;
  }

  #save(): void {
    this.#timer = null;
    if (!this.#dirty || this.#stopped) return;
    this.#dirty = false;
    this.#soon = false;
    const record = this.#host.snapshot();
    const saving: Promise<void> = Promise.resolve()
      .then(() => this.store.save(this.key, record))
      .then(
        () => {
          this.#failures = 0;
          this.savedToken = record.session.token;
          this.savedNext = record.session.nextIndex;
          this.savedServer = record.session.lastServer;
          if (this.#saving === saving) this.#saving = null;
          if (this.#stopped) return;
          this.#host.saved(record);
          if (this.#dirty) this.#plan();
        },
        (err) => {
          // Tried again later. Meanwhile nothing new is written to the socket (see the header).
          if (this.#saving === saving) this.#saving = null;
          this.#dirty = true;
          this.#host.failed('save', err);
          const delay = Math.min(MAX_RETRY_DELAY, 250 * 2 ** this.#failures++);
          if (this.#stopped) return;
          if (this.#timer) clearTimeout(this.#timer);
          this.#due = Date.now() + delay;
          this.#timer = setTimeout(() => this.#save(), delay);
        },
      );
    this.#saving = saving;
  }
}

/** A scope's identity across pages: its name and params. */
function scopeKey(name: string, params: Record<string, unknown>): string {
  return `${name}\u0000${stableJson(params)}`;
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A record this version can use: anything else is ignored (and replaced by the next save). */
function isRecord(r: unknown): r is OfflineRecord {
  if (r === null || typeof r !== 'object') return false;
  const rec = r as OfflineRecord;
  const s = rec.session;
  return (
    rec.version === 1 &&
    s !== null &&
    typeof s === 'object' &&
    (s.token === null || typeof s.token === 'string') &&
    Number.isSafeInteger(s.nextIndex) &&
    Number.isSafeInteger(s.lastServer) &&
    Array.isArray(s.unacked) &&
    Array.isArray(rec.scopes) &&
    rec.scopes.every((sc) => typeof sc?.name === 'string' && Array.isArray(sc.pending))
  );
}
