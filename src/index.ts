// The package entry. `require('jetstream')` is the callable of the original README: calling it
// creates and starts a server; the DSL and classes hang off it as properties. ESM users get the
// same object as the default export plus named exports (see scripts/build.mjs).
import { enumeration } from './model/enumeration.js';
import { ModelObject, model } from './model/model-object.js';
import {
  applySync,
  arrayPropertyConstraint,
  expr,
  hasNewValuePropertyConstraint,
  setProcedureLogger,
} from './procedures/index.js';
import { Scope, scope } from './scope/scope.js';
import type { ServerOptions } from './server/options.js';
import { createServer, Server, setDefaultApplySync } from './server/server.js';
import { MemoryTransport } from './transport/memory.js';
import { WebsocketTransport } from './transport/websocket.js';

export * from './errors.js';
export * from './model/index.js';
export * from './procedures/index.js';
export * from './protocol/index.js';
export * from './scope/index.js';
export * from './server/index.js';
export * from './store/index.js';
export * from './transport/index.js';

// Client changesets go through procedures/ (ordering per scope, named procedures).
setDefaultApplySync(applySync);

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

const api = Object.assign(jetstream, {
  model,
  enumeration,
  scope,
  createServer,
  transport,
  Server,
  Scope,
  ModelObject,
  expr,
  hasNewValuePropertyConstraint,
  arrayPropertyConstraint,
  setProcedureLogger,
});

export default api;
