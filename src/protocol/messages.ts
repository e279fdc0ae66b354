// The v1 wire messages (docs/protocol.md §5, §6): TypeScript types for every message in both
// directions, and TypeBox schemas for the shapes each side accepts. Only the server's side
// (client → server) is compiled here; the client SDK checks the server's messages by hand in
// client-codec.ts, which keeps TypeBox (~115 KiB minified) out of the browser bundle.
//
// The schemas only check the envelope of a message (field types, unsigned indices, the
// semver and procedure formats). Fragments, limits, `params` nesting and the rules that span
// two fields (`procedure` needs `atomic`) are checked by hand in `validate.ts`: hand-written
// loops are faster there and give error messages that name the fragment and the property.

import { type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler, type ValueError } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { WireError } from '../errors.js';

export type { WireError };

// ---------------------------------------------------------------------------------------------
// Values and fragments

/** A scalar a fragment property may hold on the wire. */
export type WireScalar = null | string | number | boolean;
/** A fragment property value on the wire: a scalar or a flat array of scalars. */
export type WireValue = WireScalar | WireScalar[];

/** One change to one object (docs/protocol.md §6). Outbound fragments may omit `properties`. */
export interface Fragment {
  type: 'add' | 'change';
  /** Lowercase RFC 4122 UUID. */
  uuid: string;
  clsName: string;
  properties?: Record<string, unknown>;
}

/**
 * A fragment as the decoder hands it out: `uuid` validated and lowercased, `properties`
 * always present (`{}` when the sender omitted it), every value a {@link WireValue}, and no
 * property named `__proto__`, `constructor` or `prototype`.
 */
export interface InboundFragment extends Fragment {
  properties: Record<string, WireValue>;
}

