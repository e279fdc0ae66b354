// semver and unsafe-key helpers exported for the other folders (the uuid check is the model
// layer's: test/model/uuid.test.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSemver, isUnsafeKey } from '../../src/protocol/index.js';

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
