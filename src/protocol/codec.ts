// Frame codec: bytes or text from a socket → validated messages, and messages → JSON text.
//
// Decoding parses once and validates once; nothing invalid reaches application logic
// (docs/protocol.md §11). Encoding builds each outbound message by string concatenation around
// pre-encoded parts, so a fragment list broadcast to many sessions is serialized once and
// only the per-session envelope (`index`, `scopeIndex`) differs (docs/architecture.md).

import { ErrorType, type WireError } from '../errors.js';
import {
  type FrameData,
  frameError,
  invalidMessage,
  isRecord,
  isUint,
  NOT_A_FRAME,
  parseFrame,
  uint,
} from './frame.js';
import {
  type ClientMessage,
  type ClientMessageType,
  clientMessageChecks,
  describeFailure,
  type FragmentReply,
  type GrantedExtensions,
  type RequestedExtensions,
  type ScopeSync,
  type SessionCreate,
} from './messages.js';
import { checkFragments, type ProtocolLimits, quote, sanitizeParams } from './validate.js';

// The client side (client → server encoders, decodeServerFrame) and the helpers both sides use
// live in client-codec.ts and frame.ts, which keep TypeBox out of the browser bundle; they are
// re-exported here so server code and the package index see one codec.
export {
  decodeServerFrame,
  encodeClientPresence,
  encodeClientScopeSync,
  encodeScopeFetch,
  encodeSessionCreate,
  type ScopeSyncOptions,
  type ServerDecodeResult,
  serverFrameLimits,
} from './client-codec.js';
export { encodeFragments, encodeFragmentsOnce, encodePing, type FrameData } from './frame.js';
export type { ProtocolLimits };

/** Safe defaults for every limit. */
export const defaultLimits: ProtocolLimits = Object.freeze({
  maxFrameBytes: 1024 * 1024,
  maxMessagesPerFrame: 1_000,
  maxFragmentsPerChangeset: 10_000,
  maxPropertiesPerFragment: 1_000,
  maxStringLength: 256 * 1024,
  maxArrayLength: 100_000,
  maxParamsDepth: 32,
});

/**
 * `defaultLimits` overridden by `overrides`. Throws a TypeError when a value is not a positive
 * integer (or `Infinity`): configuration mistakes fail at start-up, not on the first frame.
 */
export function resolveLimits(overrides?: Partial<ProtocolLimits>): ProtocolLimits {
  const limits: { -readonly [K in keyof ProtocolLimits]: number } = { ...defaultLimits };
  if (overrides !== undefined) {
    for (const key of Object.keys(defaultLimits) as (keyof ProtocolLimits)[]) {
      // Untyped callers may pass anything: checked below.
      const value: unknown = overrides[key];
      if (value === undefined) continue;
      if (
        typeof value !== 'number' ||
        !(value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value > 0))
      ) {
        throw new TypeError(`Protocol limit ${key} must be a positive integer, got ${String(value)}`);
      }
      limits[key] = value;
    }
  }
  return Object.freeze(limits);
}

// ---------------------------------------------------------------------------------------------
// Decoding, client → server

/** One element of a decoded frame. */
export type DecodedItem =
  /** A valid message: fragments' uuids lowercased, `properties`/`params` defaulted to `{}`. */
  | { kind: 'message'; message: ClientMessage }
  /**
   * A request the client waits on, with a usable `index`, that is otherwise invalid: answer it
   * with a ScopeFetchReply / ScopeSyncReply carrying `error` so the client's callback fires
   * (docs/protocol.md §14).
   */
  | {
      kind: 'answerable';
      type: 'ScopeFetch' | 'ScopeSync';
      index: number;
      error: WireError;
      /**
       * How many error entries the ScopeSyncReply carries, each `{error}`. An error reply never
       * grows with the size of invalid input (docs/protocol.md §11, §14), so this is bounded by
       * `maxFragmentsPerChangeset`:
       * - `fragments` an array of at most `maxFragmentsPerChangeset` entries: its length, one
       *   entry per fragment, as §5 asks;
       * - `fragments` an array over that limit: 1, one error for the malformed array (an entry
       *   per element would let a 1 MiB frame of `0,0,…` ask for a reply of tens of MiB);
       * - `fragments` not an array, and every ScopeFetch: 0.
       */
      fragmentCount: number;
    }
  /** Garbage: drop it and count it. */
  | { kind: 'invalid'; error: WireError };

