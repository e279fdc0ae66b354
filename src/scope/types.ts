import type { WireError } from '../errors.js';
import type { Fragment } from '../protocol/messages.js';

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
}

/** The outcome of one changeset: one entry per fragment, in input order. */
export interface ChangesetResult {
  /** `null` = accepted, else the error sent in that fragment's reply. */
  results: (WireError | null)[];
  /** The accepted fragments, in input order, as they are forwarded to other sessions. */
  applied: AppliedFragment[];
}
