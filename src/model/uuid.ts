// UUIDs: generation (lowercase RFC 4122 v4, from a pooled CSPRNG buffer) and the one check of
// what counts as a uuid, used by the wire protocol's decoder, the changeset engine and the
// client alike.
//
// Why not crypto.randomUUID(): on Node 20 each string it returns keeps ~490 bytes of heap
// alive (measured; docs/architecture.md), while a flat 36-character string costs ~56. Memory
// per object matters at 100,000 objects per scope, so we build flat strings ourselves. This
// module only uses the Web Crypto API, so it runs in browsers too.

const HEX: number[] = [];
for (let i = 0; i < 16; i++) HEX.push('0123456789abcdef'.charCodeAt(i));
const DASH = 45;

const POOL_UUIDS = 256;
// The pool and its read offset are a performance cache (one getRandomValues call per 256
// uuids), not behaviour: every uuid is random whatever the offset.
const pool = new Uint8Array(16 * POOL_UUIDS);
let poolOffset = pool.length;
const codes: number[] = new Array(36).fill(0);

/** A new random lowercase v4 UUID. */
export function uuidv4(): string {
  if (poolOffset >= pool.length) {
    globalThis.crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const o = poolOffset;
  poolOffset += 16;
  let c = 0;
  for (let i = 0; i < 16; i++) {
    let b = pool[o + i]!;
    if (i === 6)
      b = (b & 0x0f) | 0x40; // version 4
    else if (i === 8) b = (b & 0x3f) | 0x80; // RFC 4122 variant
    if (i === 4 || i === 6 || i === 8 || i === 10) codes[c++] = DASH;
    codes[c++] = HEX[b >> 4]!;
    codes[c++] = HEX[b & 15]!;
  }
  return String.fromCharCode.apply(null, codes);
}

const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const MAX_UUID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

// The RFC 4122 layout (8-4-4-4-12 hex digits) with the RFC 4122 variant (`8`, `9`, `a`, `b`)
// and a version digit 1–8 (RFC 9562, which superseded RFC 4122, added 6–8); the nil and max
// UUIDs are accepted too. A regex measured about twice as fast as a char-code loop here, and
// the lowercase pattern is tried first because that is what every known client sends.
const UUID_LOWER = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID_ANY_CASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** 0 = not a UUID, 1 = a lowercase UUID, 2 = a UUID with uppercase letters. */
function uuidKind(s: string): 0 | 1 | 2 {
  if (s.length !== 36) return 0;
  if (UUID_LOWER.test(s)) return 1;
  if (UUID_ANY_CASE.test(s)) return 2;
  const lower = s.toLowerCase();
  if (lower === NIL_UUID || lower === MAX_UUID) return lower === s ? 1 : 2;
  return 0;
}

/**
 * True for an RFC 4122 textual UUID (version 1–8, RFC 4122 variant, or the nil or max UUID) in
 * either case. UUIDs compare lowercased; see {@link normalizeUUID}.
 */
export function isUUID(value: unknown): value is string {
  return typeof value === 'string' && uuidKind(value) !== 0;
}

/** The lowercase form of a UUID (the same string when it is lowercase already), or undefined. */
export function normalizeUUID(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const kind = uuidKind(value);
  return kind === 1 ? value : kind === 2 ? value.toLowerCase() : undefined;
}
