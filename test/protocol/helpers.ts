import assert from 'node:assert/strict';
import {
  type ClientMessage,
  type DecodedItem,
  type DecodeResult,
  decodeFrame,
  defaultLimits,
  type ProtocolLimits,
} from '../../src/protocol/index.js';

export const UUID_A = '5d1e9b9a-3c44-4f0b-8d7a-0f2b6c1e2a33';
export const UUID_B = 'a9f0c1d2-7b3e-4c5d-9e8f-1a2b3c4d5e6f';

/** Decodes a value (JSON-encoded first unless it is already text or bytes) after the handshake. */
export function decode(value: unknown, limits: ProtocolLimits = defaultLimits): DecodeResult {
  const data = typeof value === 'string' || value instanceof Uint8Array ? value : JSON.stringify(value);
  return decodeFrame(data as string | Uint8Array, limits, { handshake: false });
}

export function handshake(value: unknown, limits: ProtocolLimits = defaultLimits): DecodeResult {
  const data = typeof value === 'string' ? value : JSON.stringify(value);
  return decodeFrame(data, limits, { handshake: true });
}

/** The single item of a one-message frame. */
export function single(value: unknown, limits?: ProtocolLimits): DecodedItem {
  const result = decode(value, limits);
  assert.equal(result.ok, true, `frame error: ${result.ok ? '' : result.error.message}`);
  assert.ok(result.ok);
  assert.equal(result.items.length, 1);
  return result.items[0]!;
}

/** The message of a valid one-message frame. */
export function valid(value: unknown, limits?: ProtocolLimits): ClientMessage {
  const item = single(value, limits);
  assert.equal(item.kind, 'message', `expected a message, got ${JSON.stringify(item)}`);
  assert.ok(item.kind === 'message');
  return item.message;
}

/** The error of an invalid (not answerable) one-message frame; checks that it names `includes`. */
export function invalid(value: unknown, includes: string | RegExp, limits?: ProtocolLimits): string {
  const item = single(value, limits);
  assert.equal(item.kind, 'invalid', `expected invalid, got ${JSON.stringify(item)}`);
  assert.ok(item.kind === 'invalid');
  assertMessage(item.error.message, includes);
  assert.equal(item.error.type, 'invalid-message');
  return item.error.message;
}

/** The answerable item of a one-message frame; checks that its error names `includes`. */
export function answerable(
  value: unknown,
  includes: string | RegExp,
  limits?: ProtocolLimits,
): Extract<DecodedItem, { kind: 'answerable' }> {
  const item = single(value, limits);
  assert.equal(item.kind, 'answerable', `expected answerable, got ${JSON.stringify(item)}`);
  assert.ok(item.kind === 'answerable');
  assertMessage(item.error.message, includes);
  return item;
}

export function assertMessage(message: string, includes: string | RegExp): void {
  if (typeof includes === 'string')
    assert.ok(message.includes(includes), `"${message}" should include "${includes}"`);
  else assert.match(message, includes);
  // Specific, readable, no TypeBox dump or stack.
  assert.doesNotMatch(message, /Expected|\bat .+:\d+|\n/);
  assert.ok(message.length < 200, `message too long: ${message}`);
}

/** A frame-level error (ok: false). */
export function frameError(result: DecodeResult, includes: string | RegExp, type = 'invalid-message'): void {
  assert.equal(result.ok, false, `expected a frame error, got ${JSON.stringify(result)}`);
  assert.ok(!result.ok);
  assertMessage(result.error.message, includes);
  assert.equal(result.error.type, type);
}

export function fragment(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'change', uuid: UUID_A, clsName: 'Shape', properties: { x: 1 }, ...overrides };
}

export function scopeSync(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'ScopeSync', index: 2, scopeIndex: 0, atomic: false, fragments: [fragment()], ...overrides };
}

/** Asserts that the object has exactly these keys, in any order. */
export function assertKeys(value: unknown, keys: string[]): void {
  assert.ok(typeof value === 'object' && value !== null);
  assert.deepEqual(Object.keys(value).sort(), [...keys].sort());
}
