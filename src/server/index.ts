// server/: Server (handshake, hooks, sessions, output batching), Session (indices, acks,
// resend, expiry, fetch and sync), the scope hub (fan-out), and the typed hooks (events.ts).
// Depends on protocol/, scope/, transport/, and on pipeline/ and persistence/, which it
// constructs; must not import store/ (durability reaches it only through persistence/).
export { closeReason } from './close-reason.js';
export type {
  ChangesetInfo,
  ConnectionHook,
  FetchCallback,
  FetchGrant,
  FetchHook,
  HookCallback,
  ServerEvents,
  SessionEvents,
  SessionHook,
  SessionHookWithConnection,
  SyncHook,
} from './events.js';
export type { ChangeSink, Subscriber } from './hub.js';
export { ScopeHub } from './hub.js';
export { type Logger, type ServerOptions, silentLogger } from './options.js';
export { createServer, IncomingConnection, Server } from './server.js';
export { Session } from './session.js';
