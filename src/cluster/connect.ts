// Redis connections of a cluster process, from the server's `cluster` option.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { ClusterOption } from '../server/options.js';
import type { Logger } from '../util/logger.js';
import { IOREDIS, loadOptional } from '../util/optional-module.js';

export interface ClusterConnections {
  /** For commands (leases, log appends, requests). */
  redis: Redis;
  /** Another connection to the same Redis, closed by close(). */
  connect: () => Redis;
  processId: string;
  /** Closes every connection made here (not a client the application passed). */
  close(): Promise<void>;
}

export function clusterConnections(option: ClusterOption, logger: Logger): ClusterConnections {
  if (!option || (typeof option.redis !== 'string' && typeof option.redis?.duplicate !== 'function')) {
    throw new TypeError('The cluster option needs `redis`: a Redis URL or an ioredis client');
  }
  const made: Redis[] = [];
  const track = (r: Redis) => {
    // Errors surface as rejected commands where they matter; ioredis reconnects on its own.
    r.on('error', (err: Error) => logger.warn({ err }, 'Redis connection error'));
    made.push(r);
    return r;
  };
  // A RedisClient (options.ts) is an ioredis client by contract; its type is only a shape.
  const source = option.redis as string | Redis;
  // A command on this connection waits at most as long as a forwarded changeset may: while Redis
  // is away, ioredis would otherwise keep it queued until its reconnection attempts give up
  // (about 10 s, later about 40 s), and a client's changeset waiting on it (the owner lookup of
  // a forward) would go that long without an answer (docs/cluster.md, "Faults"). Not on the
  // blocking connections (connect()): their reads wait by design.
  const commandTimeout = option.forwardTimeoutMs ?? 5000;
  // Auto-pipelining: the commands of one event-loop turn (log appends and lease renewals of many
  // scopes, forwarded changesets) leave in one write instead of one each.
  const redis =
    typeof source === 'string'
      ? track(new (loadOptional(IOREDIS).Redis)(source, { commandTimeout, enableAutoPipelining: true }))
      : source;
  const connect = () =>
    track(typeof source === 'string' ? new (loadOptional(IOREDIS).Redis)(source) : source.duplicate());
  const processId = option.processId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  return {
    redis,
    connect,
    processId,
    async close() {
      await Promise.all(made.map((r) => r.quit().catch(() => r.disconnect())));
    },
  };
}
