// What the client keeps so that unacknowledged edits survive a reload (docs/client.md, "Offline
// edits"), and the interface of the stores that keep it: this module's memory store, the
// IndexedDB store for browsers (indexeddb-store.ts) and the file store for Node (file-store.ts).
//
// A record is plain JSON data, written whole by each save: a store must replace it atomically
// (a load returns the old record or the new one, never a mix), because the session's indices
// and the pending changesets in it are only consistent with each other (docs/protocol.md §3).
import type { Fragment } from '../protocol/messages.js';

/** Everything one client keeps: its session and, per scope it fetched, state and pending edits. */
export interface OfflineRecord {
  /** Format of the record; a record of another version is ignored. */
  version: 1;
  session: OfflineSession;
  scopes: OfflineScope[];
}

/** The session, as far as a resume needs it (docs/protocol.md §4.4). */
export interface OfflineSession {
  /** The session token (a bearer secret, see docs/client.md), or null between sessions. */
  token: string | null;
  /** The next client index of the session: every index below it may have been sent. */
  nextIndex: number;
  /** The highest server index received and processed when the record was taken (-1: none). */
  lastServer: number;
  /** The client's messages the server has not acknowledged, as written on the wire. */
  unacked: { index: number; text: string }[];
  /** What the server granted the session in `SessionCreateReply.extensions` (docs/protocol.md §17). */
  extensions?: Record<string, unknown>;
}

/** One fetched scope: what the server last confirmed, and the local changesets not answered. */
export interface OfflineScope {
  name: string;
  params: Record<string, unknown>;
  /** The scope as the server last confirmed it (no pending edit in it), or null when not kept. */
  state: OfflineState | null;
  /** Unanswered changesets, oldest first. */
  pending: OfflineChangeset[];
}

/** A scope's tree in `ScopeState` form (docs/protocol.md §5). */
export interface OfflineState {
  rootUUID: string;
  fragments: Fragment[];
}

/** One local changeset the server has not answered. */
export interface OfflineChangeset {
  /**
   * The client index of the `ScopeSync` that carries it in the recorded session, or null when it
   * was not given to that session yet (it is sent anew after a reload).
   */
  index: number | null;
  atomic?: boolean;
  procedure?: string;
  /** The fragments, as sent (or as they would be sent). */
  fragments: Fragment[];
  /** The previous wire value of each property a `change` fragment sets: uuid → name → value. */
  prev: Record<string, Record<string, unknown>>;
  /** The uuids of the objects this changeset created (new on the server if it applies it). */
  created: string[];
}

/** A key held by one live client: no other client of the same store gets it meanwhile. */
export interface OfflineClaim {
  /** The key the client uses: the one asked for, or a free variant of it (`key~2`, …). */
  readonly key: string;
  /** Gives the key back (the client does it when closed). */
  release(): void;
}

/**
 * Where a client keeps its `OfflineRecord` (the `offline.store` option of `connect()`). Any
 * implementation works that stores JSON data under a string key and replaces it atomically.
 */
export interface OfflineStore {
  /** The record saved under `key`, or null when there is none. */
  load(key: string): Promise<OfflineRecord | null>;
  /** Replaces the record under `key`, atomically. Resolves once it is durable. */
  save(key: string, record: OfflineRecord): Promise<void>;
  /** Deletes the record under `key` (no error when there is none). */
  remove(key: string): Promise<void>;
  /**
   * Optional: claims `key`, or the first free variant of it (`key~2`, `key~3`, …), for one live
   * client, so that two clients (two tabs of one app) never share a record, and hence a
   * session. Without it, the application must give each live client its own key.
   */
  claim?(key: string): Promise<OfflineClaim>;
}

/** The n-th variant of a key: `key`, `key~2`, `key~3`, … */
export function keyVariant(key: string, n: number): string {
  return n <= 1 ? key : `${key}~${n}`;
}

/**
 * Keeps records in memory, as JSON text (so a record is a copy, and must be JSON data as with
 * any other store). For tests and for Node processes that only need to survive a new `Client`
 * in the same process; `claim` hands each live client its own key.
 */
export class MemoryOfflineStore implements OfflineStore {
  readonly #records = new Map<string, string>();
  readonly #claimed = new Set<string>();

  async load(key: string): Promise<OfflineRecord | null> {
    const text = this.#records.get(key);
    return text === undefined ? null : (JSON.parse(text) as OfflineRecord);
  }

  async save(key: string, record: OfflineRecord): Promise<void> {
    this.#records.set(key, JSON.stringify(record));
  }

  async remove(key: string): Promise<void> {
    this.#records.delete(key);
  }

  async claim(key: string): Promise<OfflineClaim> {
    let n = 1;
    while (this.#claimed.has(keyVariant(key, n))) n++;
    const claimed = keyVariant(key, n);
    this.#claimed.add(claimed);
    return { key: claimed, release: () => this.#claimed.delete(claimed) };
  }

  /** The keys that hold a record. */
  get keys(): string[] {
    return [...this.#records.keys()];
  }
}
