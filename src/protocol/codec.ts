// Frame codec: bytes or text from a socket → validated messages, and messages → JSON text.
//
// Decoding parses once and validates once; nothing invalid reaches application logic
// (PROTOCOL.md §11). Encoding builds each outbound message by string concatenation around
// pre-encoded parts, so a fragment list broadcast to many sessions is serialized once and
// only the per-session envelope (`index`, `scopeIndex`) differs (DESIGN.md).

import { ErrorType, type WireError } from '../errors.js';
import {
  type ClientMessage,
  type ClientMessageType,
  clientMessageChecks,
  describeFailure,
  type Fragment,
  type FragmentReply,
  type Ping,
  type ScopeFetchReply,
  type ScopeState,
  type ScopeSync,
  type ScopeSyncReply,
  type ServerMessage,
  type ServerMessageType,
  type SessionCreate,
  type SessionCreateReply,
  serverMessageChecks,
} from './messages.js';
import { checkFragments, checkProperties, type ProtocolLimits, quote, sanitizeParams } from './validate.js';

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
 * Limits for what a client accepts from its server: sizes and counts unbounded (a ScopeState
 * holds a whole scope), only the `params`-style nesting bound kept.
 */
export const serverFrameLimits: ProtocolLimits = Object.freeze({
  maxFrameBytes: Number.POSITIVE_INFINITY,
  maxMessagesPerFrame: Number.POSITIVE_INFINITY,
  maxFragmentsPerChangeset: Number.POSITIVE_INFINITY,
  maxPropertiesPerFragment: Number.POSITIVE_INFINITY,
  maxStringLength: Number.POSITIVE_INFINITY,
  maxArrayLength: Number.POSITIVE_INFINITY,
  maxParamsDepth: 32,
});

/**
 * `defaultLimits` overridden by `overrides`. Throws a TypeError when a value is not a positive
 * integer (or `Infinity`): configuration mistakes fail at start-up, not on the first frame.
 */
