// An OfflineStore for browsers: records in IndexedDB (docs/client.md, "Offline edits"). One
// `put` per save, in its own transaction, which IndexedDB applies whole or not at all.
//
// Two tabs of one app must not share a record: both would resume the same session, and the
// server would keep closing one tab's socket for the other's (docs/protocol.md §4.4). `claim`
// hands each live tab its own key with the Web Locks API: a lock per key, held while the page
// lives and released by the browser when it goes away. A reloaded page wants the key it had
// (its record holds its edits), and the old page's lock may not be released yet when the new
// one asks, so the tab remembers its key in sessionStorage (which survives a reload) and waits
// a little for that lock before it looks for another.
import { keyVariant, type OfflineClaim, type OfflineRecord, type OfflineStore } from './offline-store.js';

export interface IndexedDBOfflineStoreOptions {
  /** The IndexedDB database. Default `jetstream-offline`. */
  database?: string;
  /** Default `globalThis.indexedDB`. */
  indexedDB?: IDBFactory;
  /** Default `navigator.locks`; null: no locks, `claim` returns the key asked for. */
  locks?: LockManager | null;
  /** Remembers a tab's key across reloads. Default `globalThis.sessionStorage`; null: none. */
  sessionStorage?: Storage | null;
  /** How long a reloaded page waits for the lock of the key it had, ms. Default 3000. */
  reclaimTimeout?: number;
}

const OBJECT_STORE = 'records';

export class IndexedDBOfflineStore implements OfflineStore {
  readonly database: string;
  readonly #factory: IDBFactory;
  readonly #locks: LockManager | null;
  readonly #tabStorage: Storage | null;
  readonly #reclaimTimeout: number;
  #db: Promise<IDBDatabase> | null = null;

  constructor(options: IndexedDBOfflineStoreOptions = {}) {
    const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!factory) throw new TypeError('IndexedDBOfflineStore: this environment has no IndexedDB');
    this.database = options.database ?? 'jetstream-offline';
    this.#factory = factory;
    this.#locks =
      options.locks !== undefined
        ? options.locks
        : ((globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks ?? null);
    this.#tabStorage = options.sessionStorage !== undefined ? options.sessionStorage : tabStorage();
    this.#reclaimTimeout = options.reclaimTimeout ?? 3000;
  }

  async load(key: string): Promise<OfflineRecord | null> {
    const db = await this.#open();
    const tx = db.transaction(OBJECT_STORE, 'readonly');
    const value = await request<unknown>(tx.objectStore(OBJECT_STORE).get(key));
    return (value ?? null) as OfflineRecord | null;
  }

  async save(key: string, record: OfflineRecord): Promise<void> {
    const db = await this.#open();
    const tx = db.transaction(OBJECT_STORE, 'readwrite');
    tx.objectStore(OBJECT_STORE).put(record, key);
    await done(tx);
  }

  async remove(key: string): Promise<void> {
    const db = await this.#open();
    const tx = db.transaction(OBJECT_STORE, 'readwrite');
    tx.objectStore(OBJECT_STORE).delete(key);
    await done(tx);
  }

  async claim(key: string): Promise<OfflineClaim> {
    const locks = this.#locks;
    if (!locks) return { key, release() {} };
    const hint = `jetstream-offline:${this.database}:${key}`;
    const mine = readHint(this.#tabStorage, hint);
    if (mine !== null) {
      const held = await this.#hold(locks, mine, this.#reclaimTimeout);
      if (held) return held;
    }
    for (let n = 1; ; n++) {
      const held = await this.#hold(locks, keyVariant(key, n), 0);
      if (held) {
        writeHint(this.#tabStorage, hint, held.key);
        return held;
      }
    }
  }

  /** Holds the lock of `key` until released: at once or not at all (`wait` 0), or within `wait` ms. */
  #hold(locks: LockManager, key: string, wait: number): Promise<OfflineClaim | null> {
    return new Promise((resolve) => {
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      const options: LockOptions = wait > 0 ? { signal: AbortSignal.timeout(wait) } : { ifAvailable: true };
      locks
        .request(`jetstream-offline:${this.database}:${key}`, options, (lock) => {
          if (!lock) {
            resolve(null);
            return undefined;
          }
          resolve({ key, release });
          return held;
        })
        .catch(() => resolve(null)); // the wait timed out
    });
  }

  #open(): Promise<IDBDatabase> {
    if (!this.#db) {
      const req = this.#factory.open(this.database, 1);
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(OBJECT_STORE)) req.result.createObjectStore(OBJECT_STORE);
      };
      this.#db = request(req);
      // A failed open (blocked, private mode) is tried again on the next call.
      this.#db.catch(() => {
        this.#db = null;
      });
    }
    return this.#db;
  }
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

function tabStorage(): Storage | null {
  try {
    return (globalThis as { sessionStorage?: Storage }).sessionStorage ?? null;
  } catch {
    return null; // access denied (sandboxed frame, storage disabled)
  }
}

function readHint(storage: Storage | null, name: string): string | null {
  try {
    return storage?.getItem(name) ?? null;
  } catch {
    return null;
  }
}

function writeHint(storage: Storage | null, name: string, value: string): void {
  try {
    storage?.setItem(name, value);
  } catch {
    // Without it, a reload may take another key: its edits wait for the next page that claims it.
  }
}
