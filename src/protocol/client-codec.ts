// The client side of the codec: encoders for client → server messages, and decodeServerFrame,
// which validates the six server → client message types and the presence extension's message.
//
// The server validates inbound messages with compiled TypeBox schemas (messages.ts). The
// client checks the server's messages by hand instead, so the browser bundle leaves TypeBox
// out: ~115 KiB of a 157 KiB minified bundle. This module must not import messages.ts or
// `@sinclair/typebox` at runtime (type-only imports are erased);
// test/protocol/client-codec.test.ts checks the client bundle and that these checks accept
// exactly what the server → client schemas in messages.ts accept.

import type { WireError } from '../errors.js';
import {
  encodeFragments,
  type FrameData,
  frameError,
  invalidMessage,
  isRecord,
  isUint,
  NOT_A_FRAME,
  parseFrame,
  uint,
} from './frame.js';
import type {
  Fragment,
  FragmentReply,
  Ping,
  PresenceEntry,
  RequestedExtensions,
  ScopeFetchReply,
  ScopeState,
  ScopeSyncReply,
  ServerMessage,
  ServerMessageType,
  ServerPresence,
  SessionCreateReply,
} from './messages.js';
import { checkFragments, checkProperties, type ProtocolLimits, quote } from './validate.js';

// Ping goes both ways, so its encoder is shared; re-exported for the client's single import.
export { encodePing } from './frame.js';

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

// ---------------------------------------------------------------------------------------------
// Encoding, client → server

/**
 * `SessionCreate` (index 0). `extensions`: the protocol extensions asked for (docs/protocol.md
 * §17); the key is sent only when given.
 */
export function encodeSessionCreate(
  version: string,
  params: Record<string, unknown> = {},
  extensions?: RequestedExtensions,
): string {
  return JSON.stringify(
    extensions === undefined
      ? { type: 'SessionCreate', index: 0, version, params }
      : { type: 'SessionCreate', index: 0, version, params, extensions },
  );
}

/**
 * `Presence` (index 0, docs/protocol.md §17) around a state already encoded as JSON (an object,
 * or `null` for none). Only to a server that granted the extension.
 */
