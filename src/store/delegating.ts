// A Store that passes every call to another. Extend it to watch or change some calls and keep
// the rest as they are: the cluster's fenced store, and the test and benchmark stores that
// record or hold appends.
import type { ChangeRecord, FoldSchema, LoadedScope, Snapshot, Store, StoreKind } from './types.js';

export class DelegatingStore implements Store {
  readonly inner: Store;
  /**
   * Present exactly when the inner store has it (see `Store.compact`). Declared only, so that a
   * subclass may define it as a method.
   */
  declare compact?: (scope: string, version: number, schema: FoldSchema) => Promise<void>;

  constructor(inner: Store) {
    this.inner = inner;
    if (inner.compact) this.compact = (scope, version, schema) => inner.compact!(scope, version, schema);
  }

  get kind(): StoreKind {
    return this.inner.kind;
  }

  get pipelinesAppends(): boolean {
    return this.inner.pipelinesAppends === true;
  }

  open(): Promise<void> {
    return this.inner.open();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  load(scope: string): Promise<LoadedScope | null> {
    return this.inner.load(scope);
  }

  append(records: ChangeRecord[]): Promise<void> {
    return this.inner.append(records);
  }

  writeSnapshot(snapshot: Snapshot): Promise<void> {
    return this.inner.writeSnapshot(snapshot);
  }

  listScopes(): Promise<string[]> {
    return this.inner.listScopes();
  }

  deleteScope(scope: string): Promise<void> {
    return this.inner.deleteScope(scope);
  }
}