export type DecodeResult =
  /** Items in the order they appear in the frame (never sorted). A bare object gives one item. */
  | { ok: true; items: DecodedItem[] }
  /**
   * The frame as a whole is unusable (too big, not JSON, not an object or array, too many
   * messages, or — in handshake mode — not a valid bare SessionCreate). In handshake mode the
   * error is the reason to close with (4096); it is kept short for the 123-byte close limit.
   */
  | { ok: false; error: WireError };

export interface DecodeOptions {
  /**
   * The first frame of a connection without a session token: it must be one bare, valid
   * SessionCreate object. On success `items` holds exactly that message.
   */
  handshake: boolean;
}

const UNRECOGNIZED_HANDSHAKE = 'Unrecognized handshake: first message must be SessionCreate';

/** Parses and validates one inbound frame. Never throws on any input. */
export function decodeFrame(data: FrameData, limits: ProtocolLimits, opts: DecodeOptions): DecodeResult {
  const frame = parseFrame(data, limits.maxFrameBytes);
  if (!frame.ok) return frame;
  const parsed = frame.value;

  if (opts.handshake) {
    if (!isRecord(parsed) || parsed.type !== 'SessionCreate') {
      return frameError(UNRECOGNIZED_HANDSHAKE, ErrorType.unrecognizedHandshake);
    }
    const item = decodeMessage(parsed, limits);
    return item.kind === 'message' ? { ok: true, items: [item] } : { ok: false, error: item.error };
  }

  if (Array.isArray(parsed)) {
    const n = parsed.length;
    if (n > limits.maxMessagesPerFrame) {
      return frameError(
        `Frame holds ${n} messages, more than maxMessagesPerFrame (${limits.maxMessagesPerFrame})`,
      );
    }
    // In array order, as given: the original sorted by index, which moved index-0 pings first.
    const items = new Array<DecodedItem>(n);
    for (let i = 0; i < n; i++) items[i] = decodeMessage(parsed[i], limits);
    return { ok: true, items };
  }
  if (isRecord(parsed)) return { ok: true, items: [decodeMessage(parsed, limits)] };
  return frameError(NOT_A_FRAME);
}

const knownClientTypes: ReadonlySet<string> = new Set<ClientMessageType>(
  Object.keys(clientMessageChecks) as ClientMessageType[],
);

