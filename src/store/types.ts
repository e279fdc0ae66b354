// The Store contract. Every implementation (memory, SQLite, PostgreSQL) passes the same
// conformance suite (test/store/conformance.ts); anything the server relies on is written here.

/**
 * A fragment as the wire carries it (docs/protocol.md §6), values already wire-encoded. The store never
 * looks inside `properties`; it only needs the value to be JSON-serializable.
 */
export interface StoredFragment {
  type: 'add' | 'change';
  uuid: string;
  clsName: string;
  properties: Record<string, unknown>;
}

/** One accepted changeset of one scope: the scope moves from `version - 1` to `version`. */
export interface ChangeRecord {
  scope: string;
  /** 1 for the first changeset of a scope; always the scope's last stored version + 1. */
  version: number;
  fragments: StoredFragment[];
  /**
   * Optional: `JSON.stringify(fragments)`, when the caller already has it (the broadcast encodes
   * the fragment list once). The store then writes this text as is and does not serialize again.
   * It is trusted: it must be the JSON of `fragments`. Never present on loaded records.
   */
  encodedFragments?: string;
}

/** The whole tree of a scope at `version`, as ScopeState fragments: root first (`change`), others `add`. */
export interface Snapshot {
  scope: string;
  /** May be 0 (the initial state of a scope that has no changes yet). */
  version: number;
  rootUUID: string;
  fragments: StoredFragment[];
}

/** What a restart needs to rebuild a scope: replay `changes` (in order) on top of `snapshot`. */
export interface LoadedScope {
  snapshot: Snapshot | null;
  /** Every change with version > snapshot version (or all of them), in version order. */
  changes: ChangeRecord[];
  /** The scope's latest stored version (of the last change, or of the snapshot when none follow). */
  version: number;
}

export type StoreKind = 'memory' | 'sqlite' | 'postgres';

/**
 * What a store needs to know of the models to compute a snapshot from stored fragments (see
 * `Store.compact` and fold.ts): plain JSON data, derived once from the scope's model classes by
 * persistence/ (`foldSchema`), so that a store (and its worker threads) never loads a model.
 */
export interface FoldSchema {
  /** The root's class name: the root keeps it whatever its stored fragment says, as a restore does. */
  root: string;
  /** Every class a fragment of the scope may name. */
  classes: FoldClass[];
}

export interface FoldClass {
  name: string;
  /**
   * Every property, inherited first, in declaration order (the order a ScopeState lists them),
   * with the wire value a new object starts with: `null`, `[]`, a default (Dates in seconds).
   */
  properties: [name: string, defaultValue: unknown][];
  /**
   * The reference properties, in the same order: a model (`false`) or a collection of models
   * (`true`). Their values are uuids; they are what keeps an object in the scope.
   */
  references: [name: string, collection: boolean][];
}

/**
 * Durable storage of scopes. The in-memory scope stays the source of truth for reads; the store is
 * append-only on the hot path.
 *
 * Ordering: calls are applied in the order they are made. A caller may issue the next `append`
 * before the previous one settled (group commit per event-loop turn); for any one scope the
 * store applies them in call order. If an append fails, later appends to the same scope fail too
 * (their versions no longer follow), so a scope never gets a gap.
 *
 * Errors: every failure is a rejected promise carrying a `StoreError` (src/store/errors.ts); a
 * version conflict is a `StoreConflictError`. No method throws synchronously and no background
 * failure (a dropped connection) crashes the process.
 */
export interface Store {
  readonly kind: StoreKind;
  /** Connects and creates the schema if missing. Idempotent; safe with several processes. */
  open(): Promise<void>;
  /** Releases connections and file handles. Idempotent. Pending calls settle first where possible. */
  close(): Promise<void>;
  /** The snapshot plus later changes of `scope`, or `null` when nothing was ever stored for it. */
  load(scope: string): Promise<LoadedScope | null>;
  /**
   * Stores every record in ONE transaction: all or nothing. Records of several scopes may be mixed;
   * the records of one scope must be in version order, the first one being the scope's last stored
   * version + 1 (1 for a new scope). Otherwise rejects with `StoreConflictError` and stores nothing
   * (this is what stops two writers from both appending to a scope). An empty array is a no-op.
   */
  append(records: ChangeRecord[]): Promise<void>;
  /**
   * Stores a snapshot, replacing the scope's previous one, and prunes the change records with
   * version <= snapshot.version. A snapshot older than the stored one is rejected
   * (`StoreConflictError`); one of the same version replaces it. A snapshot newer than the last
   * change is allowed: the scope's version becomes the snapshot's.
   */
  writeSnapshot(snapshot: Snapshot): Promise<void>;
  /**
   * Optional: writes the snapshot of `scope` at `version` computed from what is stored (the stored
   * snapshot, then every stored change up to `version`, folded with `schema`: src/store/fold.ts),
   * and prunes the changes it covers, as `writeSnapshot` would. The caller captures no state, so a
   * store may do the work away from the caller's event loop (SQLite and PostgreSQL do it in a
   * worker thread; the memory store on the spot).
   *
   * It reads only records up to `version`, which must be stored already: appends of later
   * versions may be issued meanwhile and neither waits for it nor conflicts with it. It resolves
   * without writing when the stored snapshot is already at `version` or later (or when the scope
   * is deleted meanwhile). It rejects with `StoreError` when the scope has no snapshot to start
   * from, when `version` is above the scope's latest version, or when a change up to `version`
   * is missing.
   */
  compact?(scope: string, version: number, schema: FoldSchema): Promise<void>;
  /**
   * Optional: true when appends issued before the previous one settled travel together (the
   * PostgreSQL store pipelines them on one connection), so that group commit may keep a second
   * group in flight (src/persistence/group-commit.ts). Such a store still applies one scope's
   * appends in call order.
   */
  readonly pipelinesAppends?: boolean;
  /** Names of every scope that has something stored, sorted (by code unit). */
  listScopes(): Promise<string[]>;
  /** Removes everything stored for `scope` (admin, tests). No error when there is nothing. */
  deleteScope(scope: string): Promise<void>;
}
