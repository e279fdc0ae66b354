import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isUUID, normalizeUUID, uuidv4 } from '../../src/model/index.js';

test('uuidv4: lowercase RFC 4122 version 4, unique, flat 36-character strings', () => {
  const seen = new Set<string>();
  // more than one pool refill (256 uuids per refill)
  for (let i = 0; i < 1000; i++) {
    const u = uuidv4();
    assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(u);
  }
  assert.equal(seen.size, 1000);
});

test('isUUID accepts either case and rejects anything else', () => {
  assert.equal(isUUID('123e4567-e89b-12d3-a456-426614174000'), true);
  assert.equal(isUUID('123E4567-E89B-12D3-A456-426614174000'), true);
  assert.equal(isUUID('123e4567e89b12d3a456426614174000'), false);
  assert.equal(isUUID('123e4567-e89b-12d3-a456-42661417400g'), false);
  assert.equal(isUUID(' 123e4567-e89b-12d3-a456-42661417400'), false);
  assert.equal(isUUID(42), false);
  assert.equal(isUUID(null), false);
});

describe('isUUID and normalizeUUID: the one uuid rule (wire protocol, engine, client)', () => {
  test('valid RFC 4122 uuids of versions 1–8, any case', () => {
    const valid = [
      'c232ab00-9414-11ec-b3c8-9f6bdeced846', // v1
      '5df41881-3aed-3515-88a7-2f4a814cf09e', // v3
      '5d1e9b9a-3c44-4f0b-8d7a-0f2b6c1e2a33', // v4
      '2ed6657d-e927-568b-95e1-2665a8aea6a2', // v5
      '1ec9414c-232a-6b00-b3c8-9f6bdeced846', // v6
      '017f22e2-79b0-7cc3-98c4-dc0c0c07398f', // v7
      '320c3d4d-cc00-875b-8ec9-32d5f69181c0', // v8
      crypto.randomUUID(),
      '00000000-0000-0000-0000-000000000000',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
    ];
    for (const uuid of valid) {
      assert.equal(isUUID(uuid), true, uuid);
      assert.equal(isUUID(uuid.toUpperCase()), true, uuid);
      assert.equal(normalizeUUID(uuid.toUpperCase()), uuid.toLowerCase());
    }
  });
  test('normalizeUUID returns the same string when already lowercase', () => {
    const uuid = crypto.randomUUID();
    assert.equal(normalizeUUID(uuid), uuid);
  });
  test('invalid', () => {
    const invalid: unknown[] = [
      '',
      'uuid',
      '5d1e9b9a3c444f0b8d7a0f2b6c1e2a33',
      '5d1e9b9a-3c44-4f0b-8d7a-0f2b6c1e2a3',
      '5d1e9b9a-3c44-4f0b-8d7a-0f2b6c1e2a333',
      '5d1e9b9a-3c44-9f0b-8d7a-0f2b6c1e2a33', // version 9
      '5d1e9b9a-3c44-4f0b-7d7a-0f2b6c1e2a33', // variant 0xxx (NCS)
      '5d1e9b9a-3c44-4f0b-cd7a-0f2b6c1e2a33', // variant 110x (Microsoft)
      '5d1e9b9a_3c44_4f0b_8d7a_0f2b6c1e2a33',
      ' 5d1e9b9a-3c44-4f0b-8d7a-0f2b6c1e2a3',
      '{5d1e9b9a-3c44-4f0b-8d7a-0f2b6c1e2a}',
      '5d1e9b9a-3c44-4f0b-8d7a-0f2b6c1e2a3\u00e9',
      'zzzzzzzz-zzzz-4zzz-8zzz-zzzzzzzzzzzz',
      null,
      undefined,
      42,
      {},
    ];
    for (const value of invalid) {
      assert.equal(isUUID(value), false, String(value));
      assert.equal(normalizeUUID(value), undefined);
    }
  });
});
