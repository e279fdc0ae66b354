// A collection property's value. It looks like a read-only array (index via at(), length,
// iteration, map/filter…) and every mutation goes through methods that validate the new
// elements first (all or nothing), keep parent links right and report the change once.
// It is deliberately not an Array subclass: `arr[0] = x` on an array would bypass all of that.
import type { Property } from './property.js';

/** What a collection needs from the object that owns it (implemented by ModelObject). */
export interface CollectionOwner {
  _collectionWillChange(prop: Property, next: unknown[]): unknown[];
  _collectionDidChange(prop: Property, previous: unknown[], next: unknown[]): void;
}

export class Collection<T = unknown> implements Iterable<T> {
  /** @internal The elements; replaced (never mutated in place) on every change. */
  _items: T[];

  constructor(
    private readonly owner: CollectionOwner,
    readonly property: Property,
    items: T[],
  ) {
    this._items = items;
  }

  get length(): number {
    return this._items.length;
  }

  /** The element at `index`; negative indices count from the end. */
  at(index: number): T | undefined {
    return this._items.at(index);
  }

  /** The original server's name for at(). */
  objectAtIndex(index: number): T | undefined {
    return this.at(index);
  }

  /** Replaces the element at `index` (negative counts from the end). */
  set(index: number, value: T): void {
    const i = index < 0 ? this._items.length + index : index;
    if (i < 0 || i >= this._items.length) throw new RangeError(`Index ${index} is out of range`);
    const next = this._items.slice();
    next[i] = value;
    this._replace(next);
  }

  push(...values: T[]): number {
    this._replace(this._items.concat(values));
    return this._items.length;
  }

  pop(): T | undefined {
    if (this._items.length === 0) return undefined;
    const last = this._items[this._items.length - 1];
    this._replace(this._items.slice(0, -1));
    return last;
  }

  shift(): T | undefined {
    if (this._items.length === 0) return undefined;
    const first = this._items[0];
    this._replace(this._items.slice(1));
    return first;
  }

  unshift(...values: T[]): number {
    this._replace(values.concat(this._items));
    return this._items.length;
  }

  splice(start: number, deleteCount?: number, ...values: T[]): T[] {
    const next = this._items.slice();
    const removed =
      deleteCount === undefined ? next.splice(start) : next.splice(start, deleteCount, ...values);
    this._replace(next);
    return removed;
  }

  /** Removes every element equal to `value`; returns how many were removed. */
  remove(value: T): number {
    const next = this._items.filter((v) => !sameValue(v, value));
    const n = this._items.length - next.length;
    if (n > 0) this._replace(next);
    return n;
  }

  /** Replaces the whole contents. */
  setAsArray(values: readonly T[]): void {
    this._replace(values.slice());
  }

  clear(): void {
    if (this._items.length) this._replace([]);
  }

  slice(start?: number, end?: number): T[] {
    return this._items.slice(start, end);
  }
  toArray(): T[] {
    return this._items.slice();
  }
  indexOf(value: T): number {
    return this._items.findIndex((v) => sameValue(v, value));
  }
  includes(value: T): boolean {
    return this.indexOf(value) >= 0;
  }
  forEach(fn: (value: T, index: number) => void): void {
    for (let i = 0; i < this._items.length; i++) fn(this._items[i]!, i);
  }
  map<U>(fn: (value: T, index: number) => U): U[] {
    return this._items.map((v, i) => fn(v, i));
  }
  filter(fn: (value: T, index: number) => boolean): T[] {
    return this._items.filter((v, i) => fn(v, i));
  }
  find(fn: (value: T, index: number) => boolean): T | undefined {
    return this._items.find((v, i) => fn(v, i));
  }
  some(fn: (value: T, index: number) => boolean): boolean {
    return this._items.some((v, i) => fn(v, i));
  }
  every(fn: (value: T, index: number) => boolean): boolean {
    return this._items.every((v, i) => fn(v, i));
  }
  [Symbol.iterator](): Iterator<T> {
    return this._items[Symbol.iterator]();
  }
  toJSON(): T[] {
    return this._items.slice();
  }

  private _replace(next: T[]): void {
    const validated = this.owner._collectionWillChange(this.property, next) as T[];
    const previous = this._items;
    this._items = validated;
    this.owner._collectionDidChange(this.property, previous, validated);
  }
}

export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
}
