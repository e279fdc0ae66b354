// The hub's state of a large scope (src/server/hub.ts, StateParts): kept as segments of 64
// objects, with the object order kept until a change moves objects. Whatever changes, in
// whichever segment or across segment boundaries, the state must equal a fresh encoding, and a
// change of plain values must not walk the tree again.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Canvas, Shape } from '../../demo/models.js';
import { encodeFragments } from '../../src/protocol/codec.js';
import { Scope } from '../../src/scope/index.js';
import { ScopeHub, type Subscriber } from '../../src/server/hub.js';

const subscriber: Subscriber = { enqueueScopeSync() {}, _sendState() {} };

type ShapeT = InstanceType<typeof Shape>;

function fresh(scope: Scope): string {
  return encodeFragments(scope.getState().fragments);
}

/**
 * `actual` equals `expected`; on failure, says where they part (assert.equal's diff of two long
 * texts would take minutes).
 */
function same(actual: string, expected: string, what: string): void {
  if (actual === expected) return;
  let i = 0;
  while (i < actual.length && actual[i] === expected[i]) i++;
  assert.fail(
    `${what}: the texts part at ${i}: …${actual.slice(Math.max(0, i - 80), i + 80)}… instead of …${expected.slice(Math.max(0, i - 80), i + 80)}…`,
  );
}

/**
 * A held Canvas scope of `n` shapes; `state()` is the hub's state, and `walks()` counts the tree
 * walks the hub made for it (fresh() walks too, uncounted).
 */
function big(n: number): {
  scope: Scope;
  canvas: InstanceType<typeof Canvas>;
  state: () => string;
  walks: () => number;
} {
  const canvas = new Canvas();
  const shapes: ShapeT[] = [];
  for (let i = 0; i < n; i++) {
    const s = new Shape();
    s.assign({ x: i, y: -i });
    shapes.push(s);
  }
  canvas.assign({ name: 'big', shapes });
  const scope = new Scope({ name: 'big' });
  scope.setRoot(canvas);
  let walks = 0;
  let counting = false;
  const walk = scope.getAllModelObjects.bind(scope);
  scope.getAllModelObjects = (() => {
    if (counting) walks++;
    return walk();
  }) as typeof scope.getAllModelObjects;
  const hub = new ScopeHub();
  hub.subscribe(scope, subscriber, 0);
  const state = () => {
    counting = true;
    try {
      return hub.state(scope).json;
    } finally {
      counting = false;
    }
  };
  return { scope, canvas, state, walks: () => walks };
}

/** A small deterministic generator (the test must not depend on Math.random). */
function random(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

function shapesOf(canvas: InstanceType<typeof Canvas>): ShapeT[] {
  return (canvas as unknown as { shapes: { toArray(): ShapeT[] } }).shapes.toArray();
}

describe('the hub state of a large scope', () => {
  test('a change of plain values re-encodes without walking the tree, in any segment', () => {
    const { scope, canvas, state, walks } = big(300);
    same(state(), fresh(scope), 'the state');
    assert.equal(walks(), 1);
    const shapes = shapesOf(canvas);
    // The first and last object of segments (positions count the canvas: shape i is at i + 1).
    for (const i of [0, 62, 63, 64, 126, 127, 128, 299]) {
      shapes[i]!.assign({ x: 1000 + i });
      const text = state();
      same(text, fresh(scope), `after a change of shape ${i}`);
      assert.match(text, new RegExp(`"x":${1000 + i}`));
    }
    canvas.assign({ name: 'renamed' }); // the root: position 0, the only `change` fragment
    same(state(), fresh(scope), 'the state');
    assert.equal(walks(), 1, 'value changes never walk the tree again');
  });

  test('objects added, removed and reordered are laid out again', () => {
    const { scope, canvas, state, walks } = big(200);
    state();
    const next = random(7);
    let expectedWalks = 1;
    for (let step = 0; step < 60; step++) {
      const shapes = shapesOf(canvas);
      const op = next(4);
      if (op === 0) {
        const s = new Shape();
        s.assign({ x: -step });
        shapes.splice(next(shapes.length + 1), 0, s);
        canvas.assign({ shapes });
        expectedWalks++;
      } else if (op === 1 && shapes.length > 1) {
        shapes.splice(next(shapes.length), 1);
        canvas.assign({ shapes });
        expectedWalks++;
      } else if (op === 2) {
        shapes.reverse();
        canvas.assign({ shapes });
        expectedWalks++;
      } else {
        for (let k = 0; k < 5; k++) shapes[next(shapes.length)]!.assign({ y: step * 10 + k });
      }
      same(state(), fresh(scope), `step ${step} (op ${op})`);
    }
    assert.equal(walks(), expectedWalks, 'one walk per change that moved objects, none for the others');
  });

  test('a change applied from a client changeset is followed like a server-side edit', () => {
    const { scope, canvas, state } = big(130);
    state();
    const shape = shapesOf(canvas)[64]!;
    scope.applyChangeset(
      [{ type: 'change', uuid: shape.uuid, clsName: 'Shape', properties: { x: 4242 } }],
      {},
    );
    const text = state();
    same(text, fresh(scope), 'the state');
    assert.match(text, /"x":4242/);
  });
});
