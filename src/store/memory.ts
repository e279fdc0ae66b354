// The in-memory store: for tests and for servers that need no durability. It keeps JSON text, not
// objects, so that nothing a caller does to its objects afterwards can change what was stored (and
// so that it fails on what the durable stores would fail on: non-serializable values).

import { StoreError } from './errors.js';
import { foldStored } from './fold.js';
import {
  appendConflict,
  checkCompact,
  checkCompactable,
  checkContiguous,
  checkScopeName,
  checkSnapshot,
  encodeFragments,
  encodeSnapshotFragments,
  planAppend,
  staleSnapshot,
} from './records.js';
import type { ChangeRecord, FoldSchema, LoadedScope, Snapshot, Store } from './types.js';

interface StoredScope {
  version: number;
  snapshot: { version: number; rootUUID: string; fragments: string } | null;
  /** Ascending by version; all > snapshot version. */
  changes: { version: number; fragments: string }[];
}

/**
 * What a MemoryStore holds. Pass the same instance to several MemoryStores to simulate reopening
 * one database (a server restart in a test).
 */
export class MemoryStoreData {
  /** @internal */
  readonly scopes = new Map<string, StoredScope>();
}

export interface MemoryStoreOptions {
  data?: MemoryStoreData;
}

export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  readonly data: MemoryStoreData;
  #opened = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.data = options.data ?? new MemoryStoreData();
  }

  async open(): Promise<void> {
    this.#opened = true;
  }

  async close(): Promise<void> {
    this.#opened = false;
  }

  async load(scope: string): Promise<LoadedScope | null> {
    this.#checkOpen('load');
    checkScopeName(scope);
    const stored = this.data.scopes.get(scope);
    if (stored === undefined) return null;
    const snap = stored.snapshot;
    return {
      snapshot:
        snap === null
          ? null
          : { scope, version: snap.version, rootUUID: snap.rootUUID, fragments: JSON.parse(snap.fragments) },
      changes: stored.changes.map((c) => ({ scope, version: c.version, fragments: JSON.parse(c.fragments) })),
      version: stored.version,
    };
  }

  async append(records: ChangeRecord[]): Promise<void> {
    this.#checkOpen('append');
    const batches = planAppend(records);
    // Check everything and encode everything before changing anything: all or nothing.
    for (const batch of batches) {
      const stored = this.data.scopes.get(batch.scope)?.version ?? 0;
      if (stored !== batch.expectedVersion) throw appendConflict(batch, stored);
    }
    const encoded = records.map((r) => ({
      scope: r.scope,
      version: r.version,
      fragments: encodeFragments(r),
    }));
    for (const batch of batches) {
      if (!this.data.scopes.has(batch.scope)) {
        this.data.scopes.set(batch.scope, { version: 0, snapshot: null, changes: [] });
      }
    }
    for (const record of encoded) {
      const stored = this.data.scopes.get(record.scope)!;
      stored.changes.push({ version: record.version, fragments: record.fragments });
      stored.version = record.version;
    }
  }

  async writeSnapshot(snapshot: Snapshot): Promise<void> {
    this.#checkOpen('writeSnapshot');
    checkSnapshot(snapshot);
    const existing = this.data.scopes.get(snapshot.scope);
    if (existing?.snapshot && existing.snapshot.version > snapshot.version) {
      throw staleSnapshot(snapshot, existing.snapshot.version);
    }
    const fragments = encodeSnapshotFragments(snapshot);
    const stored = existing ?? { version: 0, snapshot: null, changes: [] };
    stored.snapshot = { version: snapshot.version, rootUUID: snapshot.rootUUID, fragments };
    stored.changes = stored.changes.filter((c) => c.version > snapshot.version);
    stored.version = Math.max(stored.version, snapshot.version);
    this.data.scopes.set(snapshot.scope, stored);
  }

  /**
   * Store.compact, on the spot: this store is for tests, where folding on the caller's event loop
   * costs nothing that matters.
   */
  async compact(scope: string, version: number, schema: FoldSchema): Promise<void> {
    this.#checkOpen('compact');
    checkCompact(scope, version, schema);
    const stored = this.data.scopes.get(scope);
    const snap = stored?.snapshot ?? undefined;
    checkCompactable(scope, version, stored?.version, snap?.version);
    if (stored === undefined || snap === undefined || snap.version >= version) return;
    const rows = stored.changes.filter((c) => c.version <= version);
    checkContiguous(scope, snap.version, version, rows);
    const folded = foldStored(
      schema,
      snap,
      rows.map((r) => r.fragments),
    );
    stored.snapshot = { version, rootUUID: folded.rootUUID, fragments: folded.fragments };
    stored.changes = stored.changes.filter((c) => c.version > version);
  }

  async listScopes(): Promise<string[]> {
    this.#checkOpen('listScopes');
    return [...this.data.scopes.keys()].sort();
  }

  async deleteScope(scope: string): Promise<void> {
    this.#checkOpen('deleteScope');
    checkScopeName(scope);
    this.data.scopes.delete(scope);
  }

  #checkOpen(what: string): void {
    if (!this.#opened) throw new StoreError(`Memory store: cannot ${what}: the store is not open`);
  }
}
