// Questions about the class graph of a schema, asked by the server's changeset engine and by the
// client SDK alike: which classes a fragment may name under a root, and which names a class
// answers to.
import type { ModelClass } from './model-object.js';
import { Kind } from './property.js';

/**
 * The classes a fragment may name under a root of class `root`, by name: the root's class,
 * every class reachable through reference properties, and every submodel of those (an object
 * of a submodel may stand wherever its model is expected, even when no property names the
 * submodel). The first class found keeps a name that two classes share.
 *
 * The map is cached on `root` (this runs for every changeset) until a definition changes a
 * class it reached; see {@link forgetReachable}. Do not modify it.
 */
export function reachableClasses(root: ModelClass): Map<string, ModelClass> {
  const cached = root.$reachable;
  if (cached !== null) return cached;
  const byName = new Map<string, ModelClass>();
  const queue: ModelClass[] = [root];
  const seen = new Set<ModelClass>();
  while (queue.length) {
    const c = queue.pop()!;
    if (seen.has(c)) continue;
    seen.add(c);
    c.$reachedFrom.add(root);
    if (!byName.has(c.typeName)) byName.set(c.typeName, c);
    for (const sub of c.$subclasses) queue.push(sub);
    for (const p of c.$props) if (p.kind === Kind.Model) queue.push(p.type);
  }
  root.$reachable = byName;
  return byName;
}

/**
 * @internal Drops the cached {@link reachableClasses} of every root that reached `cls`. The
 * model DSL calls it for each class whose properties or submodels change.
 */
export function forgetReachable(cls: ModelClass): void {
  const roots = cls.$reachedFrom;
  if (roots.size === 0) return;
  for (const root of roots) root.$reachable = null;
  roots.clear();
}

/** True when `cls` or one of its ancestors is named `name`: a fragment may name any of them. */
export function isClassNamed(cls: ModelClass, name: string): boolean {
  for (let c: ModelClass | null = cls; c; c = c.$super) if (c.typeName === name) return true;
  return false;
}
