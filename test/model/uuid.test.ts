import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isUUID, uuidv4 } from '../../src/model/index.js';

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
