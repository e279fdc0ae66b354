// Property: value conversion to and from the wire (docs/protocol.md §6). Dates go out as seconds
// since the epoch (millisecond precision) and come in as seconds or as an ISO-8601 string.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { enumeration, INVALID, model, toDate } from '../../src/model/index.js';
import { describe as describeValue } from '../../src/model/property.js';

const E = enumeration('E', String, ['a', 'b']);
const T = model('T', function () {
  this.has('s', String);
  this.has('n', Number);
  this.has('b', Boolean);
  this.has('d', Date);
  this.has('e', E);
  this.has('m', this);
});
const prop = (name: string) => T.getProperty(name)!;

describe('decoding from the wire', () => {
  test('String, Number, Boolean and enumerations are strict', () => {
    assert.equal(prop('s').decodeScalar('x'), 'x');
    assert.equal(prop('s').decodeScalar(1), INVALID);
    assert.equal(prop('n').decodeScalar(1.5), 1.5);
    assert.equal(prop('n').decodeScalar('1'), INVALID);
    assert.equal(prop('n').decodeScalar(Number.NaN), INVALID);
    assert.equal(prop('n').decodeScalar(Number.NEGATIVE_INFINITY), INVALID);
    assert.equal(prop('b').decodeScalar(false), false);
    assert.equal(prop('b').decodeScalar(0), INVALID);
    assert.equal(prop('e').decodeScalar('b'), 'b');
    assert.equal(prop('e').decodeScalar('c'), INVALID);
    assert.equal(prop('m').decodeScalar('uuid'), INVALID, 'references are resolved by the engine');
  });

  test('Dates: a number means seconds (fractional, ms precision), a string must be ISO-8601', () => {
    const d = prop('d');
    assert.equal((d.decodeScalar(1_234_567_890.123) as Date).getTime(), 1_234_567_890_123);
    assert.equal((d.decodeScalar(0) as Date).getTime(), 0);
    assert.equal((d.decodeScalar(-1.5) as Date).getTime(), -1_500);
    assert.equal((d.decodeScalar('2009-02-13T23:31:30.123Z') as Date).getTime(), 1_234_567_890_123);
    assert.equal(
      (d.decodeScalar('2009-02-13T23:31:30+01:00') as Date).toISOString(),
      '2009-02-13T22:31:30.000Z',
    );
    assert.equal((d.decodeScalar('2009-02-13') as Date).toISOString(), '2009-02-13T00:00:00.000Z');
    for (const bad of [
      'yesterday',
      '1999/12/31',
      '2009-13-45T00:00:00Z',
      '',
      true,
      {},
      [],
      Number.NaN,
      1e300,
    ]) {
      assert.equal(d.decodeScalar(bad), INVALID, String(bad));
    }
  });
});

describe('encoding to the wire', () => {
  test('Dates as seconds, everything else as held', () => {
    assert.equal(prop('d').encodeScalar(new Date(1_234_567_890_123)), 1_234_567_890.123);
    assert.equal(prop('n').encodeScalar(5), 5);
    assert.equal(prop('e').encodeScalar('a'), 'a');
  });

  test('round trip: seconds out, seconds in, same millisecond', () => {
    for (const ms of [0, 1, 999, 1_700_000_000_001, -86_400_001]) {
      const out = prop('d').encodeScalar(new Date(ms));
      const back = prop('d').decodeScalar(JSON.parse(JSON.stringify(out))) as Date;
      assert.equal(back.getTime(), ms, String(ms));
    }
  });
});

describe('toDate', () => {
  test('numbers are milliseconds at scale 1 and seconds at scale 1000', () => {
    assert.equal((toDate(1500, 1) as Date).getTime(), 1500);
    assert.equal((toDate(1.5, 1000) as Date).getTime(), 1500);
    const d = new Date(3);
    assert.equal(toDate(d, 1000), d);
    assert.equal(toDate(new Date(Number.NaN), 1), INVALID);
    assert.equal(toDate(Number.POSITIVE_INFINITY, 1), INVALID);
    assert.equal(toDate(null, 1), INVALID);
  });
});

describe('describe (error messages)', () => {
  test('names the value without dumping it', () => {
    assert.equal(describeValue(null), 'null');
    assert.equal(describeValue(undefined), 'undefined');
    assert.equal(describeValue([1]), 'an array');
    assert.equal(describeValue(new Date(0)), 'a Date');
    assert.equal(describeValue(new Date(Number.NaN)), 'an invalid Date');
    assert.equal(describeValue('x'), 'string "x"');
    assert.equal(describeValue(2), 'number 2');
    assert.equal(describeValue({}), 'an object');
    assert.equal(describeValue(Object.create(null)), 'an object');
    assert.equal(describeValue(new T()), 'a T');
    assert.equal(
      describeValue(() => 1),
      'function',
    );
  });
});
