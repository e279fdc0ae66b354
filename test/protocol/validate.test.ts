// uuid, semver and unsafe-key helpers exported for the other folders.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSemver, isUnsafeKey, isUuid, normalizeUuid } from '../../src/protocol/index.js';

describe('uuids', () => {
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
      assert.equal(isUuid(uuid), true, uuid);
      assert.equal(isUuid(uuid.toUpperCase()), true, uuid);
      assert.equal(normalizeUuid(uuid.toUpperCase()), uuid.toLowerCase());
    }
  });
  test('normalizeUuid returns the same string when already lowercase', () => {
    const uuid = crypto.randomUUID();
    assert.equal(normalizeUuid(uuid), uuid);
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
      assert.equal(isUuid(value), false, String(value));
      assert.equal(normalizeUuid(value), undefined);
    }
  });
});

describe('semver', () => {
  test('valid', () => {
    for (const v of [
      '0.0.0',
      '0.1.0',
      '0.2.0',
      '1.0.0',
      '10.20.30',
      '1.1.2-prerelease+meta',
      '1.0.0-alpha',
      '1.0.0-alpha.beta.1',
      '1.0.0-0A.is.legal',
      '1.0.0-x-y-z.--',
      '1.0.0+0.build.1-rc.10000aaa-kk-0.1',
      '99999999999999999999999.999999999999999999.99999999999999999',
    ]) {
      assert.equal(isSemver(v), true, v);
    }
  });
  test('invalid', () => {
    for (const v of [
      '1',
      '1.2',
      '1.2.3.4',
      '01.1.1',
      '1.01.1',
      '1.1.01',
      '1.2.3-0123',
      '1.2.3-',
      '1.2.3+',
      '1.2.3-+',
      '1.2.3-alpha..1',
      'v1.2.3',
      '=1.2.3',
      ' 1.2.3',
      '1.2.3\n',
      '1.2.3 ',
      `1.0.0-${'a'.repeat(300)}`,
      '',
      1,
      null,
    ]) {
      assert.equal(isSemver(v), false, String(v));
    }
  });
  test('a long adversarial string is rejected quickly', () => {
    const start = performance.now();
    assert.equal(isSemver(`1.0.0-${'0a'.repeat(5000)}!`), false);
    assert.ok(performance.now() - start < 50);
  });
});

test('isUnsafeKey', () => {
  for (const key of ['__proto__', 'constructor', 'prototype']) assert.equal(isUnsafeKey(key), true);
  for (const key of ['proto', '__proto', 'Constructor', 'toString', ''])
    assert.equal(isUnsafeKey(key), false);
});