export function resolveLimits(overrides?: Partial<ProtocolLimits>): ProtocolLimits {
  const limits: Record<string, number> = { ...defaultLimits };
  if (overrides !== undefined) {
    for (const key of Object.keys(defaultLimits)) {
      const value = (overrides as Record<string, unknown>)[key];
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
  return Object.freeze(limits) as unknown as ProtocolLimits;
}

// ---------------------------------------------------------------------------------------------
// Decoding, client → server

/** Raw frame data as transports deliver it (a Node Buffer is a Uint8Array). */
export type FrameData = string | ArrayBuffer | Uint8Array;

/** One element of a decoded frame. */
export type DecodedItem =
  /** A valid message: fragments' uuids lowercased, `properties`/`params` defaulted to `{}`. */
  | { kind: 'message'; message: ClientMessage }
  /**
   * A request the client waits on, with a usable `index`, that is otherwise invalid: answer it
   * with a ScopeFetchReply / ScopeSyncReply carrying `error` (for ScopeSync, one entry per
   * fragment: `fragmentCount`, 0 when `fragments` was not an array) so the client's callback fires.
   */
  | {
      kind: 'answerable';
      type: 'ScopeFetch' | 'ScopeSync';
      index: number;
      error: WireError;
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

const NOT_JSON = 'Could not parse message input, input was not JSON';
const UNRECOGNIZED_HANDSHAKE = 'Unrecognized handshake: first message must be SessionCreate';

const textDecoder = new TextDecoder('utf-8');

function invalidMessage(message: string): WireError {
  return { message, type: ErrorType.invalidMessage };
}

function frameError(
  message: string,
  type: string = ErrorType.invalidMessage,
): { ok: false; error: WireError } {
  return { ok: false, error: { message, type } };
}

/** UTF-8 byte length of a string, computed only when its UTF-16 length leaves it in doubt. */
function exceedsBytes(text: string, max: number): boolean {
  if (text.length > max) return true; // every UTF-16 code unit is at least one UTF-8 byte
  if (text.length * 3 <= max) return false; // and at most three
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair: 4 bytes for 2 code units
      i++;
    } else bytes += 3;
    if (bytes > max) return true;
  }
  return false;
}

/**
 * Text of a frame within the size limit, or `undefined` when it is too big. Binary data is
 * decoded as UTF-8 (malformed sequences become U+FFFD, and then fail as JSON or as values).
 */
function frameText(data: FrameData, maxBytes: number): string | undefined {
  if (typeof data === 'string') return exceedsBytes(data, maxBytes) ? undefined : data;
  if (data.byteLength > maxBytes) return undefined;
  return textDecoder.decode(data instanceof Uint8Array ? data : new Uint8Array(data));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isUint(value: unknown): value is number {
  return (
    typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER
  );
}

/** Parses and validates one inbound frame. Never throws on any input. */
export function decodeFrame(data: FrameData, limits: ProtocolLimits, opts: DecodeOptions): DecodeResult {
  const text = frameText(data, limits.maxFrameBytes);
  if (text === undefined) return frameError(`Frame exceeds maxFrameBytes (${limits.maxFrameBytes})`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return frameError(NOT_JSON);
  }

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
  return frameError('A frame must be a message object or an array of message objects');
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
    return reject(t, value, describeFailure(entry, value, t));
  }
  switch (t) {
    case 'ScopeSync': {
      if (value.procedure !== undefined && value.atomic === undefined) {
        return reject(t, value, 'Procedure requires the atomic key');
      }
      const checked = checkFragments(value.fragments as unknown[], limits);
      if (checked.error !== undefined) return reject(t, value, checked.error, ErrorType.invalidFragment);
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
        return reject(t, value, `Invalid name: exceeds maxStringLength (${limits.maxStringLength})`);
      }
      const params = decodeParams(value.params, limits);
      if (typeof params === 'string') return reject(t, value, params);
      return { kind: 'message', message: { type: 'ScopeFetch', index: value.index as number, name, params } };
    }
    case 'SessionCreate': {
      const params = decodeParams(value.params, limits);
      if (typeof params === 'string') return reject(t, value, params);
      const message: SessionCreate = {
        type: 'SessionCreate',
        index: value.index as number,
        version: value.version as string,
        params,
      };
      return { kind: 'message', message };
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
  message: string,
  errorType: string = ErrorType.invalidMessage,
): DecodedItem {
  const error: WireError = { message, type: errorType };
  if ((type === 'ScopeFetch' || type === 'ScopeSync') && isUint(value.index)) {
    const fragments = value.fragments;
    const fragmentCount = type === 'ScopeSync' && Array.isArray(fragments) ? fragments.length : 0;
    return { kind: 'answerable', type, index: value.index, error, fragmentCount };
  }
  return { kind: 'invalid', error };
}

// ---------------------------------------------------------------------------------------------
// Encoding, server → client

function uint(value: number, what: string): number {
  // Concatenating NaN or 1.5 would corrupt a frame for every client; fail loudly instead.
  if (!isUint(value)) throw new TypeError(`${what} must be an unsigned integer, got ${String(value)}`);
  return value;
}

/** `{message, type?}` with exactly those keys (an Error's own fields are never copied). */
export function encodeError(error: WireError): string {
  const message = JSON.stringify(String(error.message));
  return typeof error.type === 'string'
    ? '{"message":' + message + ',"type":' + JSON.stringify(error.type) + '}'
    : '{"message":' + message + '}';
}

/**
 * A JSON array of fragments, each with exactly `type`, `uuid`, `clsName`, `properties`
 * (`{}` when missing). Property values must already be wire values (Dates as seconds).
 * Encode once and pass the text to {@link encodeScopeSync} / {@link encodeScopeState}.
 */
export function encodeFragments(fragments: readonly Fragment[]): string {
  let out = '[';
  for (let i = 0; i < fragments.length; i++) {
    const f = fragments[i]!;
    if (i > 0) out += ',';
    out +=
      (f.type === 'add' ? '{"type":"add","uuid":' : '{"type":"change","uuid":') +
      JSON.stringify(f.uuid) +
      ',"clsName":' +
      JSON.stringify(f.clsName) +
      ',"properties":' +
      (f.properties === undefined || f.properties === null ? '{}' : JSON.stringify(f.properties)) +
      '}';
  }
  return out + ']';
}

/** `SessionCreateReply`: a token on accept, an error on deny. No `replyTo`. */
export function encodeSessionCreateReply(index: number, result: string | WireError): string {
  return (
    '{"type":"SessionCreateReply","index":' +
    uint(index, 'index') +
    (typeof result === 'string'
      ? ',"sessionToken":' + JSON.stringify(result) + '}'
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

/** `Ping` (index 0; `resendMissing` always present: the iOS client requires the key). */
export function encodePing(ack: number, resendMissing: boolean): string {
  return (
    '{"type":"Ping","index":0,"ack":' +
    uint(ack, 'ack') +
    ',"resendMissing":' +
    (resendMissing === true) +
    '}'
  );
}

/** One frame: every message queued in one event-loop turn, in order, as a JSON array. */
export function encodeFrame(messages: readonly string[]): string {
  return '[' + messages.join(',') + ']';
}

// ---------------------------------------------------------------------------------------------
// Client side: encoding client → server, decoding server → client

/** `SessionCreate` (index 0). */
export function encodeSessionCreate(version: string, params: Record<string, unknown> = {}): string {
  return JSON.stringify({ type: 'SessionCreate', index: 0, version, params });
}

/** `ScopeFetch`. */
export function encodeScopeFetch(index: number, name: string, params: Record<string, unknown> = {}): string {
  return JSON.stringify({ type: 'ScopeFetch', index: uint(index, 'index'), name, params });
}

export interface ScopeSyncOptions {
  atomic?: boolean;
  /** `"Model.procedure"`. */
  procedure?: string;
}

/**
 * A client's `ScopeSync`. `atomic` is always sent (`false` by default, as the original browser
 * client did), which also satisfies "a procedure requires the atomic key".
 */
export function encodeClientScopeSync(
  index: number,
  scopeIndex: number,
  fragments: readonly Fragment[],
  options: ScopeSyncOptions = {},
): string {
  return (
    '{"type":"ScopeSync","index":' +
    uint(index, 'index') +
    ',"scopeIndex":' +
    uint(scopeIndex, 'scopeIndex') +
    ',"atomic":' +
    (options.atomic === true) +
    (options.procedure === undefined ? '' : ',"procedure":' + JSON.stringify(options.procedure)) +
    ',"fragments":' +
    encodeFragments(fragments) +
    '}'
  );
}

export type ServerDecodeResult =
  /** Valid messages in frame order; `dropped` = why the other elements were dropped. */
  { ok: true; messages: ServerMessage[]; dropped: WireError[] } | { ok: false; error: WireError };

const knownServerTypes: ReadonlySet<string> = new Set<ServerMessageType>(
  Object.keys(serverMessageChecks) as ServerMessageType[],
);

/**
 * Decodes a frame from the server (for the client SDK). The server sends an array; a bare
 * object is accepted too. Unknown message types and invalid messages are dropped (reported in
 * `dropped`), the rest kept in order. `limits` default to {@link serverFrameLimits}.
 */
export function decodeServerFrame(
  data: FrameData,
  limits: ProtocolLimits = serverFrameLimits,
): ServerDecodeResult {
  const text = frameText(data, limits.maxFrameBytes);
  if (text === undefined) return frameError(`Frame exceeds maxFrameBytes (${limits.maxFrameBytes})`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return frameError(NOT_JSON);
  }
  const list: unknown[] | undefined = Array.isArray(parsed)
    ? parsed
    : isRecord(parsed)
      ? [parsed]
      : undefined;
  if (list === undefined)
    return frameError('A frame must be a message object or an array of message objects');
  const messages: ServerMessage[] = [];
  const dropped: WireError[] = [];
  for (const value of list) {
    const result = decodeServerMessage(value, limits);
    if (typeof result === 'string') dropped.push(invalidMessage(result));
    else messages.push(result);
  }
  return { ok: true, messages, dropped };
}

function decodeServerMessage(value: unknown, limits: ProtocolLimits): ServerMessage | string {
  if (!isRecord(value)) return 'A message must be an object';
  const type = value.type;
  if (typeof type !== 'string') return 'Requires type: a message must have a string type';
  if (!knownServerTypes.has(type)) return `Unknown message type ${quote(type)}`;
  const t = type as ServerMessageType;
  const entry = serverMessageChecks[t];
  if (!entry.check.Check(value)) return `${t}: ${describeFailure(entry, value, t)}`;
  const index = value.index as number;
  switch (t) {
    case 'SessionCreateReply': {
      const message: SessionCreateReply = { type: t, index };
      if (value.sessionToken !== undefined) message.sessionToken = value.sessionToken as string;
      else if (value.error !== undefined) message.error = copyError(value.error as WireError);
      else return 'SessionCreateReply: requires sessionToken or error';
      return message;
    }
    case 'ScopeFetchReply': {
      const message: ScopeFetchReply = { type: t, index, replyTo: value.replyTo as number };
      if (value.scopeIndex !== undefined) message.scopeIndex = value.scopeIndex as number;
      else if (value.error !== undefined) message.error = copyError(value.error as WireError);
      else return 'ScopeFetchReply: requires scopeIndex or error';
      return message;
    }
    case 'ScopeState':
    case 'ScopeSync': {
      const checked = checkFragments(value.fragments as unknown[], limits);
      if (checked.error !== undefined) return `${t}: ${checked.error}`;
      const scopeIndex = value.scopeIndex as number;
      if (t === 'ScopeSync') return { type: t, index, scopeIndex, fragments: checked.fragments };
      const message: ScopeState = {
        type: t,
        index,
        scopeIndex,
        rootUUID: (value.rootUUID as string).toLowerCase(),
        fragments: checked.fragments,
      };
      return message;
    }
    case 'ScopeSyncReply': {
      const raw = value.fragmentReplies as Array<{
        error?: WireError;
        modifications?: Record<string, unknown>;
      }>;
      const fragmentReplies = new Array<FragmentReply>(raw.length);
      for (let i = 0; i < raw.length; i++) {
        const r = raw[i]!;
        const reply: FragmentReply = {};
        if (r.error !== undefined) reply.error = copyError(r.error);
        if (r.modifications !== undefined) {
          const error = checkProperties(r.modifications, limits);
          if (error !== undefined) return `ScopeSyncReply: fragmentReplies[${i}].modifications: ${error}`;
          reply.modifications = r.modifications;
        }
        fragmentReplies[i] = reply;
      }
      const message: ScopeSyncReply = { type: t, index, replyTo: value.replyTo as number, fragmentReplies };
      return message;
    }
    case 'Ping': {
      const message: Ping = {
        type: t,
        index,
        ack: value.ack as number,
        resendMissing: value.resendMissing === true,
      };
      return message;
    }
  }
}

function copyError(error: WireError): WireError {
  return error.type === undefined ? { message: error.message } : { message: error.message, type: error.type };
}
