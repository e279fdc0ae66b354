// The store as a cluster process writes to it (docs/cluster.md, "Ownership"): an append is made
// only for scopes whose lease this process still trusts. A process that was paused (a long GC,
// SIGSTOP) may wake up with a group commit queued from before; by then another process may own
// the scope. The append is refused here, before it reaches the database, with an
// OutcomeUnknownError: the sessions whose changes it held are closed (their clients re-apply them
// on the new owner), and the scope is rebuilt from the store. An append already on its way when
// the lease ran out meets the new owner's fence in the database instead (a version conflict,
// see cluster-persistence.ts) and ends the same way.
import { OutcomeUnknownError } from '../errors.js';
import { DelegatingStore } from '../store/delegating.js';
import type { ChangeRecord, Store } from '../store/types.js';

export class FencedStore extends DelegatingStore {
  readonly #mayWrite: (scope: string) => boolean;

  /** `mayWrite(scope)`: this process owns `scope` and trusts its lease now. */
  constructor(store: Store, mayWrite: (scope: string) => boolean) {
    super(store);
    this.#mayWrite = mayWrite;
  }

  /**
   * One group in flight, never two: a group issued behind one that meets a new owner's fence
   * would be stored on top of that fence (the store checks versions, not who wrote them).
   */
  override get pipelinesAppends(): boolean {
    return false;
  }

  override append(records: ChangeRecord[]): Promise<void> {
    const lost = this.#lost(records);
    if (lost !== null) return Promise.reject(lost);
    // Checked before the write, but the write may still reach the database after a new owner
    // fenced the scope (a version conflict then): that too means the lease was lost.
    return this.inner.append(records).catch((err: unknown) => {
      throw this.#lost(records) ?? err;
    });
  }

  #lost(records: ChangeRecord[]): OutcomeUnknownError | null {
    for (const r of records) {
      if (!this.#mayWrite(r.scope)) {
        return new OutcomeUnknownError(
          `This process no longer owns scope '${r.scope}' (its lease ran out before the change was stored): start a new session`,
        );
      }
    }
    return null;
  }
}
