// The outbox: gap-free indices, runs of broadcasts over a shared log, partial acknowledgement of
// a run, resend of everything unacknowledged, frames of what is unsent, and the byte budget.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type LogChunk, Outbox } from '../../src/server/outbox.js';

type Msg = { type: string; index: number; scopeIndex?: number; fragments?: unknown[]; replyTo?: number };

function parse(frame: string | null): Msg[] {
  assert.ok(frame !== null);
  return JSON.parse(frame) as Msg[];
}

/** Appends `n` broadcasts to `chunk`, each a one-fragment list naming its position. */
function broadcast(box: Outbox, chunk: LogChunk, scopeIndex: number, n: number): void {
  for (let k = 0; k < n; k++) {
    const pos = chunk.push(JSON.stringify([{ type: 'change', uuid: `u${chunk.length}`, clsName: 'C' }])) - 1;
    box.addScopeSync(box.take(), scopeIndex, chunk, pos);
  }
}

function reply(box: Outbox, replyTo: number): void {
  const i = box.take();
  box.addText(i, JSON.stringify({ type: 'ScopeSyncReply', index: i, replyTo, fragmentReplies: [] }));
}

describe('Outbox', () => {
  test('consecutive broadcasts share one run; a reply in between starts a new one; indices stay gap-free', () => {
    const box = new Outbox();
    const log: LogChunk = [];
    broadcast(box, log, 0, 3);
    reply(box, 7);
    broadcast(box, log, 0, 2);
    const frame = parse(box.takeFrame(null));
    assert.deepEqual(
      frame.map((m) => m.index),
      [1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(
      frame.map((m) => m.type),
      ['ScopeSync', 'ScopeSync', 'ScopeSync', 'ScopeSyncReply', 'ScopeSync', 'ScopeSync'],
    );
    assert.deepEqual(
      frame.filter((m) => m.type === 'ScopeSync').map((m) => (m.fragments![0] as { uuid: string }).uuid),
      ['u0', 'u1', 'u2', 'u3', 'u4'],
    );
    assert.equal(box.size, 6);
    assert.equal(box.takeFrame(null), null, 'nothing unsent');
  });

  test('an acknowledgement in the middle of a run keeps the rest of it, and the resend starts after it', () => {
    const box = new Outbox();
    const log: LogChunk = [];
    broadcast(box, log, 2, 10);
    box.takeFrame(null);
    const before = box.bytes;
    box.acknowledge(4);
    assert.equal(box.size, 6);
    assert.ok(box.bytes < before);
    const resent = parse(box.resendFrame('{"type":"Ping","index":0,"ack":0,"resendMissing":true}'));
    assert.deepEqual(
      resent.map((m) => m.index),
      [0, 5, 6, 7, 8, 9, 10],
    );
    assert.equal(resent[1]!.scopeIndex, 2);
    // The run goes on growing after a partial ack.
    broadcast(box, log, 2, 2);
    assert.deepEqual(
      parse(box.takeFrame(null)).map((m) => m.index),
      [11, 12],
    );
    box.acknowledge(12);
    assert.equal(box.size, 0);
    assert.equal(box.bytes, 0);
  });

  test('runs do not cross log chunks or scopes, and frames hold only what is unsent', () => {
    const box = new Outbox();
    const a: LogChunk = [];
    const b: LogChunk = [];
    broadcast(box, a, 0, 2);
    assert.deepEqual(
      parse(box.takeFrame('{"type":"Ping","index":0,"ack":0,"resendMissing":false}')).map((m) => m.index),
      [0, 1, 2],
    );
    broadcast(box, a, 0, 1); // extends the written run: only the new message goes out
    broadcast(box, b, 0, 1); // another chunk
    broadcast(box, a, 1, 1); // another scope
    const frame = parse(box.takeFrame(null));
    assert.deepEqual(
      frame.map((m) => [m.index, m.scopeIndex]),
      [
        [3, 0],
        [4, 0],
        [5, 1],
      ],
    );
    assert.equal(box.size, 5);
  });

  test('the byte budget counts every unacknowledged message and returns to zero', () => {
    const box = new Outbox();
    const log: LogChunk = [];
    broadcast(box, log, 0, 100);
    reply(box, 1);
    const full = box.bytes;
    assert.ok(full >= 100 * 64, `${full}`);
    box.acknowledge(50);
    assert.ok(box.bytes > 0 && box.bytes < full);
    box.acknowledge(101);
    assert.equal(box.bytes, 0);
    assert.equal(box.size, 0);
    assert.equal(box.hasUnsent, false, 'acknowledged messages are never written');
  });

  test('a long run compacts: thousands of broadcasts held for a slow acknowledger cost a few entries', () => {
    const box = new Outbox();
    let chunk: LogChunk = [];
    for (let i = 0; i < 20_000; i++) {
      if (chunk.length === 64) chunk = [];
      broadcast(box, chunk, 0, 1);
    }
    assert.equal(box.size, 20_000);
    const frame = parse(box.takeFrame(null));
    assert.equal(frame.length, 20_000);
    assert.equal(frame.at(-1)!.index, 20_000);
    box.acknowledge(19_990);
    assert.deepEqual(
      parse(box.resendFrame('{"type":"Ping","index":0,"ack":0,"resendMissing":true}'))
        .slice(1)
        .map((m) => m.index),
      [19_991, 19_992, 19_993, 19_994, 19_995, 19_996, 19_997, 19_998, 19_999, 20_000],
    );
  });
});
