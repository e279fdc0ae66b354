// Frame plumbing both sides of the protocol share: reading a frame's text within a size limit
// and parsing it, the small value checks and error builders, the unsigned-integer guard for
// encoders, and the encoders both sides use: the fragment array and Ping.
//
// It lives apart from codec.ts so the client codec (client-codec.ts) can use it without
// pulling in messages.ts, whose TypeBox schemas are ~115 KiB of the browser bundle. Keep it
// free of runtime imports of messages.ts and `@sinclair/typebox` (type-only imports are
// erased); test/protocol/client-codec.test.ts checks the client bundle for TypeBox.

import { ErrorType, type WireError } from '../errors.js';
import type { Fragment } from './messages.js';

/** Raw frame data as transports deliver it (a Node Buffer is a Uint8Array). */
export type FrameData = string | ArrayBuffer | Uint8Array;

export const NOT_JSON = 'Could not parse message input, input was not JSON';
export const NOT_A_FRAME = 'A frame must be a message object or an array of message objects';

const textDecoder = new TextDecoder('utf-8');

export function invalidMessage(message: string): WireError {
  return { message, type: ErrorType.invalidMessage };
}

export function frameError(
  message: string,
  type: string = ErrorType.invalidMessage,
): { ok: false; error: WireError } {
  return { ok: false, error: { message, type } };
}

/** UTF-8 bytes of a string (a lone surrogate counts 3, as its U+FFFD replacement). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      bytes += 4; // a surrogate pair: 4 bytes for 2 code units
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** More than `max` UTF-8 bytes; counted only when the UTF-16 length leaves it in doubt. */
export function exceedsBytes(text: string, max: number): boolean {
  if (text.length > max) return true; // every UTF-16 code unit is at least one UTF-8 byte
  if (text.length * 3 <= max) return false; // and at most three
  return utf8Length(text) > max;
}

/**
 * Text of a frame within the size limit, or `undefined` when it is too big. Binary data is
 * decoded as UTF-8 (malformed sequences become U+FFFD, and then fail as JSON or as values).
 */
export function frameText(data: FrameData, maxBytes: number): string | undefined {
  if (typeof data === 'string') return exceedsBytes(data, maxBytes) ? undefined : data;
  if (data.byteLength > maxBytes) return undefined;
  return textDecoder.decode(data instanceof Uint8Array ? data : new Uint8Array(data));
}

/**
 * A frame's parsed JSON, or the frame error for one too big or not JSON: the first two steps of
 * decoding, the same in both directions.
 */
export function parseFrame(
  data: FrameData,
  maxBytes: number,
): { ok: true; value: unknown } | { ok: false; error: WireError } {
  const text = frameText(data, maxBytes);
  if (text === undefined) return frameError(`Frame exceeds maxFrameBytes (${maxBytes})`);
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return frameError(NOT_JSON);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isUint(value: unknown): value is number {
  return (
    typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER
  );
}

export function uint(value: number, what: string): number {
  // Concatenating NaN or 1.5 would corrupt a frame for every client; fail loudly instead.
  if (!isUint(value)) throw new TypeError(`${what} must be an unsigned integer, got ${String(value)}`);
  return value;
}

/**
 * A JSON array of fragments, each with exactly `type`, `uuid`, `clsName`, `properties`
 * (`{}` when missing). Property values must already be wire values (Dates as seconds).
 * Encode once and pass the text to `encodeScopeSync` / `encodeScopeState` (server) or let
 * `encodeClientScopeSync` (client) call it.
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

const encodedOnce = new WeakMap<readonly Fragment[], string>();

/**
 * `encodeFragments` of a list that never changes once made: the applied fragments a scope hands
 * to every 'changes' listener. The store's record, the broadcast and a cluster's log entry all
 * need the same text, so it is encoded once, whoever asks first, and kept as long as the list.
 *
 * The text is built by concatenation: a tree of a dozen string pieces, 3–4 times the size of its
 * characters, and it is held until sessions acknowledge it (10 s with the original clients). It
 * is flattened now, while young: charCodeAt makes V8 copy it into one flat string, and the
 * pieces die in the next scavenge (BENCHMARKS.md, acknowledgement interval).
 */
export function encodeFragmentsOnce(fragments: readonly Fragment[]): string {
  let json = encodedOnce.get(fragments);
  if (json === undefined) {
    json = encodeFragments(fragments);
    json.charCodeAt(0);
    encodedOnce.set(fragments, json);
  }
  return json;
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
