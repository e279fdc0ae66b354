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

describe('ISO-8601 strings must name a real calendar date and time (docs/protocol.md §6.3)', () => {
  const iso = (text: string) => {
    const d = toDate(text, 1000);
    return d === INVALID ? INVALID : d.toISOString();
  };

  test('days that do not exist in their month are rejected, not rolled over', () => {
    for (const bad of [
      '2021-02-30T00:00:00Z',
      '2021-02-30',
      '2021-02-31',
      '2021-04-31T12:00Z',
      '2021-06-31',
      '2021-09-31',
      '2021-11-31',
      '2021-01-32',
      '2021-01-00',
      '2021-00-10',
      '2021-13-01',
    ]) {
      assert.equal(toDate(bad, 1000), INVALID, bad);
    }
    assert.equal(iso('2021-01-31T00:00:00Z'), '2021-01-31T00:00:00.000Z');
    assert.equal(iso('2021-04-30'), '2021-04-30T00:00:00.000Z');
    assert.equal(iso('2021-12-31T23:59:59.999Z'), '2021-12-31T23:59:59.999Z');
  });

  test('February 29 only in leap years (every 4th year, not centuries, except every 400th)', () => {
    for (const year of ['2020', '2024', '2000', '1600', '0000']) {
      assert.equal(iso(`${year}-02-29T00:00:00Z`), `${year}-02-29T00:00:00.000Z`, year);
    }
    for (const year of ['2021', '2023', '1900', '2100', '1700']) {
      assert.equal(toDate(`${year}-02-29T00:00:00Z`, 1000), INVALID, year);
      assert.equal(toDate(`${year}-02-29`, 1000), INVALID, year);
    }
  });

  test('hours below 24, minutes and seconds below 60: no 24:00, no leap second', () => {
    for (const bad of [
      '2021-03-01T24:00:00Z',
      '2021-03-01T24:00Z',
      '2021-03-01 24:00',
      '2021-03-01T23:60:00Z',
      '2021-03-01T23:59:60Z',
      '2021-03-01T23:59:60.5Z',
      '2021-03-01T99:99:99Z',
    ]) {
      assert.equal(toDate(bad, 1000), INVALID, bad);
    }
    assert.equal(iso('2021-03-01T23:59:59Z'), '2021-03-01T23:59:59.000Z');
    assert.equal(iso('2021-03-01T00:00:00Z'), '2021-03-01T00:00:00.000Z');
  });

  test('offsets: ±HH:MM and ±HHMM, below 24 hours and with minutes below 60', () => {
    assert.equal(iso('2021-03-01T00:30:00+05:30'), '2021-02-28T19:00:00.000Z');
    assert.equal(iso('2021-03-01T00:30:00+0530'), '2021-02-28T19:00:00.000Z');
    assert.equal(iso('2021-02-28T22:00:00-03:00'), '2021-03-01T01:00:00.000Z');
    assert.equal(iso('2020-02-28T23:00:00-0100'), '2020-02-29T00:00:00.000Z', 'rolls into Feb 29');
    assert.equal(iso('2021-03-01 12:00Z'), '2021-03-01T12:00:00.000Z');
    assert.equal(iso('2021-03-01T12:00:00-00:00'), '2021-03-01T12:00:00.000Z');
    assert.equal(iso('2021-03-01T12:00:00+23:59'), '2021-02-28T12:01:00.000Z');
    for (const bad of [
      '2021-03-01T12:00:00+24:00',
      '2021-03-01T12:00:00+01:60',
      '2021-03-01T12:00:00-9900',
    ]) {
      assert.equal(toDate(bad, 1000), INVALID, bad);
    }
    // The zone is checked too when the date itself is invalid.
    assert.equal(toDate('2021-02-29T23:00:00-01:00', 1000), INVALID);
  });

  test('fractions: digits beyond the millisecond are dropped', () => {
    assert.equal(iso('2021-03-01T12:00:00.5Z'), '2021-03-01T12:00:00.500Z');
    assert.equal(iso('2021-03-01T12:00:00.1239Z'), '2021-03-01T12:00:00.123Z');
    assert.equal(iso(`2021-03-01T12:00:00.${'9'.repeat(40)}Z`), '2021-03-01T12:00:00.999Z');
  });

  test('years 0000–0099 are not read as 1900–1999', () => {
    assert.equal(iso('0050-06-15'), '0050-06-15T00:00:00.000Z');
    assert.equal(iso('0001-01-01T00:00:00Z'), '0001-01-01T00:00:00.000Z');
    assert.equal(iso('0000-01-01T00:30+01:00'), '-000001-12-31T23:30:00.000Z');
  });

  test('without a zone a time is local and a date alone UTC, as new Date reads them', () => {
    for (const text of ['2021-03-01T12:34:56.789', '2021-03-01T12:34', '0050-06-15T01:02:03', '2021-03-01']) {
      assert.equal((toDate(text, 1000) as Date).getTime(), new Date(text).getTime(), text);
    }
    assert.equal(
      (toDate('2021-03-01 12:34:56', 1000) as Date).getTime(),
      new Date('2021-03-01T12:34:56').getTime(),
    );
  });

  test('the wire decoder applies the same rule', () => {
    assert.equal(prop('d').decodeScalar('2021-02-30T00:00:00Z'), INVALID);
    assert.equal(
      (prop('d').decodeScalar('2024-02-29T00:00:00Z') as Date).toISOString(),
      '2024-02-29T00:00:00.000Z',
    );
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
