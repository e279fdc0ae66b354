// A tiny downstream "chat room API" for the chat demo's procedures (demo/procedures.ts), on
// loopback. It implements the three endpoints the procedures call and records every request:
//
//   POST /room/:room                       setName: answers with `_updates` setting the room's
//                                          topic to `Room renamed "<old>" to "<new>"`
//   POST /room/:room/messages              postMessage: 200 {}
//   POST /room/:room/users/:user/logout    userLogout: 200 {}
//
// The old name comes from `roomName(uuid)` when given (the demo passes a reader of the scope,
// which still holds the old name while the procedure runs), else from the last rename seen.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatServiceRequest {
  method: string;
  /** Path and query, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or null when there was none. */
  body: unknown;
}

export interface ChatServiceOptions {
  /** Default 0: any free port. */
  port?: number;
  /** When set, requests whose Authorization header differs get 401. */
  accessToken?: string;
  /** The room's current name, for the rename topic. */
  roomName?: (roomUUID: string) => string | null | undefined;
  /** Answer after this many milliseconds (to show ordering under a slow downstream). */
  delayMs?: number;
}

export interface ChatService {
  /** `http://127.0.0.1:<port>`: the base URL to pass to defineChatProcedures. */
  url: string;
  requests: ChatServiceRequest[];
  close(): Promise<void>;
}

export function startChatService(options: ChatServiceOptions = {}): Promise<ChatService> {
  const requests: ChatServiceRequest[] = [];
  const names = new Map<string, string>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        body = raw;
      }
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      requests.push(entry);
      const reply = (status: number, payload: unknown) => {
        const send = () => {
          res.writeHead(status, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(payload));
        };
        if (options.delayMs) setTimeout(send, options.delayMs);
        else send();
      };
      if (options.accessToken !== undefined && req.headers.authorization !== options.accessToken) {
        return reply(401, { error: 'unauthorized' });
      }
      const path = (req.url ?? '').split('?')[0]!.split('/').filter(Boolean).map(decodeURIComponent);
      if (req.method !== 'POST' || path[0] !== 'room' || !path[1]) return reply(404, { error: 'not found' });
      const room = path[1];
      if (path.length === 2) {
        const next = String(req.headers['x-chatroom-setname'] ?? '');
        const previous = options.roomName?.(room) ?? names.get(room);
        names.set(room, next);
        const topic =
          previous == null ? `Room renamed to "${next}"` : `Room renamed "${previous}" to "${next}"`;
        return reply(200, { _updates: [{ update: { $set: { 'attributes.topic': topic } } }] });
      }
      if (path.length === 3 && path[2] === 'messages') return reply(200, {});
      if (path.length === 5 && path[2] === 'users' && path[4] === 'logout') return reply(200, {});
      return reply(404, { error: 'not found' });
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      // A helper service: it never keeps the process alive on its own.
      server.unref();
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
