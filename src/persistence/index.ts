// persistence/: durability behind one seam (Persistence, types.ts): opening scopes from a store
// or creating them, group commit before acknowledgement, snapshots, and restoring a scope after
// a failed append. EphemeralPersistence serves servers without a store. Depends on scope/,
// model/ and the Store interface of store/; must not import server/ or transport/.
export { EphemeralPersistence } from './ephemeral.js';
export { GroupCommit, type GroupCommitOptions, snapshotOf } from './group-commit.js';
export { restoreScope } from './restore.js';
export { foldSchema } from './schema.js';
export { StorePersistence, type StorePersistenceOptions } from './store-persistence.js';
export type { CommitCallback, OpenScopeOptions, Persistence, PersistenceHost } from './types.js';
