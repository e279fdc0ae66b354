// Shared by the client's end-to-end tests: a real server with the demo scopes, a `ws` WebSocket
// that can lose frames or its connection on demand, and tree comparison.
import WebSocket from 'ws';
import { demoScopes } from '../../demo/server.js';
import { type ModelObject, walkTree } from '../../src/model/index.js';
import { createServer } from '../../src/server/index.js';

export async function startServer(options: { sessionExpiry?: number } = {}) {
  const { canvas, chat } = demoScopes();
  const server = await createServer({ port: 0, scopes: [canvas, chat], ...options });
  return { server, canvas, chat, url: `ws://127.0.0.1:${server.port}/` };
}

/** Rules for a FlakySocket class: each returns true to act on a frame's text. */
export interface Faults {
  /** Swallow an outgoing frame (it never reaches the server). */
  dropOut?: (text: string) => boolean;
  /** Kill the connection right after writing this frame. */
  killAfterSend?: (text: string) => boolean;
  /** Kill the connection when this frame arrives, before the client sees it. */
  killOnReceive?: (text: string) => boolean;
}

/** A `ws` WebSocket class whose instances obey `faults` (mutable) and are listed in `sockets`. */
export function flakySocket(faults: Faults = {}) {
  const sockets: WebSocket[] = [];
  class FlakySocket extends WebSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
    override send(data: unknown, ...rest: unknown[]): void {
      const text = String(data);
      if (faults.dropOut?.(text)) return;
      (super.send as (...a: unknown[]) => void).apply(this, [data, ...rest]);
      if (faults.killAfterSend?.(text)) this.terminate();
    }
    override emit(event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'message' && faults.killOnReceive?.(String(args[0]))) {
        this.terminate();
        return false;
      }
      return super.emit(event, ...args);
    }
  }
  return { FlakySocket, sockets, faults };
}

/** Waits (without a deadline: the test runner has one) until `cond()` holds. */
export async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

/** A comparable picture of a tree: every object with its wire properties, sorted by uuid. */
export function tree(root: ModelObject | null): string[] {
  if (!root) return [];
  return walkTree(root)
    .map((o) => `${o.uuid} ${o.typeName} ${JSON.stringify(o.toWireProperties())}`)
    .sort();
}
