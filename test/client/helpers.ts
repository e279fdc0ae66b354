// Shared by the client's end-to-end tests: a real server with the demo scopes, a `ws` WebSocket
// that can lose frames or its connection on demand, and tree comparison.
import WebSocket from 'ws';
import { demoScopes } from '../../demo/server.js';
import { type ModelObject, walkTree } from '../../src/model/index.js';
import { createServer } from '../../src/server/index.js';
import { waitFor } from '../helpers/wait.js';

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
  /** How each socket was opened: its URL and upgrade headers (a resume carries the token). */
  const opened: { url: string; headers: Record<string, string> }[] = [];
  class FlakySocket extends WebSocket {
    constructor(url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) {
      super(url, protocols, options);
      sockets.push(this);
      opened.push({ url, headers: { ...options?.headers } });
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
  return { FlakySocket, sockets, opened, faults };
}

/** Waits until `cond()` holds (bounded: fails with a clear message after 20 s). */
export async function until(cond: () => boolean): Promise<void> {
  await waitFor(cond, { timeout: 20_000, message: 'the condition of a client test' });
}

/** A comparable picture of a tree: every object with its wire properties, sorted by uuid. */
export function tree(root: ModelObject | null): string[] {
  if (!root) return [];
  return walkTree(root)
    .map((o) => `${o.uuid} ${o.typeName} ${JSON.stringify(o.toWireProperties())}`)
    .sort();
}
