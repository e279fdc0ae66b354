// The outbox: gap-free indices, runs of broadcasts over a shared log, partial acknowledgement of
// a run, resend of everything unacknowledged, frames of what is unsent, and the byte budget.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeScopeSync, encodeScopeSyncReply } from '../../src/protocol/codec.js';
import { acceptedReplyText, type LogChunk, newLogChunk, Outbox } from '../../src/server/outbox.js';

type Msg = { type: string; index: number; scopeIndex?: number; fragments?: unknown[]; replyTo?: number };

function parse(frame: string | null): Msg[] {
  assert.ok(frame !== null);
  return JSON.parse(frame) as Msg[];
}

/** Appends `n` broadcasts to `chunk`, each a one-fragment list naming its position. */
function broadcast(box: Outbox, chunk: LogChunk, scopeIndex: number, n: number): void {
  for (let k = 0; k < n; k++) {
    const pos = append(chunk, null);
    box.addScopeSync(box.take(), scopeIndex, chunk, pos);
  }
}

/** Appends one broadcast from `origin` to `chunk` (as the hub does), without handing it to anyone. */
function append(chunk: LogChunk, origin: unknown): number {
  chunk.origins.push(origin);
  return (
    chunk.texts.push(JSON.stringify([{ type: 'change', uuid: `u${chunk.texts.length}`, clsName: 'C' }])) - 1
  );
}

function reply(box: Outbox, replyTo: number): void {
  const i = box.take();
  box.addText(i, JSON.stringify({ type: 'ScopeSyncReply', index: i, replyTo, fragmentReplies: [] }));
}

