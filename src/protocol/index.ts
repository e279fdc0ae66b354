// protocol/ — the Jetstream Sync v1 wire protocol (docs/protocol.md §2, §3, §5, §6, §11):
// message types and schemas, the frame codec (decode + validate inbound frames, encode outbound
// messages), limits, and the semver/fragment checks they rely on. UUIDs are checked with the
// model layer's isUUID/normalizeUUID (src/model/uuid.ts), the one uuid rule of the package.
//
// Shared by the server and the browser client SDK. It must not import Node-only modules
// (`node:*`, Buffer, process) nor anything outside `src/protocol/` except `src/errors.ts` and
// `src/model/uuid.ts`. Binary input is decoded with TextDecoder. Everything not exported here
// is private.

export {
  type DecodedItem,
  type DecodeOptions,
  type DecodeResult,
  decodeFrame,
  decodeServerFrame,
  defaultLimits,
  encodeClientPresence,
  encodeClientScopeSync,
  encodeError,
  encodeFragments,
  encodeFrame,
  encodePing,
  encodeScopeFetch,
  encodeScopeFetchReply,
  encodeScopeState,
  encodeScopeSync,
  encodeScopeSyncReply,
  encodeSessionCreate,
  encodeSessionCreateReply,
  type FrameData,
  type ProtocolLimits,
  resolveLimits,
  type ScopeSyncOptions,
  type ServerDecodeResult,
  serverFrameLimits,
} from './codec.js';
export {
  type ClientMessage,
  type ClientMessageType,
  type ClientPresence,
  type Fragment,
  type FragmentReply,
  type GrantedExtensions,
  type IgnoredMessage,
  type InboundFragment,
  isSemver,
  type Ping,
  type PresenceEntry,
  type PresenceGrant,
  type PresenceState,
  type Reply,
  type RequestedExtensions,
  type ScopeFetch,
  type ScopeFetchReply,
  type ScopeState,
  type ScopeSync,
  type ScopeSyncReply,
  type ServerMessage,
  type ServerMessageType,
  type ServerPresence,
  type SessionCreate,
  type SessionCreateReply,
  type WireError,
  type WireScalar,
  type WireValue,
} from './messages.js';
export { isUnsafeKey } from './validate.js';