/** One entry of `ScopeSyncReply.fragmentReplies`: `{}` = accepted. */
export interface FragmentReply {
  error?: WireError;
  /** Values the server changed on an accepted fragment; the client applies them locally. */
  modifications?: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Messages

export interface SessionCreate {
  type: 'SessionCreate';
  index: number;
  version: string;
  /** Application data for authentication; `{}` when the client sent none. */
  params: Record<string, unknown>;
  /**
   * The protocol extensions the client asks for (docs/protocol.md §17), only those this server
   * knows, with the version asked; absent when the client asked for none.
   */
  extensions?: RequestedExtensions;
}

/** Extensions a client may ask for in `SessionCreate.extensions`, by name: the version asked. */
export interface RequestedExtensions {
  presence?: number;
}

/** What the server granted in `SessionCreateReply.extensions` (docs/protocol.md §17). */
export interface GrantedExtensions {
  presence?: PresenceGrant;
}

/** The presence extension as granted: its version and the server's limits for it. */
export interface PresenceGrant {
  version: number;
  /** Largest presence state the server accepts, in UTF-8 bytes of its JSON. */
  maxStateBytes: number;
  /** How many times a second, at most, the server sends a scope's presence changes. */
  rate: number;
}

export interface SessionCreateReply {
  type: 'SessionCreateReply';
  index: number;
  sessionToken?: string;
  error?: WireError;
  /** Only to a client that asked for extensions, and only those granted. */
  extensions?: Record<string, unknown>;
}

export interface ScopeFetch {
  type: 'ScopeFetch';
  index: number;
  name: string;
  /** `{}` when the client sent none. */
  params: Record<string, unknown>;
}

export interface ScopeFetchReply {
  type: 'ScopeFetchReply';
  index: number;
  replyTo: number;
  scopeIndex?: number;
  error?: WireError;
}

export interface ScopeState<F extends Fragment = InboundFragment> {
  type: 'ScopeState';
  index: number;
  scopeIndex: number;
  rootUUID: string;
  fragments: F[];
}

export interface ScopeSync<F extends Fragment = InboundFragment> {
  type: 'ScopeSync';
  index: number;
  scopeIndex: number;
  fragments: F[];
  /** Decoded messages always carry it (`false` when absent on the wire). */
  atomic?: boolean;
  /** `"Model.procedure"`; only ever present together with `atomic`. */
  procedure?: string;
}

export interface ScopeSyncReply {
  type: 'ScopeSyncReply';
  index: number;
  replyTo: number;
  fragmentReplies: FragmentReply[];
}

export interface Ping {
  type: 'Ping';
  index: number;
  ack: number;
  /** Decoded messages always carry it (`false` when absent on the wire). */
  resendMissing: boolean;
}

/** The generic reply: parsed and ignored. */
export interface Reply {
  type: 'Reply';
  index: number;
  replyTo: number;
}

/**
 * A presence state (docs/protocol.md §17): any JSON object, `null` for none. Never stored, never
 * acknowledged; only sessions that negotiated the extension send or receive it.
 */
export type PresenceState = Record<string, unknown>;

/** `Presence`, client → server: this session's state in one scope (`null`: none). Index 0. */
export interface ClientPresence {
  type: 'Presence';
  index: 0;
  scopeIndex: number;
  state: PresenceState | null;
}

/** One session's presence in a server `Presence` message: `state: null` = it left. */
export interface PresenceEntry {
  /** The session's id (`Session.id`): short, unique per process, no secret. */
  session: string;
  state: PresenceState | null;
}

/**
 * `Presence`, server → client (docs/protocol.md §17): other sessions' presence in one scope.
 * Index 0, outside the indexed stream. `snapshot: true` = the whole set, replacing what the client
 * holds; otherwise changes, in order.
 */
export interface ServerPresence {
  type: 'Presence';
  index: 0;
  scopeIndex: number;
  snapshot: boolean;
  entries: PresenceEntry[];
}

/**
 * A message type the original server's parser knew but that a server never acts on when a
 * client sends it. Only `type` and `index` are kept.
 */
export interface IgnoredMessage {
  type: 'SessionCreateReply' | 'ScopeState';
  index: number;
}

/** What the server accepts from a client (docs/protocol.md §2.6, "Message types each parser knows"). */
export type ClientMessage =
  | SessionCreate
  | ScopeFetch
  | ScopeSync
  | Ping
  | Reply
  | IgnoredMessage
  | ClientPresence;
export type ClientMessageType = ClientMessage['type'];

/**
 * What a client accepts from the server: the v1 messages. The presence extension's message
 * (`ServerPresence`) is apart: only a client that negotiated it gets one.
 */
export type ServerMessage =
  | SessionCreateReply
  | ScopeFetchReply
  | ScopeState
  | ScopeSync
  | ScopeSyncReply
  | Ping;
export type ServerMessageType = ServerMessage['type'];

// ---------------------------------------------------------------------------------------------
// Schemas

/**
 * Semantic Versioning 2.0.0: MAJOR.MINOR.PATCH without leading zeros, an optional
 * pre-release of dot-separated identifiers (numeric ones without leading zeros) and optional
 * build metadata. No leading `v`. Inputs are length-capped before the test (ReDoS guard).
 */
const SEMVER_SOURCE =
  '^(?:0|[1-9][0-9]*)\\.(?:0|[1-9][0-9]*)\\.(?:0|[1-9][0-9]*)' +
  '(?:-(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?' +
  '(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?$';
export const MAX_VERSION_LENGTH = 256;
const SEMVER = new RegExp(SEMVER_SOURCE);

/** True when `value` is a Semantic Versioning 2.0.0 version string. */
export function isSemver(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_VERSION_LENGTH && SEMVER.test(value);
}

/** `ModelName.procedureName`: exactly one dot, a non-empty name on each side. */
const PROCEDURE_SOURCE = '^[^.]+\\.[^.]+$';

const Uint = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
/** `params`: optional; `null` is read as absent. Its contents are walked by hand. */
const Params = Type.Optional(Type.Union([Type.Object({}), Type.Null()]));
const ErrorSchema = Type.Object({ message: Type.String(), type: Type.Optional(Type.String()) });
/** Fragments are validated element by element by hand (validate.ts). */
const Fragments = Type.Array(Type.Unknown());

// Client → server (what the server accepts).

export const SessionCreateSchema = Type.Object({
  type: Type.Literal('SessionCreate'),
  index: Uint,
  version: Type.String({ maxLength: MAX_VERSION_LENGTH, pattern: SEMVER_SOURCE }),
  params: Params,
  /** docs/protocol.md §17: optional; `null` counts as absent; unknown names are ignored. */
  extensions: Type.Optional(Type.Union([Type.Object({}), Type.Null()])),
});

export const ScopeFetchSchema = Type.Object({
  type: Type.Literal('ScopeFetch'),
  index: Uint,
  name: Type.String(),
  params: Params,
});

export const ScopeSyncSchema = Type.Object({
  type: Type.Literal('ScopeSync'),
  index: Uint,
  scopeIndex: Uint,
  fragments: Fragments,
  atomic: Type.Optional(Type.Boolean()),
  procedure: Type.Optional(Type.String({ pattern: PROCEDURE_SOURCE })),
});

export const PingSchema = Type.Object({
  type: Type.Literal('Ping'),
  index: Uint,
  ack: Uint,
  resendMissing: Type.Optional(Type.Boolean()),
});

export const ReplySchema = Type.Object({
  type: Type.Literal('Reply'),
  index: Uint,
  replyTo: Uint,
});

/** The presence extension's message (docs/protocol.md §17): index 0, a state object or null. */
export const PresenceSchema = Type.Object({
  type: Type.Literal('Presence'),
  index: Type.Literal(0),
  scopeIndex: Uint,
  state: Type.Union([Type.Object({}), Type.Null()]),
});

/** SessionCreateReply and ScopeState sent by a client: known, ignored, only the index checked. */
export const IgnoredMessageSchema = Type.Object({
  type: Type.Union([Type.Literal('SessionCreateReply'), Type.Literal('ScopeState')]),
  index: Uint,
});

// Server → client (what a client accepts). The client checks these by hand (client-codec.ts)
// to keep TypeBox out of its bundle; these schemas stay as the reference that
// test/protocol/client-codec.test.ts holds those checks to.

export const SessionCreateReplySchema = Type.Object({
  type: Type.Literal('SessionCreateReply'),
  index: Uint,
  sessionToken: Type.Optional(Type.String()),
  error: Type.Optional(ErrorSchema),
  extensions: Type.Optional(Type.Object({})),
});

export const ScopeFetchReplySchema = Type.Object({
  type: Type.Literal('ScopeFetchReply'),
  index: Uint,
  replyTo: Uint,
  scopeIndex: Type.Optional(Uint),
  error: Type.Optional(ErrorSchema),
});

export const ScopeStateSchema = Type.Object({
  type: Type.Literal('ScopeState'),
  index: Uint,
  scopeIndex: Uint,
  rootUUID: Type.String(),
  fragments: Fragments,
});

export const ServerScopeSyncSchema = Type.Object({
  type: Type.Literal('ScopeSync'),
  index: Uint,
  scopeIndex: Uint,
  fragments: Fragments,
});

export const ScopeSyncReplySchema = Type.Object({
  type: Type.Literal('ScopeSyncReply'),
  index: Uint,
  replyTo: Uint,
  fragmentReplies: Type.Array(
    Type.Object({ error: Type.Optional(ErrorSchema), modifications: Type.Optional(Type.Object({})) }),
  ),
});

// ---------------------------------------------------------------------------------------------
// Compiled checks

/** The part of TypeBox's TypeCheck the codec uses. */
export interface SchemaCheck {
  Check(value: unknown): boolean;
  Errors(value: unknown): { First(): ValueError | undefined };
}

/** A compiled schema and the messages its fields get when they are wrong. */
export interface MessageCheck {
  readonly check: SchemaCheck;
  /** Field name → message for a missing (`undefined`) or wrong value. */
  readonly fieldErrors: Readonly<Record<string, (value: unknown) => string>>;
}

const uintField = (name: string) => (value: unknown) =>
  value === undefined ? `Requires ${name}` : `Invalid ${name}: must be an unsigned integer`;
const indexError = (value: unknown) =>
  value === undefined
    ? 'Requires index: a message must be sent with an unsigned integer index'
    : 'Invalid index: must be an unsigned integer';
const paramsError = () => 'Invalid params: must be an object';

/**
 * TypeCompiler generates code with `new Function`, which a browser page with a strict
 * Content-Security-Policy (no 'unsafe-eval') forbids. The client SDK does not load this module,
 * but the package's main entry (which exports it) still may be bundled for a page, so fall back
 * to TypeBox's interpreting checker there instead of failing at import.
 */
function checker(schema: TSchema): SchemaCheck {
  try {
    return TypeCompiler.Compile(schema);
  } catch {
    /* c8 ignore next 2 */
    return { Check: (value) => Value.Check(schema, value), Errors: (value) => Value.Errors(schema, value) };
  }
}

function compile(schema: TSchema, fieldErrors: Record<string, (value: unknown) => string>): MessageCheck {
  return { check: checker(schema), fieldErrors: { index: indexError, ...fieldErrors } };
}

/** Checks for client → server messages, by `type`. */
export const clientMessageChecks: Readonly<Record<ClientMessageType, MessageCheck>> = {
  SessionCreate: compile(SessionCreateSchema, {
    version: (v) => (typeof v === 'string' ? 'Requires valid version' : 'Requires version'),
    params: paramsError,
    extensions: () => 'Invalid extensions: must be an object',
  }),
  ScopeFetch: compile(ScopeFetchSchema, {
    name: (v) => (v === undefined ? 'Requires name' : 'Invalid name: must be a string'),
    params: paramsError,
  }),
  ScopeSync: compile(ScopeSyncSchema, {
    scopeIndex: uintField('scopeIndex'),
    fragments: (v) => (v === undefined ? 'Requires fragments' : 'Invalid fragments: must be an array'),
    atomic: () => 'Invalid atomic: must be a boolean',
    procedure: (v) =>
      typeof v === 'string'
        ? 'Procedure must be of the format "ModelName.procedureName"'
        : 'Invalid procedure: must be a string',
  }),
  Ping: compile(PingSchema, {
    ack: uintField('ack'),
    resendMissing: () => 'Invalid resendMissing: must be a boolean',
  }),
  Reply: compile(ReplySchema, { replyTo: uintField('replyTo') }),
  Presence: compile(PresenceSchema, {
    index: (v) => (v === undefined ? 'Requires index' : 'Invalid index: a Presence message has index 0'),
    scopeIndex: uintField('scopeIndex'),
    state: (v) => (v === undefined ? 'Requires state' : 'Invalid state: must be an object or null'),
  }),
  SessionCreateReply: compile(IgnoredMessageSchema, {}),
  ScopeState: compile(IgnoredMessageSchema, {}),
};

/**
 * The message for a value that failed `entry.check`: the first failing field, named.
 * Runs only on the failure path (TypeBox's error iterator is slow, the compiled check is not).
 */
export function describeFailure(entry: MessageCheck, value: Record<string, unknown>, type: string): string {
  const first = entry.check.Errors(value).First();
  if (first !== undefined) {
    const slash = first.path.indexOf('/', 1);
    const field = first.path.slice(1, slash === -1 ? undefined : slash);
    const describe = entry.fieldErrors[field];
    if (describe !== undefined) return describe(value[field]);
    if (field !== '') return `Invalid ${field}`;
  }
  return `Invalid ${type} message`;
}
