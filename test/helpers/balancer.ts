// A small TCP load balancer for the cluster tests (docs/cluster.md: "any TCP or HTTP load
// balancer in front", no sticky routing): it listens on a loopback port and forwards each new
// connection to the next backend in round-robin order, skipping backends that refuse the
// connection (a killed process), so that a client's reconnect lands on another process. It keeps
// each client's source address (the upstream connection is bound to it, as a transparent or
// PROXY-protocol balancer would show it): the server's per-address limits and cooldowns
// (docs/server.md, "Limits") then apply per client, not to every client of the balancer at once.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface Balancer {
  port: number;
  /** How many connections went to each backend port (by port). */
  readonly routed: Map<number, number>;
  /** How many forwarded connections to each backend port are open now. */
  readonly live: Map<number, number>;
  /** Backend ports, in round-robin order: push to add one. */
  readonly backends: number[];
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

/** Starts a balancer in front of `backends` (ports on 127.0.0.1). */
export async function startBalancer(ports: number[]): Promise<Balancer> {
  const backends = [...ports];
  let next = 0;
  const routed = new Map<number, number>();
  const live = new Map<number, number>();
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };

  /** Connects to the next backend that accepts, trying each at most once. */
  const dial = (from: string | undefined, tried = 0): Promise<Socket | null> => {
    if (tried >= backends.length) return Promise.resolve(null);
    const port = backends[next++ % backends.length]!;
    return new Promise((resolve) => {
      const upstream = createConnection({ host: '127.0.0.1', port, ...(from ? { localAddress: from } : {}) });
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        routed.set(port, (routed.get(port) ?? 0) + 1);
        live.set(port, (live.get(port) ?? 0) + 1);
        upstream.once('close', () => live.set(port, live.get(port)! - 1));
        resolve(upstream);
      });
      upstream.once('error', () => {
        upstream.destroy();
        resolve(dial(from, tried + 1));
      });
    });
  };

  const server: Server = createServer((client) => {
    track(client);
    client.pause();
    client.on('error', () => {});
    void dial(client.remoteAddress).then((upstream) => {
      if (!upstream) {
        client.destroy();
        return;
      }
      track(upstream);
      upstream.on('error', () => {});
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      // Either side ending or failing ends the other: a killed backend drops its clients.
      client.pipe(upstream);
      upstream.pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
      client.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    routed,
    live,
    backends,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
