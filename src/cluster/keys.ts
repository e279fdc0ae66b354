// The Redis keys of a cluster (docs/cluster.md, "What Redis holds"). Every key of one scope
// shares the hash tag `{scope}`, so that a scope's lease, epoch and log live on one Redis
// Cluster slot and one Lua script may touch them together.

export interface ClusterKeys {
  /** Who owns the scope now: the owner's process id, with a time to live (the lease). */
  lease(scope: string): string;
  /** The scope's fencing counter: incremented by every new lease (the lease's epoch). */
  epoch(scope: string): string;
  /** The scope's stream of accepted changes, in version order. */
  log(scope: string): string;
  /** A process's stream of forwarded changesets and their replies. */
  inbox(processId: string): string;
}

/** Key names under `prefix` (default `jetstream:`), so several clusters may share one Redis. */
export function clusterKeys(prefix = 'jetstream:'): ClusterKeys {
  return {
    lease: (scope) => `${prefix}{${scope}}:lease`,
    epoch: (scope) => `${prefix}{${scope}}:epoch`,
    log: (scope) => `${prefix}{${scope}}:log`,
    inbox: (processId) => `${prefix}inbox:${processId}`,
  };
}
