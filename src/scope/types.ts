import type { WireError } from '../errors.js';
import type { ModelObject } from '../model/model-object.js';
import type { Property } from '../model/property.js';
import type { Fragment } from '../protocol/messages.js';
import type { ListKey } from './list-merge.js';

/** A wire fragment (docs/protocol.md §6). */
export type { Fragment };

/** An applied fragment: properties always present, values wire-encoded. */
export interface AppliedFragment extends Fragment {
  properties: Record<string, unknown>;
}

/** Who or what caused a change; handed to 'changes' listeners. */
export interface ChangeContext {
  /** The session whose changeset this was; absent for server-side edits and updates. */
  origin?: unknown;
  atomic?: boolean;
  procedure?: string;
  /**
   * Rebuilding state that clients already have or will be sent whole (a restore from the
   * store): neither broadcast nor stored again.
   */
  replay?: boolean;
  /**
   * A change another process accepted and stored (the scope's owner in a cluster, see
   * docs/cluster.md), applied to this process's replica: broadcast to its sessions, never
   * stored again.
   */
  replicated?: boolean;
}

export interface ApplyOptions extends ChangeContext {
  /** All or nothing (docs/protocol.md §7 step 6). */
  atomic?: boolean;
  /**
   * What the sender last saw of the collections it changes: with it, a collection change is
   * merged against that base instead of replacing the value (docs/protocol.md §7.10), and the
   * result lists the collections set (`lists`).
   */
  listBase?: ListBase;
}

/** What a changeset's sender last saw of each collection (docs/protocol.md §7.10). */
export interface ListBase {
  /** The keys (see `listKey`) of `obj.prop` as the sender last saw it; null: not known (replace). */
  base(obj: ModelObject, prop: Property): readonly ListKey[] | null;
}

/** A collection of an existing object that an accepted fragment set. */
export interface ListWrite {
  obj: ModelObject;
  prop: Property;
  /** The list the sender sent, as keys. */
  mine: readonly ListKey[];
  /** The wire value applied, when the merge made it differ from `mine`; else null. */
  merged: readonly unknown[] | null;
}

/** The outcome of one changeset: one entry per fragment, in input order. */
export interface ChangesetResult {
  /** `null` = accepted, else the error sent in that fragment's reply. */
  results: (WireError | null)[];
  /** The accepted fragments, in input order, as they are forwarded to other sessions. */
  applied: AppliedFragment[];
  /** With a `listBase`: the collections of existing objects the accepted fragments set. */
  lists?: ListWrite[];
  /**
   * The scope version the change made, when it was applied elsewhere (a changeset forwarded to
   * the scope's owner in a cluster, whose `applied` is empty here); else the scope's version.
   */
  version?: number;
}
