// The package entry. `require('jetstream')` is the callable of the original README: calling it
// creates and starts a server, and every public name (api.ts) hangs off it as a property. ESM
// users get the same callable as the default export, and the same names as named exports
// (see scripts/build.mjs). Internals are not exported.
import * as api from './api.js';
import type { ServerOptions } from './server/options.js';
import { Server } from './server/server.js';
import { MemoryTransport } from './transport/memory.js';
import { WebsocketTransport } from './transport/websocket.js';

export * from './api.js';

/** Transports, as the original exposed them: `transport.WebsocketTransport.configure({port})`. */
export const transport = { WebsocketTransport, MemoryTransport };

/**
 * Creates and starts a server, as the original module did: `require('jetstream')({port: 3000})`.
 * Listening happens in the background; failures are emitted as 'error' (and logged).
 */
function jetstream(options: ServerOptions = {}): Server {
  const server = new Server(options);
  server.listen().catch((err: Error) => {
    server.logger.error({ err }, 'server failed to listen');
    if (server.listenerCount('error') > 0) server.emit('error', err);
    else
      queueMicrotask(() => {
        throw err;
      });
  });
  return server;
}

export default Object.assign(jetstream, api, { transport });
