// The type `client.fetch()` resolves with: a ClientScope whose root is known to exist.
import type { ModelObject } from '../model/model-object.js';
import type { PresenceState } from './presence.js';
import type { ClientScope } from './scope.js';

/**
 * A scope `client.fetch()` resolved with. `fetch()` resolves only once the scope's state (or a
 * stored one, with `offline`) has been applied, and that state always has a root, which stays:
 * a later state replaces the objects under it, never the root object itself. So `root` is typed
 * non-null here, and `scope.root.name` compiles under `strict` without `!` (docs/client.md,
 * "Client"). A ClientScope built by hand has `root: T | null` until its first state.
 */
export type FetchedScope<T extends ModelObject = ModelObject, P extends object = PresenceState> = ClientScope<
  T,
  P
> & {
  /** The root object of the scope, of the class given to `fetch()`. */
  readonly root: T;
};
