// Input checks and batch planning shared by every store, so they all reject the same things with
// the same messages before touching storage.

import { StoreConflictError, StoreError } from './errors.js';
import type { ChangeRecord, FoldSchema, Snapshot } from './types.js';

/** The records of one scope within an append batch: versions first..last, contiguous. */
export interface ScopeBatch {
  scope: string;
  /** The version the scope must be at before this batch (first record's version - 1). */
  expectedVersion: number;
  /** The scope's version after the batch. */
  lastVersion: number;
}

export function checkScopeName(scope: unknown): asserts scope is string {
  if (typeof scope !== 'string' || scope.length === 0) {
    throw new StoreError(`Invalid scope name ${JSON.stringify(scope)}: expected a non-empty string`);
  }
  // PostgreSQL TEXT cannot hold NUL; refuse it everywhere so every store accepts the same names.
  if (scope.includes('\u0000')) throw new StoreError('Invalid scope name: it contains a NUL character');
}

function checkVersion(scope: string, version: unknown, min: number): asserts version is number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < min) {
    throw new StoreError(
      `Invalid version ${String(version)} for scope ${JSON.stringify(scope)}: expected an integer >= ${min}`,
    );
  }
}

/**
 * Validates an append batch and groups it per scope, in order of first appearance. Throws
 * StoreConflictError when one scope's records are not contiguous within the batch; whether the
 * first one follows the stored version is for the store to check against `expectedVersion`.
 */
export function planAppend(records: readonly ChangeRecord[]): ScopeBatch[] {
  if (!Array.isArray(records)) throw new StoreError('append expects an array of change records');
  const batches = new Map<string, ScopeBatch>();
  for (const record of records) {
    checkScopeName(record?.scope);
    checkVersion(record.scope, record.version, 1);
    if (!Array.isArray(record.fragments)) {
      throw new StoreError(`Change record ${record.scope}@${record.version} has no fragments array`);
    }
    const batch = batches.get(record.scope);
    if (batch === undefined) {
      batches.set(record.scope, {
        scope: record.scope,
        expectedVersion: record.version - 1,
        lastVersion: record.version,
      });
    } else if (record.version !== batch.lastVersion + 1) {
      throw new StoreConflictError(
        record.scope,
        batch.lastVersion + 1,
        record.version,
        `Version conflict in scope ${JSON.stringify(record.scope)}: records of one append must be contiguous, expected version ${batch.lastVersion + 1} after ${batch.lastVersion}, got ${record.version}`,
      );
    } else {
      batch.lastVersion = record.version;
    }
  }
  return [...batches.values()];
}

export function checkSnapshot(snapshot: Snapshot): void {
  checkScopeName(snapshot?.scope);
  checkVersion(snapshot.scope, snapshot.version, 0);
  if (typeof snapshot.rootUUID !== 'string' || snapshot.rootUUID.length === 0) {
    throw new StoreError(`Snapshot of scope ${JSON.stringify(snapshot.scope)} has no rootUUID`);
  }
  if (!Array.isArray(snapshot.fragments)) {
    throw new StoreError(`Snapshot of scope ${JSON.stringify(snapshot.scope)} has no fragments array`);
  }
}

/** The arguments of Store.compact. */
export function checkCompact(scope: unknown, version: unknown, schema: unknown): asserts scope is string {
  checkScopeName(scope);
  checkVersion(scope, version, 0);
  const s = schema as FoldSchema | null;
  if (typeof s !== 'object' || s === null || typeof s.root !== 'string' || !Array.isArray(s.classes)) {
    throw new StoreError(`Cannot compact scope ${JSON.stringify(scope)}: invalid schema`);
  }
}

/**
 * What Store.compact requires of the stored scope (`head`: its latest version, `snapshot`: its
 * snapshot's version, each undefined when there is none); throws the StoreError it rejects with.
 */
export function checkCompactable(
  scope: string,
  version: number,
  head: number | undefined,
  snapshot: number | undefined,
): void {
  const name = JSON.stringify(scope);
  if (head === undefined) throw new StoreError(`Cannot compact scope ${name}: nothing is stored for it`);
  if (version > head) {
    throw new StoreError(
      `Cannot compact scope ${name} at version ${version}: its latest stored version is ${head}`,
    );
  }
  if (snapshot === undefined)
    throw new StoreError(`Cannot compact scope ${name}: it has no snapshot to start from`);
}

/** The changes a compaction folds: every version after `base` up to `version`, a gap is an error. */
export function checkContiguous(
  scope: string,
  base: number,
  version: number,
  rows: readonly { version: number | string }[],
): void {
  if (rows.length === version - base && rows.every((r, i) => Number(r.version) === base + 1 + i)) return;
  throw new StoreError(
    `Cannot compact scope ${JSON.stringify(scope)} at version ${version}: changes after version ${base} are missing`,
  );
}

/** The stored text of a record's fragments. */
export function encodeFragments(record: ChangeRecord): string {
  if (typeof record.encodedFragments === 'string') return record.encodedFragments;
  try {
    return JSON.stringify(record.fragments);
  } catch (err) {
    throw new StoreError(
      `Change record ${record.scope}@${record.version} is not JSON-serializable: ${(err as Error).message}`,
      err,
    );
  }
}

/** The stored text of a snapshot's fragments. */
export function encodeSnapshotFragments(snapshot: Snapshot): string {
  try {
    return JSON.stringify(snapshot.fragments);
  } catch (err) {
    throw new StoreError(
      `Snapshot of scope ${JSON.stringify(snapshot.scope)} is not JSON-serializable: ${(err as Error).message}`,
      err,
    );
  }
}

export function appendConflict(batch: ScopeBatch, storedVersion: number): StoreConflictError {
  return new StoreConflictError(batch.scope, storedVersion + 1, batch.expectedVersion + 1);
}

export function staleSnapshot(
  snapshot: Pick<Snapshot, 'scope' | 'version'>,
  storedSnapshotVersion: number,
): StoreConflictError {
  return new StoreConflictError(
    snapshot.scope,
    storedSnapshotVersion,
    snapshot.version,
    `Stale snapshot of scope ${JSON.stringify(snapshot.scope)}: version ${snapshot.version} is older than the stored snapshot (version ${storedSnapshotVersion})`,
  );
}