export function encodeClientPresence(scopeIndex: number, stateJson: string): string {
  return (
    '{"type":"Presence","index":0,"scopeIndex":' +
    uint(scopeIndex, 'scopeIndex') +
    ',"state":' +
    stateJson +
    '}'
  );
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

// ---------------------------------------------------------------------------------------------
// Envelope checks, server → client
//
// Each message type is a list of fields in the order of its schema in messages.ts. The checks
// report the first failure in the order TypeBox's error iterator does — every missing required
// field first, then each field in turn — so the dropped-message texts are the same as when the
// client used the schemas.

interface Field {
  readonly name: string;
  readonly required: boolean;
  readonly valid: (value: unknown) => boolean;
  /** The message for a missing (`undefined`) or wrong value. */
  readonly error: (value: unknown) => string;
}

const isString = (value: unknown): value is string => typeof value === 'string';

/** `{message: string, type?: string}`. */
function isWireError(value: unknown): boolean {
  return (
    isRecord(value) &&
    typeof value.message === 'string' &&
    (value.type === undefined || typeof value.type === 'string')
  );
}

/** `[{error?, modifications?}]`; the modifications' contents are checked after the envelope. */
function isFragmentReplies(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  for (const r of value) {
    if (!isRecord(r)) return false;
    if (r.error !== undefined && !isWireError(r.error)) return false;
    if (r.modifications !== undefined && !isRecord(r.modifications)) return false;
  }
  return true;
}

function uintField(name: string, required = true): Field {
  return {
    name,
    required,
    valid: isUint,
    error: (v) => (v === undefined ? `Requires ${name}` : `Invalid ${name}: must be an unsigned integer`),
  };
}

const indexField: Field = {
  name: 'index',
  required: true,
  valid: isUint,
  error: (v) =>
    v === undefined
      ? 'Requires index: a message must be sent with an unsigned integer index'
      : 'Invalid index: must be an unsigned integer',
};
const errorField: Field = {
  name: 'error',
  required: false,
  valid: isWireError,
  error: () => 'Invalid error: must be {message: string, type?: string}',
};
const fragmentsField: Field = {
  name: 'fragments',
  required: true,
  valid: Array.isArray,
  error: (v) => (v === undefined ? 'Requires fragments' : 'Invalid fragments: must be an array'),
};

/** Fields of each server → client message after `type` (already matched), schema order. */
const serverMessageFields: Readonly<Record<ServerMessageType, readonly Field[]>> = {
  SessionCreateReply: [
    indexField,
    {
      name: 'sessionToken',
      required: false,
      valid: isString,
      error: () => 'Invalid sessionToken: must be a string',
    },
    errorField,
    {
      name: 'extensions',
      required: false,
      valid: isRecord,
      error: () => 'Invalid extensions: must be an object',
    },
  ],
  ScopeFetchReply: [indexField, uintField('replyTo'), uintField('scopeIndex', false), errorField],
  ScopeState: [
    indexField,
    uintField('scopeIndex'),
    {
      name: 'rootUUID',
      required: true,
      valid: isString,
      error: (v) => (v === undefined ? 'Requires rootUUID' : 'Invalid rootUUID: must be a string'),
    },
    fragmentsField,
  ],
  ScopeSync: [indexField, uintField('scopeIndex'), fragmentsField],
  ScopeSyncReply: [
    indexField,
    uintField('replyTo'),
    {
      name: 'fragmentReplies',
      required: true,
      valid: isFragmentReplies,
      error: (v) =>
        v === undefined
          ? 'Requires fragmentReplies'
          : 'Invalid fragmentReplies: must be an array of {error?, modifications?}',
    },
  ],
  Ping: [
    indexField,
    uintField('ack'),
    {
      name: 'resendMissing',
      required: false,
      valid: (v) => typeof v === 'boolean',
      error: () => 'Invalid resendMissing: must be a boolean',
    },
  ],
};

const hasOwn = (value: object, key: string): boolean => Object.hasOwn(value, key);

/**
 * Why `value` is not a valid envelope of a `type` message, or `undefined` when it is. Exported
 * for the test that compares it with the schemas; not part of the package API.
 */
export function checkServerMessage(
  type: ServerMessageType,
  value: Record<string, unknown>,
): string | undefined {
  const fields = serverMessageFields[type];
  for (const field of fields) {
    if (field.required && !hasOwn(value, field.name)) return field.error(undefined);
  }
  for (const field of fields) {
    const v = value[field.name];
    // An optional field set to `undefined` counts as absent (TypeBox's default policy).
    if ((field.required || v !== undefined) && !field.valid(v)) return field.error(v);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Decoding, server → client

export type ServerDecodeResult =
  /**
   * Valid messages in frame order; `dropped` = why the other elements were dropped. A
   * `ServerPresence` comes only to a client that negotiated presence (docs/protocol.md §17).
   */
  | { ok: true; messages: (ServerMessage | ServerPresence)[]; dropped: WireError[] }
  | { ok: false; error: WireError };

const knownServerTypes: ReadonlySet<string> = new Set(Object.keys(serverMessageFields));

/**
 * Decodes a frame from the server (for the client SDK). The server sends an array; a bare
 * object is accepted too. Unknown message types and invalid messages are dropped (reported in
 * `dropped`), the rest kept in order. `limits` default to {@link serverFrameLimits}.
 */
export function decodeServerFrame(
  data: FrameData,
  limits: ProtocolLimits = serverFrameLimits,
): ServerDecodeResult {
  const parsed = parseFrame(data, limits.maxFrameBytes);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  const list: unknown[] | undefined = Array.isArray(value) ? value : isRecord(value) ? [value] : undefined;
  if (list === undefined) return frameError(NOT_A_FRAME);
  const messages: (ServerMessage | ServerPresence)[] = [];
  const dropped: WireError[] = [];
  for (const item of list) {
    const result = decodeServerMessage(item, limits);
    if (typeof result === 'string') dropped.push(invalidMessage(result));
    else messages.push(result);
  }
  return { ok: true, messages, dropped };
}

function decodeServerMessage(
  value: unknown,
  limits: ProtocolLimits,
): ServerMessage | ServerPresence | string {
  if (!isRecord(value)) return 'A message must be an object';
  const type = value.type;
  if (typeof type !== 'string') return 'Requires type: a message must have a string type';
  if (type === 'Presence') return decodePresence(value);
  if (!knownServerTypes.has(type)) return `Unknown message type ${quote(type)}`;
  const t = type as ServerMessageType;
  const failure = checkServerMessage(t, value);
  if (failure !== undefined) return `${t}: ${failure}`;
  const index = value.index as number;
  switch (t) {
    case 'SessionCreateReply': {
      const message: SessionCreateReply = { type: t, index };
      if (value.sessionToken !== undefined) message.sessionToken = value.sessionToken as string;
      else if (value.error !== undefined) message.error = copyError(value.error as WireError);
      else return 'SessionCreateReply: requires sessionToken or error';
      if (value.extensions !== undefined) message.extensions = value.extensions as Record<string, unknown>;
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

/**
 * A server `Presence` (docs/protocol.md §17): `scopeIndex`, `entries` of `{session, state}` with
 * a string session and an object or `null` state, an optional boolean `snapshot`.
 */
function decodePresence(value: Record<string, unknown>): ServerPresence | string {
  if (value.index !== 0) return 'Presence: Invalid index: a Presence message has index 0';
  if (!isUint(value.scopeIndex)) return 'Presence: Invalid scopeIndex: must be an unsigned integer';
  if (value.snapshot !== undefined && typeof value.snapshot !== 'boolean')
    return 'Presence: Invalid snapshot: must be a boolean';
  const raw = value.entries;
  if (!Array.isArray(raw)) return 'Presence: Invalid entries: must be an array';
  const entries = new Array<PresenceEntry>(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const e: unknown = raw[i];
    if (!isRecord(e) || typeof e.session !== 'string' || (e.state !== null && !isRecord(e.state)))
      return `Presence: Invalid entries[${i}]: must be {session: string, state: object or null}`;
    entries[i] = { session: e.session, state: e.state as Record<string, unknown> | null };
  }
  return {
    type: 'Presence',
    index: 0,
    scopeIndex: value.scopeIndex,
    snapshot: value.snapshot === true,
    entries,
  };
}

/** `{message, type?}` only: the server's object may carry other keys, which are not kept. */
function copyError(error: WireError): WireError {
  return error.type === undefined ? { message: error.message } : { message: error.message, type: error.type };
}
