// server/: Server (handshake, hooks, sessions, output batching), Session (indices, acks,
// resend, expiry, fetch and sync), the scope hub (fan-out). Depends on protocol/, scope/ and
// transport/; must not import store/ or cluster/ directly (they plug in through ChangeSink and
// afterCommit).
export { closeReason } from './close-reason.js';
export type { ChangeSink, Subscriber } from './hub.js';
export { ScopeHub } from './hub.js';
export { type Logger, type ServerOptions, silentLogger } from './options.js';
export {
  createServer,
  IncomingConnection,
  Server,
  type ServerEvents,
  type SessionCallback,
  type SessionHook,
  type SyncApplier,
  setDefaultApplySync,
} from './server.js';
export { type FetchCallback, Session, type SessionEvents } from './session.js';