/** Classifies one message of a frame. */
function decodeMessage(value: unknown, limits: ProtocolLimits): DecodedItem {
  if (!isRecord(value)) return { kind: 'invalid', error: invalidMessage('A message must be an object') };
  const type = value.type;
  if (typeof type !== 'string') {
    return { kind: 'invalid', error: invalidMessage('Requires type: a message must have a string type') };
  }
  if (!knownClientTypes.has(type)) {
    return { kind: 'invalid', error: invalidMessage(`Unknown message type ${quote(type)}`) };
  }
  const t = type as ClientMessageType;
  const entry = clientMessageChecks[t];
  if (!entry.check.Check(value)) {
    return reject(t, value, limits, describeFailure(entry, value, t));
  }
  switch (t) {
    case 'ScopeSync': {
      if (value.procedure !== undefined && value.atomic === undefined) {
        return reject(t, value, limits, 'Procedure requires the atomic key');
      }
      const checked = checkFragments(value.fragments as unknown[], limits);
      if (checked.error !== undefined) {
        return reject(t, value, limits, checked.error, ErrorType.invalidFragment);
      }
      const message: ScopeSync = {
        type: 'ScopeSync',
        index: value.index as number,
        scopeIndex: value.scopeIndex as number,
        fragments: checked.fragments,
        atomic: value.atomic === true,
      };
      if (value.procedure !== undefined) message.procedure = value.procedure as string;
      return { kind: 'message', message };
    }
    case 'Ping':
      return {
        kind: 'message',
        message: {
          type: 'Ping',
          index: value.index as number,
          ack: value.ack as number,
          resendMissing: value.resendMissing === true,
        },
      };
    case 'ScopeFetch': {
      const name = value.name as string;
      if (name.length > limits.maxStringLength) {
        return reject(t, value, limits, `Invalid name: exceeds maxStringLength (${limits.maxStringLength})`);
      }
      const params = decodeParams(value.params, limits);
      if (typeof params === 'string') return reject(t, value, limits, params);
      return { kind: 'message', message: { type: 'ScopeFetch', index: value.index as number, name, params } };
    }
    case 'SessionCreate': {
      const params = decodeParams(value.params, limits);
      if (typeof params === 'string') return reject(t, value, limits, params);
      const message: SessionCreate = {
        type: 'SessionCreate',
        index: value.index as number,
        version: value.version as string,
        params,
      };
      const extensions = decodeExtensions(value.extensions);
      if (extensions !== undefined) message.extensions = extensions;
      return { kind: 'message', message };
    }
    case 'Presence': {
      // A state is application data, like `params`: the same depth, string, array and key rules.
      const state = value.state as Record<string, unknown> | null;
      if (state !== null) {
        const error = sanitizeParams(state, limits);
        if (error !== undefined)
          return reject(t, value, limits, error.replace(/^Invalid params/, 'Invalid state'));
      }
      return {
        kind: 'message',
        message: { type: 'Presence', index: 0, scopeIndex: value.scopeIndex as number, state },
      };
    }
    case 'Reply':
      return {
        kind: 'message',
        message: { type: 'Reply', index: value.index as number, replyTo: value.replyTo as number },
      };
    default:
      return { kind: 'message', message: { type: t, index: value.index as number } };
  }
}

/**
 * The extensions this server knows, from `SessionCreate.extensions` (docs/protocol.md §17): a
 * name it does not know, or a version that is not a positive integer, is not asked for.
 */
function decodeExtensions(raw: unknown): RequestedExtensions | undefined {
  if (raw === undefined || raw === null) return undefined;
  const presence = (raw as Record<string, unknown>).presence;
  if (!Object.hasOwn(raw as object, 'presence') || !isUint(presence) || presence < 1) return undefined;
  return { presence };
}

/** `params` checked and sanitized, `{}` when absent or null; or an error message. */
function decodeParams(raw: unknown, limits: ProtocolLimits): Record<string, unknown> | string {
  if (raw === undefined || raw === null) return {};
  const error = sanitizeParams(raw as object, limits);
  return error === undefined ? (raw as Record<string, unknown>) : error;
}

/** An invalid message: answerable when it is a request with a usable index. */
function reject(
  type: ClientMessageType,
  value: Record<string, unknown>,
  limits: ProtocolLimits,
  message: string,
  errorType: string = ErrorType.invalidMessage,
): DecodedItem {
  const error: WireError = { message, type: errorType };
  if ((type === 'ScopeFetch' || type === 'ScopeSync') && isUint(value.index)) {
    const fragmentCount = type === 'ScopeSync' ? errorEntryCount(value.fragments, limits) : 0;
    return { kind: 'answerable', type, index: value.index, error, fragmentCount };
  }
  return { kind: 'invalid', error };
}

/** The `fragmentCount` of an answerable ScopeSync; see {@link DecodedItem}. */
function errorEntryCount(fragments: unknown, limits: ProtocolLimits): number {
  if (!Array.isArray(fragments)) return 0;
  return fragments.length <= limits.maxFragmentsPerChangeset ? fragments.length : 1;
}

