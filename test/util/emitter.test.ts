import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Emitter } from '../../src/util/emitter.js';

type Events = { ping: (n: number) => void; other: () => void };

test('on/emit deliver arguments to every listener in order; emit says whether anyone listened', () => {
  const e = new Emitter<Events>();
  const got: string[] = [];
  assert.equal(e.emit('ping', 1), false);
  e.on('ping', (n) => got.push(`a${n}`)).addListener('ping', (n) => got.push(`b${n}`));
  assert.equal(e.emit('ping', 2), true);
  assert.deepEqual(got, ['a2', 'b2']);
  assert.equal(e.listenerCount('ping'), 2);
  assert.equal(e.listenerCount('other'), 0);
  assert.equal(e.listeners('ping').length, 2);
  assert.deepEqual(e.listeners('other'), []);
});

test('once fires a single time; off/removeListener remove one registration', () => {
  const e = new Emitter<Events>();
  let onceCalls = 0;
  let calls = 0;
  const l = () => {
    calls++;
  };
  e.once('ping', () => {
    onceCalls++;
  });
  e.on('ping', l);
  e.on('ping', l);
  e.emit('ping', 0);
  e.emit('ping', 0);
  assert.equal(onceCalls, 1);
  assert.equal(calls, 4);
  e.off('ping', l);
  e.emit('ping', 0);
  assert.equal(calls, 5);
  e.removeListener('ping', l);
  e.removeListener('ping', l); // no-op
  e.off('other', l); // unknown event: no-op
  assert.equal(e.listenerCount('ping'), 0);
  assert.equal(e.emit('ping', 0), false);
});

test('a listener removing itself during emit does not skip the others', () => {
  const e = new Emitter<Events>();
  const got: string[] = [];
  const first = () => {
    got.push('first');
    e.off('ping', first);
  };
  e.on('ping', first);
  e.on('ping', () => got.push('second'));
  e.emit('ping', 0);
  e.emit('ping', 0);
  assert.deepEqual(got, ['first', 'second', 'second']);
});

test('removeAllListeners for one event or all; listener errors reach the emitter', () => {
  const e = new Emitter<Events>();
  e.on('ping', () => {});
  e.on('other', () => {});
  e.removeAllListeners('ping');
  assert.equal(e.listenerCount('ping'), 0);
  assert.equal(e.listenerCount('other'), 1);
  e.removeAllListeners();
  assert.equal(e.listenerCount('other'), 0);
  e.on('other', () => {
    throw new Error('boom');
  });
  assert.throws(() => e.emit('other'), /boom/);
});