describe('Outbox', () => {
  test('consecutive broadcasts share one run, replies in between too; indices stay gap-free', () => {
    const box = new Outbox();
    const log = newLogChunk();
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
    assert.deepEqual(box._entries, { runs: 1, others: 1 });
    assert.equal(box.takeFrame(null), null, 'nothing unsent');
  });

  test('an acknowledgement in the middle of a run keeps the rest of it, and the resend starts after it', () => {
    const box = new Outbox();
    const log = newLogChunk();
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
    const a = newLogChunk();
    const b = newLogChunk();
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
    assert.deepEqual(box._entries, { runs: 3, others: 0 });
  });

  test('the byte budget counts every unacknowledged message and returns to zero', () => {
    const box = new Outbox();
    const log = newLogChunk();
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
    let chunk = newLogChunk();
    for (let i = 0; i < 20_000; i++) {
      if (chunk.texts.length === 64) chunk = newLogChunk();
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

  test("a writer's own broadcasts are skipped without breaking its run, and never counted", () => {
    const me = {};
    const other = {};
    const box = new Outbox(me);
    const log = newLogChunk();
    const mine: number[] = [];
    const bytes0 = box.bytes;
    // Others' changes with the writer's own (which the hub does not hand to it) in between.
    for (let k = 0; k < 6; k++) {
      if (k % 2 === 1) mine.push(append(log, me));
      box.addScopeSync(box.take(), 0, log, append(log, other));
    }
    assert.deepEqual(box._entries, { runs: 1, others: 0 });
    assert.equal(box.size, 6);
    const each = log.texts[0]!.length + 64;
    assert.equal(box.bytes - bytes0, 6 * each, 'only the six held broadcasts weigh');
    const frame = parse(box.takeFrame(null));
    assert.deepEqual(
      frame.map((m) => m.index),
      [1, 2, 3, 4, 5, 6],
    );
    const uuids = frame.map((m) => (m.fragments![0] as { uuid: string }).uuid);
    assert.deepEqual(uuids, ['u0', 'u2', 'u3', 'u5', 'u6', 'u8']);
    for (const p of mine) assert.ok(!uuids.includes(`u${p}`), `own change u${p} echoed`);
    // A partial acknowledgement inside the run, then a resend, skips the own positions too.
    box.acknowledge(2);
    assert.equal(box.bytes, 4 * each);
    assert.deepEqual(
      parse(box.resendFrame('{"type":"Ping","index":0,"ack":0,"resendMissing":true}'))
        .slice(1)
        .map((m) => [m.index, (m.fragments![0] as { uuid: string }).uuid]),
      [
        [3, 'u3'],
        [4, 'u5'],
        [5, 'u6'],
        [6, 'u8'],
      ],
    );
  });

  test("a gap in the log that is not the owner's own starts a new run", () => {
    const me = {};
    const box = new Outbox(me);
    const log = newLogChunk();
    box.addScopeSync(box.take(), 0, log, append(log, null));
    append(log, {}); // someone else's change this outbox never got (it subscribed later, say)
    box.addScopeSync(box.take(), 0, log, append(log, null));
    assert.deepEqual(box._entries, { runs: 2, others: 0 });
    assert.deepEqual(
      parse(box.takeFrame(null)).map((m) => (m.fragments![0] as { uuid: string }).uuid),
      ['u0', 'u2'],
    );
  });

  test('an accepted reply is held as numbers and written exactly as encodeScopeSyncReply writes it', () => {
    for (const [index, replyTo, n] of [
      [1, 1, 1],
      [9, 10, 0],
      [99_999, 12_345_678, 3],
      [Number.MAX_SAFE_INTEGER, 7, 2],
    ] as const) {
      const expected = encodeScopeSyncReply(index, replyTo, new Array(n).fill({}));
      assert.equal(acceptedReplyText(index, replyTo, n), expected);
    }
    const box = new Outbox();
    const log = newLogChunk();
    broadcast(box, log, 0, 1);
    const before = box.bytes;
    const i = box.take();
    box.addAcceptedReply(i, 41, 3);
    const text = encodeScopeSyncReply(i, 41, [{}, {}, {}]);
    assert.equal(box.bytes - before, text.length + 64, 'the budget counts the text it stands for');
    broadcast(box, log, 0, 1);
    // Digits change the length: the count must follow the index, not a fixed estimate.
    const far = new Outbox();
    for (let k = 0; k < 9; k++) far.addText(far.take(), 'x');
    const j = far.take();
    far.addAcceptedReply(j, 100, 1);
    assert.equal(far.bytes, 9 * 65 + encodeScopeSyncReply(10, 100, [{}]).length + 64);
    const frame = box.takeFrame(null)!;
    assert.equal(
      frame,
      `[${encodeScopeSync(1, 0, log.texts[0]!)},${text},${encodeScopeSync(3, 0, log.texts[1]!)}]`,
    );
    assert.deepEqual(box._entries, { runs: 1, others: 1 });
    box.acknowledge(2);
    assert.equal(box.bytes, log.texts[1]!.length + 64);
    box.acknowledge(3);
    assert.equal(box.bytes, 0);
    assert.deepEqual(box._entries, { runs: 0, others: 0 });
  });

  test('random sequences: frames, resends, size and bytes match a plain list of message texts', () => {
    // A small deterministic generator, so that a failure can be replayed.
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const me = {};
      const other = {};
      const box = new Outbox(me);
      /** The reference: every unacknowledged message's index, text and weight. */
      let held: { index: number; text: string; weight: number }[] = [];
      let unsent = 1;
      let next = 1;
      const chunks = [newLogChunk(), newLogChunk()];
      const ops = 50 + rand(300);
      for (let op = 0; op < ops; op++) {
        const what = rand(100);
        if (what < 45) {
          // A change to scope 0 or 1; its log chunk is replaced now and then.
          const scope = rand(2);
          if (rand(10) === 0) chunks[scope] = newLogChunk();
          const chunk = chunks[scope]!;
          const origin = rand(3) === 0 ? me : rand(2) === 0 ? other : undefined;
          const pos = append(chunk, origin);
          if (origin === me) continue;
          const index = box.take();
          box.addScopeSync(index, scope, chunk, pos);
          held.push({
            index,
            text: encodeScopeSync(index, scope, chunk.texts[pos]!),
            weight: chunk.texts[pos]!.length + 64,
          });
          next++;
        } else if (what < 60) {
          const index = box.take();
          // Now and then beyond what fits in a small integer: a long session, a big changeset.
          const replyTo = rand(10) === 0 ? 2 ** 40 + rand(5000) : 1 + rand(5000);
          const n = rand(10) === 0 ? 60 + rand(10) : rand(4);
          box.addAcceptedReply(index, replyTo, n);
          const text = encodeScopeSyncReply(index, replyTo, new Array(n).fill({}));
          held.push({ index, text, weight: text.length + 64 });
          next++;
        } else if (what < 68) {
          const index = box.take();
          const text = JSON.stringify({ type: 'ScopeFetchReply', index, replyTo: rand(100), scopeIndex: 0 });
          box.addText(index, text);
          held.push({ index, text, weight: text.length + 64 });
          next++;
        } else if (what < 80) {
          // Acks below, inside and beyond what is held.
          const ack = Math.max(0, next - 1 - rand(12) + rand(3));
          box.acknowledge(ack);
          held = held.filter((m) => m.index > ack);
          if (unsent <= ack) unsent = Math.min(ack + 1, next);
        } else if (what < 95) {
          const ping = rand(2) === 0 ? null : '{"type":"Ping","index":0,"ack":1,"resendMissing":false}';
          const want = [...(ping ? [ping] : []), ...held.filter((m) => m.index >= unsent).map((m) => m.text)];
          const frame = box.takeFrame(ping);
          if (want.length === 0) assert.equal(frame, null, `round ${round} op ${op}`);
          else assert.equal(frame, `[${want.join(',')}]`, `round ${round} op ${op}`);
          unsent = next;
        } else {
          const ping = '{"type":"Ping","index":0,"ack":0,"resendMissing":true}';
          assert.equal(
            box.resendFrame(ping),
            `[${[ping, ...held.map((m) => m.text)].join(',')}]`,
            `round ${round} op ${op}`,
          );
          unsent = next;
        }
        assert.equal(box.size, held.length, `round ${round} op ${op}`);
        assert.equal(
          box.bytes,
          held.reduce((sum, m) => sum + m.weight, 0),
          `round ${round} op ${op}`,
        );
        assert.equal(box.hasUnsent, unsent < next);
      }
    }
  });

  test('compaction keeps a long, interleaved history in order', () => {
    const me = {};
    const box = new Outbox(me);
    let chunk = newLogChunk();
    const texts: string[] = [];
    for (let i = 0; i < 5000; i++) {
      if (chunk.texts.length === 64) chunk = newLogChunk();
      if (i % 3 === 0) append(chunk, me);
      const index = box.take();
      if (i % 4 === 0) {
        box.addAcceptedReply(index, i, 1);
        texts.push(encodeScopeSyncReply(index, i, [{}]));
      } else {
        const pos = append(chunk, null);
        box.addScopeSync(index, 0, chunk, pos);
        texts.push(encodeScopeSync(index, 0, chunk.texts[pos]!));
      }
      if (i === 2000) box.acknowledge(400);
    }
    assert.equal(box.size, 4600);
    assert.ok(box._slots > 1200, `${box._slots}`);
    box.acknowledge(4900);
    // 1,250 replies and ~60 runs were added; what is left is 100 messages and a few slots more.
    assert.ok(box._slots < 400, `${box._slots}`);
    assert.equal(box.resendFrame('0'), `[0,${texts.slice(4900).join(',')}]`);
    assert.equal(box.size, 100);
  });
});