// ---------------------------------------------------------------------------------------------
// Encoding, server → client

/** `{message, type?}` with exactly those keys (an Error's own fields are never copied). */
export function encodeError(error: WireError): string {
  const message = JSON.stringify(String(error.message));
  return typeof error.type === 'string'
    ? '{"message":' + message + ',"type":' + JSON.stringify(error.type) + '}'
    : '{"message":' + message + '}';
}

/**
 * `SessionCreateReply`: a token on accept, an error on deny. No `replyTo`. `extensions`: what
 * was granted to a client that asked (docs/protocol.md §17), on accept only.
 */
export function encodeSessionCreateReply(
  index: number,
  result: string | WireError,
  extensions?: GrantedExtensions,
): string {
  return (
    '{"type":"SessionCreateReply","index":' +
    uint(index, 'index') +
    (typeof result === 'string'
      ? ',"sessionToken":' +
        JSON.stringify(result) +
        (extensions === undefined ? '' : ',"extensions":' + JSON.stringify(extensions)) +
        '}'
      : ',"error":' + encodeError(result) + '}')
  );
}

/** `ScopeFetchReply`: a `scopeIndex` on success, an error otherwise (never both). */
export function encodeScopeFetchReply(index: number, replyTo: number, result: number | WireError): string {
  return (
    '{"type":"ScopeFetchReply","index":' +
    uint(index, 'index') +
    ',"replyTo":' +
    uint(replyTo, 'replyTo') +
    (typeof result === 'number'
      ? ',"scopeIndex":' + uint(result, 'scopeIndex') + '}'
      : ',"error":' + encodeError(result) + '}')
  );
}

/** `ScopeState` around a pre-encoded fragment array (see {@link encodeFragments}). */
export function encodeScopeState(
  index: number,
  scopeIndex: number,
  rootUUID: string,
  fragmentsJson: string,
): string {
  return (
    '{"type":"ScopeState","index":' +
    uint(index, 'index') +
    ',"scopeIndex":' +
    uint(scopeIndex, 'scopeIndex') +
    ',"rootUUID":' +
    JSON.stringify(rootUUID) +
    ',"fragments":' +
    fragmentsJson +
    '}'
  );
}

/** The server's `ScopeSync` (no `atomic`, no `procedure`) around a pre-encoded fragment array. */
export function encodeScopeSync(index: number, scopeIndex: number, fragmentsJson: string): string {
  return (
    '{"type":"ScopeSync","index":' +
    uint(index, 'index') +
    ',"scopeIndex":' +
    uint(scopeIndex, 'scopeIndex') +
    ',"fragments":' +
    fragmentsJson +
    '}'
  );
}

/** `ScopeSyncReply`: one entry per request fragment, `{}` = accepted. */
export function encodeScopeSyncReply(
  index: number,
  replyTo: number,
  replies: readonly FragmentReply[],
): string {
  let out =
    '{"type":"ScopeSyncReply","index":' + uint(index, 'index') + ',"replyTo":' + uint(replyTo, 'replyTo');
  out += ',"fragmentReplies":[';
  for (let i = 0; i < replies.length; i++) {
    const r = replies[i]!;
    if (i > 0) out += ',';
    if (r.error !== undefined) {
      out += '{"error":' + encodeError(r.error);
      if (r.modifications !== undefined) out += ',"modifications":' + JSON.stringify(r.modifications);
      out += '}';
    } else if (r.modifications !== undefined) {
      out += '{"modifications":' + JSON.stringify(r.modifications) + '}';
    } else {
      out += '{}';
    }
  }
  return out + ']}';
}

/** One frame: every message queued in one event-loop turn, in order, as a JSON array. */
export function encodeFrame(messages: readonly string[]): string {
  return '[' + messages.join(',') + ']';
}
