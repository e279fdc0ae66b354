// scope/: Scope (root, uuid index, change capture), the changeset engine, and the update
// operators. Server-side; depends on model/ only. Must not import server/, transport/ or store/.
export { commit, plan } from './changeset.js';
export {
  derivedClasses,
  KeyPath,
  KeyPathNotation,
  type KeyPathResult,
  type ResolvedProperty,
  resolveModelObject,
  resolveProperty,
} from './key-path.js';
export { Scope, type ScopeEvents, type ScopeOptions, scope } from './scope.js';
export type { AppliedFragment, ApplyOptions, ChangeContext, ChangesetResult } from './types.js';
export {
  emptyQueryResult,
  mergeQueryResults,
  Operator,
  type OperatorName,
  type QueryResult,
  type QueryResultEntry,
  type UpdatableScope,
  type UpdateOptions,
  type UpdateQuery,
  type UpdateSpec,
  update,
} from './update.js';
