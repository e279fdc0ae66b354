// The three-way merge of a list (docs/protocol.md §7.10): a client sends a collection whole, and
// the server merges that list ("mine") with the collection's value now ("current"), relative to
// the value the client last saw ("base"), instead of replacing the current value with it.
//
// Pure: no model, no scope, no I/O. Elements are compared by key (a uuid for a reference, the
// value for a scalar, a Date's time). A key that occurs several times is told apart by its
// occurrence: the second "x" of a list is another element than its first "x".
//
// The rule, for base B, mine M and current C:
// - an element of B missing from M was removed by the client: it is removed from C;
// - an element of M missing from B was added by the client: it is inserted into C, unless C
//   holds it already. It goes after its nearest predecessor in M that the result holds, and
//   after the elements that follow that predecessor in C and are not in B (others' concurrent
//   insertions there, and elements the client removed), so that concurrent appends keep the
//   order the server applied them in. Without such a predecessor, it goes to the front, after
//   the elements that lead C and are not in B;
// - every other element of C stays, in C's order: the client's reordering of elements applies
//   only when C equals B (nothing changed on the server since the client's view), and then the
//   result is M itself.

/** A list element as the merge compares it: a uuid, a scalar, or a Date's time in ms. */
export type ListKey = string | number | boolean;

/** The key of a stored or decoded list element: a model object's uuid, a Date's time, else itself. */
export function listKey(value: unknown): ListKey {
  if (typeof value === 'object' && value !== null) {
    if (value instanceof Date) return value.getTime();
    return (value as { uuid: string }).uuid;
  }
  return value as ListKey;
}

/** The keys of a list's elements (see listKey), in order. */
export function listKeys(values: readonly unknown[]): ListKey[] {
  const out = new Array<ListKey>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = listKey(values[i]);
  return out;
}

