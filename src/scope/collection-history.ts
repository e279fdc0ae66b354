// Past values of a scope's collections, by scope version: what a session's client saw of a
// collection at the version it last acknowledged, the base its next change of that collection is
// merged against (docs/protocol.md §7.10).
//
// Every change of a collection property of an existing object is recorded with the version of
// the change that made it: the new items array (collections replace their items array on every
// change, never mutate it, so recording it copies nothing). The first record of a collection
// also keeps the value it had before (the changeset engine and server-side assignments report
// it); recorded without it, the value before the first record is unknown.
//
// Bounded: at most MAX_VALUES recorded values and MAX_ELEMENTS elements in them, over all the
// scope's collections; past either, the oldest are forgotten. A value older than what is kept is
// unknown (null), and the caller falls back to replacing (docs/collaboration.md).
import type { ModelObject } from '../model/model-object.js';
import type { Property } from '../model/property.js';

/** Recorded collection values a scope keeps at most (over all its collections). */
export const MAX_VALUES = 256;
/** Elements those values may hold together (references to shared arrays: ~8 MB at most). */
export const MAX_ELEMENTS = 1 << 20;

interface Entry {
  version: number;
  key: Key;
  /** The collection's items after the change at `version`. */
  after: readonly unknown[];
}

interface Key {
  obj: ModelObject;
  prop: Property;
  /** The value before the first entry, valid from version `from` on; null: unknown. */
  initial: readonly unknown[] | null;
  from: number;
  /** This collection's entries, oldest first (a subsequence of the history's queue). */
  entries: Entry[];
}

export interface HistoryLimits {
  maxValues: number;
  maxElements: number;
}

export class CollectionHistory {
  readonly #limits: HistoryLimits;
  readonly #keys = new Map<ModelObject, Map<Property, Key>>();
  /** Every entry, oldest first, from #head on. */
  #queue: Entry[] = [];
  #head = 0;
  #elements = 0;
  /**
   * From this version on, a collection without a key record holds its current value. Null until
   * the first change, record or lookup after a (re)start (see begin): a scope rebuilt from its
   * store only then has the version its later changes follow.
   */
  #floor: number | null = null;

  constructor(limits: HistoryLimits = { maxValues: MAX_VALUES, maxElements: MAX_ELEMENTS }) {
    this.#limits = limits;
  }

  /** Recorded values (for tests and the inspector). */
  get size(): number {
    return this.#queue.length - this.#head;
  }

  /** Elements held by recorded values and the values before them. */
  get elements(): number {
    return this.#elements;
  }

  /**
   * Records that the change at `version` set `obj.prop` to `after`; `before` is its value before
   * that change, undefined when the caller does not know it. Versions are recorded in order.
   */
  record(
    version: number,
    obj: ModelObject,
    prop: Property,
    before: readonly unknown[] | undefined,
    after: readonly unknown[],
  ): void {
    this.#floor ??= version - 1;
    let props = this.#keys.get(obj);
    if (!props) this.#keys.set(obj, (props = new Map()));
    let key = props.get(prop);
    if (!key) {
      key = { obj, prop, initial: before ?? null, from: this.#floor, entries: [] };
      props.set(prop, key);
      this.#elements += before?.length ?? 0;
    }
    const entry: Entry = { version, key, after };
    key.entries.push(entry);
    this.#queue.push(entry);
    this.#elements += after.length;
    this.#trim();
  }

  /**
   * The value of `obj.prop` as of scope version `version`, or null when it is not known any more
   * (or was never recorded). `currentVersion` and `current` are the scope's version and the
   * collection's items now.
   */
  valueAt(
    obj: ModelObject,
    prop: Property,
    version: number,
    currentVersion: number,
    current: readonly unknown[],
  ): readonly unknown[] | null {
    this.#floor ??= currentVersion;
    if (version < 0 || version > currentVersion) return null;
    const key = this.#keys.get(obj)?.get(prop);
    if (!key) return version >= this.#floor ? current : null;
    if (version < key.from) return null;
    const entries = key.entries;
    for (let i = entries.length - 1; i >= 0; i--)
      if (entries[i]!.version <= version) return entries[i]!.after;
    return key.initial;
  }

  /**
   * The scope is about to make the change after version `version`, and reports every change
   * from now on: the history is complete from `version` (unless it already was from earlier).
   */
  begin(version: number): void {
    this.#floor ??= version;
  }

  /** Forgets everything: the scope was rebuilt, and versions may come again with other contents. */
  reset(): void {
    this.#keys.clear();
    this.#queue = [];
    this.#head = 0;
    this.#elements = 0;
    this.#floor = null;
  }

  /** Forgets the oldest entries while over a limit. */
  #trim(): void {
    const { maxValues, maxElements } = this.#limits;
    while (this.#queue.length - this.#head > 0 && (this.size > maxValues || this.#elements > maxElements)) {
      const e = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Entry;
      const key = e.key;
      key.entries.shift(); // the key's oldest: the queue is in version order
      // Its value is now where the key's known history starts.
      this.#elements -= key.initial?.length ?? 0;
      key.initial = e.after;
      key.from = e.version;
      if (key.entries.length === 0) {
        // Nothing recorded after it: the collection holds `after` now. Forget the key, and let
        // every key without a record be known from here on only.
        this.#elements -= e.after.length;
        const props = this.#keys.get(key.obj)!;
        props.delete(key.prop);
        if (props.size === 0) this.#keys.delete(key.obj);
        if (this.#floor === null || e.version > this.#floor) this.#floor = e.version;
      }
    }
    if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
