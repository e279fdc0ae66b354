// The usual set-up of a test about what one session sees of another's doings: two sessions on a
// server, both holding the same scope. `withTwoClients` creates them, fetches, runs the test body
// and always closes both sockets (also when the body throws or replaced a client).
import { type ConnectOptions, type Msg, TestClient } from './ws-client.js';

export interface TwoClients {
  a: TestClient;
  b: TestClient;
  /** A's ScopeState of the scope (its `scopeIndex` is A's index for it; 0 on a fresh session). */
  stateA: Msg;
  /** B's ScopeState of the scope. */
  stateB: Msg;
}

export interface TwoClientsOptions {
  /** The scope both fetch. Default 'Canvas'. */
  scope?: string;
  /** Fetch params (both clients). */
  params?: Record<string, unknown>;
  /** Send both ScopeFetches at once instead of A's first, then B's. */
  concurrent?: boolean;
  /** SessionCreate params (both clients). */
  session?: Record<string, unknown>;
  /** Socket options (both clients). */
  connect?: ConnectOptions;
}

/**
 * Two sessions on `port` (A created first), both holding `options.scope`: runs `body` with them
 * and closes both afterwards. A fetch that is refused fails the set-up with the reply.
 */
export function withTwoClients<T>(port: number, body: (clients: TwoClients) => Promise<T>): Promise<T>;
export function withTwoClients<T>(
  port: number,
  options: TwoClientsOptions,
  body: (clients: TwoClients) => Promise<T>,
): Promise<T>;
export async function withTwoClients<T>(
  port: number,
  ...args: [(clients: TwoClients) => Promise<T>] | [TwoClientsOptions, (clients: TwoClients) => Promise<T>]
): Promise<T> {
  const [options, body] = args.length === 1 ? [{}, args[0]] : args;
  const scope = options.scope ?? 'Canvas';
  const params = options.params ?? {};
  const a = await TestClient.session(port, options.session, options.connect);
  let b: TestClient | undefined;
  try {
    b = await TestClient.session(port, options.session, options.connect);
    const fetch = async (c: TestClient, who: string): Promise<Msg> => {
      const { reply, state } = await c.fetch(scope, params);
      if (!state) throw new Error(`set-up: ${who}'s fetch of ${scope} was refused: ${JSON.stringify(reply)}`);
      return state;
    };
    const [stateA, stateB] = options.concurrent
      ? await Promise.all([fetch(a, 'A'), fetch(b, 'B')])
      : [await fetch(a, 'A'), await fetch(b, 'B')];
    return await body({ a, b, stateA, stateB });
  } finally {
    await a.close();
    await b?.close();
  }
}
