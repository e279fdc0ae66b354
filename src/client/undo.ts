// Undo and redo of this client's own edits in one scope (docs/client.md, "Undo and redo"), in
// the manner of Yjs's UndoManager: only what this user did is undone, never other users' edits.
//
// - A step is one local changeset (one event-loop turn, or one `transaction`), as the scope
//   seals it; `captureTimeout` merges steps that follow each other closely.
// - Undoing a step applies its inverse as a new local changeset, sent like any edit, and that
//   changeset becomes a step of the redo stack (redoing is undoing it). Re-applications the
//   scope makes by itself (after a new session, after a reload) are no steps.
// - The inverse only touches what still shows the step: a property whose value is no longer
//   the one the step set (another user or a later edit changed it) keeps its value; a
//   collection of objects loses the elements the step added and gets back the ones it removed,
//   at their former place, and keeps everything else. A step left with nothing to undo is
//   skipped.
import { Collection, sameValue } from '../model/collection.js';
import type { ModelObject } from '../model/model-object.js';
import { Kind, type Property } from '../model/property.js';
import { Emitter } from '../util/emitter.js';
import type { ClientScope, LocalEdit } from './scope.js';

export interface UndoManagerOptions {
  /** Steps made within this many ms of the previous one join it. Default 0: one step per changeset. */
  captureTimeout?: number;
  /** The undo stack keeps at most this many steps (the oldest go). Default 100. */
  maxSteps?: number;
}

export interface UndoManagerEvents {
  /** A stack changed: `canUndo` / `canRedo` may have. */
  change: () => void;
}

interface Step {
  edits: LocalEdit[];
  at: number;
}

export class UndoManager extends Emitter<UndoManagerEvents> {
  readonly scope: ClientScope<ModelObject, object>;
  readonly #captureTimeout: number;
  readonly #maxSteps: number;
  #undo: Step[] = [];
  #redo: Step[] = [];
  /** Which stack the changeset being made goes to (null: a user edit). */
  #applying: 'undo' | 'redo' | null = null;

  /** One manager per scope: a second one replaces the first. */
  constructor(scope: ClientScope<ModelObject, object>, options: UndoManagerOptions = {}) {
    super();
    this.scope = scope;
    this.#captureTimeout = options.captureTimeout ?? 0;
    this.#maxSteps = options.maxSteps ?? 100;
    scope._setUndoHook((edits) => this.#record(edits));
  }

  get canUndo(): boolean {
    return this.#undo.length > 0;
  }

  get canRedo(): boolean {
    return this.#redo.length > 0;
  }

  /** Steps that can be undone. */
  get undoSize(): number {
    return this.#undo.length;
  }

  /** Steps that can be redone. */
  get redoSize(): number {
    return this.#redo.length;
  }

  /** Undoes the last step that still has something to undo; false when none had. */
  undo(): boolean {
    return this.#run(this.#undo, 'undo');
  }

  /** Redoes the last undone step; false when there is none (or nothing of it can be redone). */
  redo(): boolean {
    return this.#run(this.#redo, 'redo');
  }

  /** Forgets both stacks. */
  clear(): void {
    this.#undo = [];
    this.#redo = [];
    this.emit('change');
  }

  /** Stops recording (and forgets both stacks). */
  destroy(): void {
    this.scope._setUndoHook(null);
    this.clear();
  }

  /** A changeset was sealed: a user's edit, or the inverse this manager is applying. */
  #record(edits: LocalEdit[]): void {
    const now = Date.now();
    if (this.#applying === 'undo') this.#redo.push({ edits, at: now });
    else if (this.#applying === 'redo') this.#undo.push({ edits, at: now });
    else {
      this.#redo = [];
      const last = this.#undo[this.#undo.length - 1];
      if (last && now - last.at < this.#captureTimeout) {
        last.edits.push(...edits);
        last.at = now;
      } else {
        this.#undo.push({ edits, at: now });
        if (this.#undo.length > this.#maxSteps) this.#undo.shift();
      }
    }
    this.emit('change');
  }

  #run(stack: Step[], kind: 'undo' | 'redo'): boolean {
    // This turn's edits are a step of their own, made before the inverse.
    void this.scope.flush();
    let done = false;
    while (!done && stack.length > 0) {
      const step = stack.pop()!;
      this.#applying = kind;
      try {
        void this.scope.transaction(() => {
          done = revert(this.scope, step.edits);
        });
      } finally {
        this.#applying = null;
      }
    }
    this.emit('change');
    return done;
  }
}

/** Applies the inverse of `edits`, last first, where the scope still shows them. */
function revert(scope: ClientScope<ModelObject, object>, edits: LocalEdit[]): boolean {
  let changed = false;
  for (let k = edits.length - 1; k >= 0; k--) {
    const { obj, prop, prev, next } = edits[k]!;
    if (obj.scope !== scope) continue; // it left the scope since (someone removed it)
    const current = raw(obj, prop);
    let value: unknown;
    if (prop.isCollection && prop.kind === Kind.Model) {
      const before = new Set(prev as ModelObject[]);
      const after = new Set(next as ModelObject[]);
      const items = (current as ModelObject[]).filter((o) => before.has(o) || !after.has(o));
      (prev as ModelObject[]).forEach((o, i) => {
        if (!after.has(o) && !items.includes(o)) items.splice(Math.min(i, items.length), 0, o);
      });
      value = items;
    } else if (same(prop, current, next)) {
      value = prop.isCollection ? (prev as unknown[]).slice() : prev;
    } else {
      continue; // changed since by someone else: theirs stays
    }
    if (same(prop, current, value)) continue;
    obj._set(prop, value);
    changed = true;
  }
  return changed;
}

function raw(obj: ModelObject, prop: Property): unknown {
  const v = obj._get(prop);
  return v instanceof Collection ? v._items : v;
}

function same(prop: Property, a: unknown, b: unknown): boolean {
  if (!prop.isCollection) return sameValue(a, b);
  const x = a as unknown[];
  const y = b as unknown[];
  return x.length === y.length && x.every((v, i) => sameValue(v, y[i]));
}