/** True when both lists hold the same keys in the same order. */
export function sameList(a: readonly ListKey[], b: readonly ListKey[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Merges `mine` (the client's list) into `current` relative to `base` (the client's view when it
 * made `mine`), by the rule in this module's header. Deterministic: the result depends on the
 * three lists only. Returns `mine` itself when the result equals it, `current` itself when the
 * result equals that.
 */
export function mergeLists<K extends ListKey>(
  base: readonly K[],
  mine: readonly K[],
  current: readonly K[],
): readonly K[] {
  if (sameList(current, base)) return mine;
  if (sameList(mine, current)) return mine;
  if (sameList(mine, base)) return current; // the client changed nothing
  const out = appendOnly(base, mine, current) ?? trimmed(base, mine, current);
  if (sameList(out, mine)) return mine;
  if (sameList(out, current)) return current;
  return out;
}

/** True when `list` starts with every element of `prefix`, in order. */
function startsWith(list: readonly ListKey[], prefix: readonly ListKey[]): boolean {
  if (list.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (list[i] !== prefix[i]) return false;
  return true;
}

/**
 * The common case, without maps over the whole lists: both the client and the server only
 * appended to `base`. Then the result is `current` followed by the client's appended elements
 * that `current` does not hold yet (what the general rule gives too).
 */
function appendOnly<K extends ListKey>(
  base: readonly K[],
  mine: readonly K[],
  current: readonly K[],
): K[] | null {
  if (!startsWith(mine, base) || !startsWith(current, base)) return null;
  // Past the common prefix, the n-th occurrence of a key in mine's tail is the same element as
  // the n-th in current's tail (occurrences in the prefix are the same in both).
  const held = new Map<K, number>();
  for (let i = base.length; i < current.length; i++) held.set(current[i]!, (held.get(current[i]!) ?? 0) + 1);
  const out = current.slice();
  for (let i = base.length; i < mine.length; i++) {
    const k = mine[i]!;
    const n = held.get(k) ?? 0;
    if (n > 0) held.set(k, n - 1);
    else out.push(k);
  }
  return out;
}

/** How many times each key occurs in `list`. */
function counts<K extends ListKey>(list: readonly K[]): Map<K, number> {
  const m = new Map<K, number>();
  for (let i = 0; i < list.length; i++) m.set(list[i]!, (m.get(list[i]!) ?? 0) + 1);
  return m;
}

/** For each position of `list`, the number of earlier occurrences of its key: its occurrence. */
function occurrences<K extends ListKey>(list: readonly K[]): Int32Array {
  const seen = new Map<K, number>();
  const occ = new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const k = list[i]!;
    const n = seen.get(k) ?? 0;
    occ[i] = n;
    seen.set(k, n + 1);
  }
  return occ;
}

/**
 * The rule applied to what lies between the longest prefix and suffix the three lists share: a
 * change in a long list is usually a few elements at one place, and the maps the rule needs are
 * then built for those only. Elements of the shared prefix and suffix are in all three lists, so
 * they stay where they are.
 */
function trimmed<K extends ListKey>(base: readonly K[], mine: readonly K[], current: readonly K[]): K[] {
  const n = Math.min(base.length, mine.length, current.length);
  let p = 0;
  while (p < n && base[p] === mine[p] && mine[p] === current[p]) p++;
  let s = 0;
  const at = (list: readonly K[], i: number) => list[list.length - 1 - i];
  while (s < n - p && at(base, s) === at(mine, s) && at(mine, s) === at(current, s)) s++;
  if (s > 0) {
    // The n-th occurrence of a key is an element of its own: a key of the shared suffix that
    // also occurs between prefix and suffix would not be the same element in all three lists.
    const between = new Set<K>();
    for (let i = p; i < base.length - s; i++) between.add(base[i]!);
    for (let i = p; i < mine.length - s; i++) between.add(mine[i]!);
    for (let i = p; i < current.length - s; i++) between.add(current[i]!);
    for (let i = current.length - s; i < current.length && s > 0; i++) if (between.has(current[i]!)) s = 0;
  }
  const b = base.slice(p, base.length - s);
  const m = mine.slice(p, mine.length - s);
  const c = current.slice(p, current.length - s);
  const middle = distinct(b, m, c) ?? general(b, m, c);
  if (p === 0 && s === 0) return middle;
  const out = current.slice(0, p);
  for (const k of middle) out.push(k);
  for (let i = current.length - s; i < current.length; i++) out.push(current[i]!);
  return out;
}

/** The set of `list`'s keys, or null when a key occurs twice. */
function setOf<K extends ListKey>(list: readonly K[]): Set<K> | null {
  const set = new Set<K>(list);
  return set.size === list.length ? set : null;
}

/**
 * The general rule when no list repeats a key (every list of references, in practice): the same
 * result as `general`, with sets instead of occurrence counts. Null when a key repeats.
 */
function distinct<K extends ListKey>(
  base: readonly K[],
  mine: readonly K[],
  current: readonly K[],
): K[] | null {
  const inBase = setOf(base);
  if (inBase === null) return null;
  const inMine = setOf(mine);
  if (inMine === null) return null;
  const at = new Map<K, number>();
  for (let j = 0; j < current.length; j++) at.set(current[j]!, j);
  if (at.size !== current.length) return null;
  // Kept: not removed by the client. Transparent (skipped when placing an insertion): removed,
  // or inserted by others since the base.
  const kept = new Uint8Array(current.length);
  const transparent = new Uint8Array(current.length);
  for (let j = 0; j < current.length; j++) {
    const k = current[j]!;
    const b = inBase.has(k);
    const removed = b && !inMine.has(k);
    kept[j] = removed ? 0 : 1;
    transparent[j] = removed || !b ? 1 : 0;
  }
  return place(mine, current, kept, transparent, (k) => at.get(k) ?? (inBase.has(k) ? -2 : -1));
}

/**
 * Places the client's insertions into `current` (see the rule): `where(k)` is k's position in
 * current, -1 when k was added by the client (not in base, not in current), -2 when someone
 * else removed it (in base, gone from current).
 */
function place<K extends ListKey>(
  mine: readonly K[],
  current: readonly K[],
  kept: Uint8Array,
  transparent: Uint8Array,
  where: (k: K, i: number) => number,
): K[] {
  const anchorAfter = (j: number): number => {
    while (j + 1 < current.length && transparent[j + 1] === 1) j++;
    return j;
  };
  // Insertions, in mine's order, each into the bucket that follows one position of current (-1:
  // the front). An insertion whose predecessor is an earlier insertion joins that one's bucket,
  // right after it: nothing else can have joined the bucket in between.
  const buckets = new Map<number, K[]>();
  let bucket: K[] | null = null; // the bucket of the last present element of mine, if an insertion
  let anchor = -1; // the position in current the next insertion follows, before skipping
  for (let i = 0; i < mine.length; i++) {
    const k = mine[i]!;
    const j = where(k, i);
    if (j >= 0) {
      // In current (and not removed: mine holds it): the next insertion follows it.
      bucket = null;
      anchor = j;
      continue;
    }
    if (j === -2) continue; // removed by someone else
    if (bucket === null) {
      const a = anchorAfter(anchor);
      let b = buckets.get(a);
      if (!b) buckets.set(a, (b = []));
      bucket = b;
    }
    bucket.push(k);
  }
  const out: K[] = [];
  const front = buckets.get(-1);
  if (front) for (const k of front) out.push(k);
  for (let j = 0; j < current.length; j++) {
    if (kept[j] === 1) out.push(current[j]!);
    const b = buckets.get(j);
    if (b) for (const k of b) out.push(k);
  }
  return out;
}

/**
 * The general rule. An element is (key, occurrence); it belongs to a list of `n` occurrences of
 * its key when its occurrence is below `n`, so three count maps answer every membership question.
 */
function general<K extends ListKey>(base: readonly K[], mine: readonly K[], current: readonly K[]): K[] {
  const inBase = counts(base);
  const inMine = counts(mine);
  const inCurrent = counts(current);
  const count = (m: Map<K, number>, k: K) => m.get(k) ?? 0;

  // current's elements: kept unless the client removed them (in base, not in mine); those not in
  // base are others' insertions since the client's view.
  const occC = occurrences(current);
  const kept = new Uint8Array(current.length);
  const transparent = new Uint8Array(current.length); // skipped over when placing an insertion
  /** Position in current of each (key, occurrence): the first occurrence in `first`, others in `more`. */
  const first = new Map<K, number>();
  let more: Map<K, number[]> | null = null;
  for (let j = 0; j < current.length; j++) {
    const k = current[j]!;
    const o = occC[j]!;
    const removed = o < count(inBase, k) && o >= count(inMine, k);
    kept[j] = removed ? 0 : 1;
    transparent[j] = removed || o >= count(inBase, k) ? 1 : 0;
    if (o === 0) first.set(k, j);
    else {
      more ??= new Map();
      let list = more.get(k);
      if (!list) more.set(k, (list = []));
      list[o - 1] = j;
    }
  }
  const positionInCurrent = (k: K, o: number): number => (o === 0 ? first.get(k)! : more!.get(k)![o - 1]!);
  const occM = occurrences(mine);
  return place(mine, current, kept, transparent, (k, i) => {
    const o = occM[i]!;
    if (o < count(inCurrent, k)) return positionInCurrent(k, o);
    return o < count(inBase, k) ? -2 : -1;
  });
}
