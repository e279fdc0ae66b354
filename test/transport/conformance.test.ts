// Both transports run the one conformance suite (test/transport/conformance.ts).
import { WebSocket } from 'ws';
import { MemoryTransport } from '../../src/transport/memory.js';
import { WebsocketTransport } from '../../src/transport/websocket.js';
import { type ClientEnd, runTransportConformance } from './conformance.js';

runTransportConformance('MemoryTransport', async () => {
  const transport = new MemoryTransport();
  return {
    transport,
    async open(headers, path) {
      const socket = transport.connect({ headers, url: path });
      const end: ClientEnd & { received: string[]; closed: { code: number; reason: string } | null } = {
        received: [],
        closed: null,
        send: (t) => socket.send(t),
        close: (code, reason) => socket.close(code, reason),
      };
      socket.on('message', (d) => end.received.push(d));
      socket.on('close', (code, reason) => {
        end.closed = { code, reason };
      });
      return end;
    },
    close: () => transport.close(),
  };
});

runTransportConformance('WebsocketTransport', async () => {
  const transport = new WebsocketTransport({ port: 0, host: '127.0.0.1' });
  return {
    transport,
    async open(headers, path) {
      const ws = new WebSocket(`ws://127.0.0.1:${transport.port}${path}`, { headers });
      const end: ClientEnd & { received: string[]; closed: { code: number; reason: string } | null } = {
        received: [],
        closed: null,
        send: (t) => ws.send(t),
        close: (code, reason) => ws.close(code, reason),
      };
      ws.on('message', (d) => end.received.push(d.toString()));
      ws.on('close', (code, reason) => {
        end.closed = { code, reason: reason.toString() };
      });
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      return end;
    },
    close: () => transport.close(),
  };
});
