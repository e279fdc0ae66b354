// enumeration(): the cases of the original's test/enumeration.js, and more.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DefinitionError } from '../../src/errors.js';
import { enumeration, isEnumeration } from '../../src/model/index.js';

const throwsDef = (fn: () => unknown, text: string) =>
  assert.throws(fn, (e: Error) => e instanceof DefinitionError && e.message.includes(text), text);

describe('enumeration()', () => {
  test('#1 a String enum exposes each value as a member equal to itself; keys and values are the list', () => {
    const Status = enumeration('Status', String, ['Inactive', 'Active']);
    assert.equal(Status.Inactive, 'Inactive');
    assert.equal(Status.Active, 'Active');
    assert.deepEqual(Status.getKeys(), ['Inactive', 'Active']);
    assert.deepEqual(Status.getValues(), ['Inactive', 'Active']);
    assert.equal(Status.typeName, 'Status');
    assert.equal(Status.valueType, String);
    assert.equal(String(Status), 'Status');
    assert.ok(isEnumeration(Status));
  });

  test('#2 a Number enum exposes key → int members; keys and values in order', () => {
    const ChatRoomStatus = enumeration('ChatRoomStatus', Number, { Open: 0, Closed: 1 });
    assert.equal(ChatRoomStatus.Open, 0);
    assert.equal(ChatRoomStatus.Closed, 1);
    assert.deepEqual(ChatRoomStatus.getKeys(), ['Open', 'Closed']);
    assert.deepEqual(ChatRoomStatus.getValues(), [0, 1]);
    assert.equal(ChatRoomStatus.keyForValue(1), 'Closed');
    assert.equal(ChatRoomStatus.keyForValue(7 as 0), undefined);
    assert.equal(ChatRoomStatus.valueType, Number);
  });

  test('has() is strict about type and membership', () => {
    const N = enumeration('N', Number, { a: 1, b: 2, c: 3 });
    assert.equal(N.has(2), true);
    assert.equal(N.has('2'), false);
    assert.equal(N.has(4), false);
    assert.equal(N.has(null), false);
    const S = enumeration('S', String, ['x']);
    assert.equal(S.has('x'), true);
    assert.equal(S.has('y'), false);
    assert.equal(S.has(0), false);
  });

  test('the enumeration is frozen and returns copies of its lists', () => {
    const S = enumeration('S', String, ['x', 'y']);
    assert.ok(Object.isFrozen(S));
    S.getValues().pop();
    S.getKeys().pop();
    assert.deepEqual(S.getValues(), ['x', 'y']);
    assert.deepEqual(S.getKeys(), ['x', 'y']);
  });

  test('#3 a missing name throws ("type name")', () => {
    throwsDef(() => enumeration(undefined as unknown as string, String, ['a']), 'type name');
    throwsDef(() => enumeration('', String, ['a']), 'type name');
  });

  test('#4 a type other than String or Number throws ("type must be string or number")', () => {
    throwsDef(
      () => enumeration('E', Date as unknown as StringConstructor, ['a']),
      'type must be string or number',
    );
    throwsDef(
      () => enumeration('E', undefined as unknown as StringConstructor, ['a']),
      'type must be string or number',
    );
  });

  test('#5 a String enum with non-array values throws ("values must be array of strings")', () => {
    throwsDef(
      () => enumeration('E', String, { a: 'a' } as unknown as string[]),
      'values must be array of strings',
    );
  });

  test('#6 a String enum with an empty array throws ("values must non-empty array of strings")', () => {
    throwsDef(() => enumeration('E', String, []), 'values must non-empty array of strings');
  });

  test('#7 a String enum containing a non-string throws ("values must be array of strings")', () => {
    throwsDef(
      () => enumeration('E', String, ['a', 1] as unknown as string[]),
      'values must be array of strings',
    );
  });

  test('#8 a Number enum with an empty map throws ("values must non-empty map of string to integers")', () => {
    throwsDef(() => enumeration('E', Number, {}), 'values must non-empty map of string to integers');
  });

  test('#9 a Number enum with a key like 3.14 mapped to a string throws ("values must be map of string to integers")', () => {
    throwsDef(
      () => enumeration('E', Number, { 3.14: 'pi' } as unknown as Record<string, number>),
      'values must be map of string to integers',
    );
  });

  test('#10 a Number enum with a non-integer value throws ("values must be map of string to integers")', () => {
    throwsDef(() => enumeration('E', Number, { a: 1.5 }), 'values must be map of string to integers');
    throwsDef(
      () => enumeration('E', Number, [1, 2] as unknown as Record<string, number>),
      'values must be map of string to integers',
    );
    throwsDef(
      () => enumeration('E', Number, null as unknown as Record<string, number>),
      'values must be map of string to integers',
    );
  });

  test('keys that would shadow the enumeration API are rejected', () => {
    throwsDef(() => enumeration('E', String, ['getValues']), "key 'getValues' is reserved");
    throwsDef(() => enumeration('E', Number, { typeName: 1 }), "key 'typeName' is reserved");
  });
});
