// Rebuilding a scope from what a store holds: the snapshot, then every later change record,
// through the same changeset engine that validated them the first time. Stored data that no
// longer fits the models (a property or class removed since) is reported, not fatal: the
// unknown parts are dropped with a warning naming them; a property added since loads with its
// default.

import { reachableClasses } from '../model/classes.js';
import type { ModelClass, ModelObject } from '../model/model-object.js';
import type { Scope } from '../scope/scope.js';
import type { Fragment } from '../scope/types.js';
import type { LoadedScope, StoredFragment } from '../store/types.js';

/**
 * Fills `scope` (which must have no root yet) from `loaded`. `rootClass` is the class of the
 * scope's root. Returns the warnings about stored data that does not fit the models.
 */
export function restoreScope(scope: Scope, rootClass: ModelClass, loaded: LoadedScope): string[] {
  const warnings: string[] = [];
  const snapshot = loaded.snapshot;
  if (!snapshot || snapshot.fragments.length === 0) {
    throw new Error(`Stored scope '${scope.name}' has no snapshot to start from`);
  }
  const rootFragment = snapshot.fragments[0]!;
  if (rootFragment.clsName !== rootClass.typeName && !rootClass.isSubclassOf(rootFragment.clsName)) {
    warnings.push(
      `Stored scope '${scope.name}': root is a ${rootFragment.clsName}, the application's root a ${rootClass.typeName}`,
    );
  }
  const root: ModelObject = new rootClass({ uuid: snapshot.rootUUID });
  scope.setRoot(root);
  const classes = reachableClasses(rootClass);
  const apply = (fragments: StoredFragment[], where: string) => {
    const fitted = fit(fragments, classes, scope, root, warnings, where);
    // replay: rebuilding what the store (and the clients) already have: not stored, not broadcast.
    const { results } = scope.applyChangeset(fitted, { replay: true });
    results.forEach((e, i) => {
      if (e) warnings.push(`Stored scope '${scope.name}', ${where}, fragment ${i}: ${e.message}`);
    });
  };
  apply(snapshot.fragments, `snapshot v${snapshot.version}`);
  for (const record of loaded.changes) apply(record.fragments, `change v${record.version}`);
  scope.version = loaded.version;
  return warnings;
}

/**
 * Drops fragments of unknown classes and properties the models no longer declare. A property is
 * checked against the class of the object it is set on: a `change` may name a superclass of its
 * target (docs/protocol.md §6.1), and still set a property only the target's own class declares.
 */
function fit(
  fragments: StoredFragment[],
  classes: Map<string, ModelClass>,
  scope: Scope,
  root: ModelObject,
  warnings: string[],
  where: string,
): Fragment[] {
  const out: Fragment[] = [];
  const added = new Map<string, ModelClass>();
  for (const f of fragments) {
    const cls = f.type === 'add' ? classes.get(f.clsName) : undefined;
    if (cls) added.set(f.uuid, cls);
  }
  const classOf = (f: StoredFragment): ModelClass | undefined => {
    if (f.uuid === root.uuid) return root.constructor as ModelClass;
    if (f.type !== 'change') return classes.get(f.clsName);
    const target = scope.get(f.uuid);
    return (target?.constructor as ModelClass | undefined) ?? added.get(f.uuid) ?? classes.get(f.clsName);
  };
  const resolved = fragments.map(classOf);
  const dropped = new Set<string>();
  fragments.forEach((f, i) => {
    if (!resolved[i]) dropped.add(f.uuid);
  });
  for (let i = 0; i < fragments.length; i++) {
    const f = fragments[i]!;
    const cls = resolved[i];
    if (!cls) {
      warnings.push(`${where}: class '${f.clsName}' is no longer defined; object ${f.uuid} dropped`);
      continue;
    }
    let properties = f.properties;
    for (const key of Object.keys(properties)) {
      if (!cls.$propMap[key]) {
        if (properties === f.properties) properties = { ...f.properties };
        delete properties[key];
        warnings.push(`${where}: property '${f.clsName}.${key}' is no longer defined; value dropped`);
      } else if (dropped.size && cls.$propMap[key]!.isModel) {
        // References to objects of a dropped class go with them.
        const v = properties[key];
        const keep = Array.isArray(v)
          ? v.filter((u) => !dropped.has(u as string))
          : dropped.has(v as string)
            ? null
            : v;
        if (keep !== v && (!Array.isArray(v) || (keep as unknown[]).length !== v.length)) {
          if (properties === f.properties) properties = { ...f.properties };
          properties[key] = keep;
        }
      }
    }
    out.push(
      f.uuid === root.uuid
        ? { type: 'change', uuid: f.uuid, clsName: cls.typeName, properties }
        : { ...f, properties },
    );
  }
  return out;
}
