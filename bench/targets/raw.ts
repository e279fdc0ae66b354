// The ceiling: a raw `ws` broadcaster that speaks just enough of the protocol for the load
// generator (session token, fetch reply + state, sync reply + forward), batching one frame per
// connection per event-loop turn like a real server, but with no validation, no models, no acks
// and no resend buffer. Whatever it costs is the cost of framing and sockets on this machine.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { randomUUID, runTarget, shapeValues } from './common.js';

interface Fragment {
  type: string;
  uuid: string;
  clsName: string;
  properties: Record<string, unknown>;
}

interface Conn {
  ws: WebSocket;
  index: number;
  fetched: boolean;
  queue: string[];
  scheduled: boolean;
}

function flush(c: Conn): void {
  c.scheduled = false;
  if (c.queue.length === 0 || c.ws.readyState !== WebSocket.OPEN) return;
  const frame = '[' + c.queue.join(',') + ']';
  c.queue = [];
  c.ws.send(frame);
}

function enqueue(c: Conn, message: string): void {
  c.queue.push(message);
  if (!c.scheduled) {
    c.scheduled = true;
    setImmediate(flush, c);
  }
}

void runTarget(async (shapes) => {
  const rootUUID = randomUUID();
  const shapeFragments: Fragment[] = [];
  for (let i = 0; i < shapes; i++) {
    shapeFragments.push({ type: 'add', uuid: randomUUID(), clsName: 'Shape', properties: shapeValues(i) });
  }
  const state: Fragment[] = [
    {
      type: 'change',
      uuid: rootUUID,
      clsName: 'Canvas',
      properties: { name: 'bench', shapes: shapeFragments.map((f) => f.uuid) },
    },
    ...shapeFragments,
  ];
  const conns = new Set<Conn>();

  const http = createServer();
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    const c: Conn = { ws, index: 0, fetched: false, queue: [], scheduled: false };
    conns.add(c);
    ws.on('close', () => conns.delete(c));
    ws.on('message', (data: Buffer) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.toString());
      } catch {
        return;
      }
      const messages = (Array.isArray(parsed) ? parsed : [parsed]) as {
        type: string;
        index: number;
        fragments?: unknown[];
      }[];
      for (const m of messages) {
        if (m.type === 'SessionCreate') {
          const token = randomBytes(32).toString('hex');
          enqueue(c, JSON.stringify({ type: 'SessionCreateReply', index: 0, sessionToken: token }));
        } else if (m.type === 'ScopeFetch') {
          c.fetched = true;
          enqueue(
            c,
            JSON.stringify({ type: 'ScopeFetchReply', index: ++c.index, replyTo: m.index, scopeIndex: 0 }),
          );
          enqueue(
            c,
            JSON.stringify({
              type: 'ScopeState',
              index: ++c.index,
              scopeIndex: 0,
              rootUUID,
              fragments: state,
            }),
          );
        } else if (m.type === 'ScopeSync') {
          const fragments = m.fragments ?? [];
          const replies = '[' + new Array(fragments.length).fill('{}').join(',') + ']';
          enqueue(
            c,
            `{"type":"ScopeSyncReply","index":${++c.index},"replyTo":${m.index},"fragmentReplies":${replies}}`,
          );
          // Encode the fragment list once; only the envelope differs per connection.
          const body = JSON.stringify(fragments);
          for (const other of conns) {
            if (other === c || !other.fetched) continue;
            enqueue(
              other,
              `{"type":"ScopeSync","index":${++other.index},"scopeIndex":0,"fragments":${body}}`,
            );
          }
        }
      }
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: (http.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.ws.terminate();
        wss.close();
        http.close(() => resolve());
      }),
  };
});
