// No store: scopes live in memory only, and an accepted change is safe as soon as it is applied.
import type { WireError } from '../errors.js';
import { Scope } from '../scope/scope.js';
import type { CommitCallback, OpenScopeOptions, Persistence } from './types.js';

export class EphemeralPersistence implements Persistence {
  readonly durable = false;
  readonly store = null;

  async open(options: OpenScopeOptions): Promise<Scope> {
    const { root, ...scopeOptions } = options;
    const scope = new Scope(scopeOptions);
    scope.setRoot(root());
    return scope;
  }

  writeBlocked(_scope: Scope): WireError | null {
    return null;
  }

  afterCommit(fn: CommitCallback): void {
    fn(null);
  }

  async drain(): Promise<void> {}

  async release(_scope: Scope): Promise<void> {}

  async close(): Promise<void> {}
}
