// The server's presence rooms (src/server/presence.ts, docs/protocol.md §17) on their own, with
// timers stepped by hand: what each member receives, the coalescing per period, snapshots,
// leaving, the size limit and the bound on what waits for a member that does not read.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Scope } from '../../src/scope/scope.js';
import {
  PresenceHub,
  type PresenceMember,
  type PresenceTimers,
  resolvePresenceOptions,
} from '../../src/server/presence.js';

/** Timers moved by hand: `turn()` runs what waits for the end of the turn, `period()` the rest. */
class StepTimers implements PresenceTimers {
  #soon: (() => void)[] = [];
  #after = new Set<() => void>();
  readonly periods: number[] = [];

  soon(fn: () => void): void {
    this.#soon.push(fn);
  }

  after(ms: number, fn: () => void): () => void {
    this.periods.push(ms);
    this.#after.add(fn);
    return () => this.#after.delete(fn);
  }

  turn(): void {
    const list = this.#soon;
    this.#soon = [];
    for (const fn of list) fn();
  }

  period(): void {
    const list = [...this.#after];
    this.#after.clear();
    for (const fn of list) fn();
  }

  get idle(): boolean {
    return this.#soon.length === 0 && this.#after.size === 0;
  }
}

interface Message {
  type: string;
  index: number;
  scopeIndex: number;
  snapshot?: boolean;
  entries: { session: string; state: Record<string, unknown> | null }[];
}

function setup(options: { rate?: number; maxStateBytes?: number } = {}) {
  const timers = new StepTimers();
  const hub = new PresenceHub(resolvePresenceOptions(options)!, timers);
  const scope = new Scope({ name: 'Canvas' });
  const wakes = new Map<string, number>();
  const member = (id: string, scopeIndex = 0): PresenceMember => {
    const m = hub.member(id, () => wakes.set(id, (wakes.get(id) ?? 0) + 1));
    m.join(scope, scopeIndex);
    return m;
  };
  return { timers, hub, scope, member, wakes };
}

/** What `member.take()` gives, parsed: the Presence messages of its next frame. */
function take(member: PresenceMember): Message[] {
  const text = member.take();
  return text === null ? [] : (JSON.parse(`[${text}]`) as Message[]);
}

/** The entries of one member's next frame, as `session=state` strings. */
function entries(member: PresenceMember): string[] {
  return take(member).flatMap((m) => m.entries.map((e) => `${e.session}=${JSON.stringify(e.state)}`));
}

describe('presence rooms', () => {
  test('a joining member gets a snapshot of the others, without its own state', () => {
    const { member, scope, timers } = setup();
    const a = member('a');
    assert.deepEqual(take(a), [{ type: 'Presence', index: 0, scopeIndex: 0, snapshot: true, entries: [] }]);
    assert.equal(a.set(scope, { x: 1 }), null);
    const b = member('b', 3);
    assert.deepEqual(take(b), [
      {
        type: 'Presence',
        index: 0,
        scopeIndex: 3,
        snapshot: true,
        entries: [{ session: 'a', state: { x: 1 } }],
      },
    ]);
    timers.turn();
    assert.deepEqual(take(a), [], 'a member never gets its own state back');
  });

  test('a change goes out at the end of the turn, to every other member, in its scopeIndex', () => {
    const { member, scope, timers } = setup();
    const [a, b, c] = [member('a', 0), member('b', 1), member('c', 2)];
    for (const m of [a, b, c]) take(m);
    a.set(scope, { cursor: [1, 2] });
    assert.deepEqual(take(b), [], 'nothing before the end of the turn');
    timers.turn();
    assert.deepEqual(take(b), [
      { type: 'Presence', index: 0, scopeIndex: 1, entries: [{ session: 'a', state: { cursor: [1, 2] } }] },
    ]);
    assert.deepEqual(entries(c), ['a={"cursor":[1,2]}']);
    assert.deepEqual(take(a), []);
  });

  test('within a period, each member gets every other author once, with its latest state', () => {
    const { member, scope, timers } = setup({ rate: 20 });
    const [a, b, c, d] = [member('a'), member('b'), member('c'), member('d')];
    for (const m of [a, b, c, d]) take(m);
    a.set(scope, { v: 0 });
    timers.turn(); // the first change after a quiet time goes at once
    for (const m of [b, c, d]) assert.deepEqual(entries(m), ['a={"v":0}']);
    assert.deepEqual(timers.periods, [50], 'a period is 1000 / rate ms');
    for (let v = 1; v <= 5; v++) {
      a.set(scope, { v });
      b.set(scope, { v: v * 10 });
      c.set(scope, { v: v * 100 });
      timers.turn();
    }
    assert.deepEqual(entries(d), [], 'changes wait for the end of the period');
    timers.period();
    // One batch authored by a, b and c: each author's own entry is cut out, wherever it lies.
    assert.deepEqual(entries(a), ['b={"v":50}', 'c={"v":500}']);
    assert.deepEqual(entries(b), ['a={"v":5}', 'c={"v":500}']);
    assert.deepEqual(entries(c), ['a={"v":5}', 'b={"v":50}']);
    assert.deepEqual(entries(d), ['a={"v":5}', 'b={"v":50}', 'c={"v":500}']);
  });

  test('a period without changes ends the cycle: the next change goes out at the end of its turn', () => {
    const { member, scope, timers } = setup();
    const [a, b] = [member('a'), member('b')];
    take(b);
    a.set(scope, { v: 1 });
    timers.turn();
    timers.period(); // nothing changed meanwhile
    assert.ok(timers.idle, 'no timer left once quiet');
    assert.deepEqual(entries(b), ['a={"v":1}']);
    a.set(scope, { v: 2 });
    timers.turn();
    assert.deepEqual(entries(b), ['a={"v":2}']);
  });

  test('a state set back to null, a detached socket and the end of a session tell the others', () => {
    const { member, scope, timers, hub } = setup();
    const [a, b, c] = [member('a'), member('b'), member('c')];
    for (const m of [a, b, c]) take(m);
    a.set(scope, { v: 1 });
    b.set(scope, { v: 2 });
    c.set(scope, { v: 3 });
    timers.turn();
    for (const m of [a, b, c]) take(m);
    a.set(scope, null);
    b.detached();
    timers.period();
    assert.deepEqual(entries(c), ['a=null', 'b=null']);
    assert.deepEqual(take(b), [], 'nothing is kept for a detached member');
    c.leaveAll();
    timers.period();
    assert.deepEqual(entries(a), ['b=null', 'c=null'], 'two periods, one frame');
    // A member without a state leaves without a word; the last one closes the room.
    a.leaveAll();
    timers.period();
    assert.deepEqual(take(b), []);
    b.leaveAll();
    assert.equal(hub.size, 0);
    assert.ok(timers.idle);
  });

  test('a member attached again gets a snapshot of the current states', () => {
    const { member, scope, timers } = setup();
    const [a, b] = [member('a'), member('b')];
    for (const m of [a, b]) take(m);
    b.detached();
    a.set(scope, { v: 1 });
    timers.turn();
    a.set(scope, { v: 2 });
    assert.deepEqual(take(b), []);
    b.attached();
    assert.deepEqual(take(b), [
      {
        type: 'Presence',
        index: 0,
        scopeIndex: 0,
        snapshot: true,
        entries: [{ session: 'a', state: { v: 2 } }],
      },
    ]);
  });

  test('a member that does not read gets a snapshot, not a backlog of every change', () => {
    const { member, scope, timers } = setup();
    const [a, b] = [member('a'), member('b')];
    take(b);
    for (let v = 0; v < 10; v++) {
      a.set(scope, { v });
      timers.turn();
      timers.period();
    }
    assert.deepEqual(take(b), [
      {
        type: 'Presence',
        index: 0,
        scopeIndex: 0,
        snapshot: true,
        entries: [{ session: 'a', state: { v: 9 } }],
      },
    ]);
  });

  test('a few batches waiting for one frame go out as one message, in order', () => {
    const { member, scope, timers, wakes } = setup();
    const [a, b] = [member('a'), member('b')];
    take(b);
    const before = wakes.get('b') ?? 0;
    a.set(scope, { v: 1 });
    timers.turn();
    a.set(scope, { v: 2 });
    timers.period();
    assert.ok((wakes.get('b') ?? 0) > before, 'the member was asked to flush');
    const messages = take(b);
    assert.equal(messages.length, 1);
    assert.deepEqual(
      messages[0]!.entries.map((e) => e.state),
      [{ v: 1 }, { v: 2 }],
    );
  });

  test('maxStateBytes counts UTF-8 bytes of the JSON; over it the state is refused and nothing changes', () => {
    const { member, scope, timers } = setup({ maxStateBytes: 17 });
    const [a, b] = [member('a'), member('b')];
    take(b);
    assert.equal(a.set(scope, { n: 'abcdefghi' }), null); // {"n":"abcdefghi"}: 17 bytes
    assert.match(a.set(scope, { n: 'abcdefghij' }) ?? '', /maxStateBytes \(17\)/);
    // 13 UTF-16 code units, 18 UTF-8 bytes.
    assert.match(a.set(scope, { n: 'ééééé' }) ?? '', /maxStateBytes/);
    timers.turn();
    assert.deepEqual(entries(b), ['a={"n":"abcdefghi"}']);
  });

  test('a state for a scope the member has not joined is refused', () => {
    const { member } = setup();
    const a = member('a');
    assert.match(a.set(new Scope({ name: 'Other' }), { v: 1 }) ?? '', /not fetched/);
    assert.match(a.set(undefined, { v: 1 }) ?? '', /not fetched/);
  });
});

describe('presence options', () => {
  test('defaults, false, and values out of range', () => {
    assert.deepEqual(resolvePresenceOptions(undefined), { rate: 20, maxStateBytes: 4096 });
    assert.equal(resolvePresenceOptions(false), null);
    assert.deepEqual(resolvePresenceOptions({ rate: 5 }), { rate: 5, maxStateBytes: 4096 });
    for (const bad of [
      { rate: 0 },
      { rate: -1 },
      { rate: Number.NaN },
      { rate: 5000 },
      { maxStateBytes: 1.5 },
      { maxStateBytes: 0 },
    ]) {
      assert.throws(() => resolvePresenceOptions(bad), TypeError, JSON.stringify(bad));
    }
  });
});
