// ClientScope when a newer changeset is answered before an older one (replies are matched by
// replyTo, docs/protocol.md §3): the rollback of the newer one must not become the base of the
// older one. Found by test/cluster/failover.test.ts, where a cluster process answered a
// changeset while older ones still waited on a dead owner: the older one's edit was then taken
// for applied by the re-application after a new session, and lost.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Canvas, Shape } from '../../demo/models.js';
import { ClientScope, type ScopeHost, type SyncOptions } from '../../src/client/index.js';
import type { ModelObject } from '../../src/model/index.js';
import type { Fragment, FragmentReply, InboundFragment } from '../../src/protocol/index.js';

const ROOT = '0b7c2d0e-6a0c-4a8e-9c2f-4f7e4b1d9a10';
const S1 = '5d1e9b9a-3c44-4f0b-8d7a-0f2b6c1e2a33';

interface Sent {
  fragments: Fragment[];
  reply: (r: FragmentReply[] | null) => void;
}

class FakeHost implements ScopeHost {
  sent: Sent[] = [];
  _sendSync(_s: ClientScope, fragments: Fragment[], _o: SyncOptions, reply: Sent['reply']): void {
    this.sent.push({ fragments, reply });
  }
  _pendingChanged(): void {}
}

function canvasState(shapes: string[]): InboundFragment[] {
  return [
    { type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { name: 'Shapes', shapes } },
    ...shapes.map(
      (uuid): InboundFragment => ({
        type: 'add',
        uuid,
        clsName: 'Shape',
        properties: { x: 0, y: 0, width: 10, height: 10, type: 0 },
      }),
    ),
  ];
}

/** A fetched canvas holding S1, and two changesets in flight: the first adds A, the second B. */
function twoInFlight() {
  const host = new FakeHost();
  const scope = new ClientScope('Canvas', Canvas, {}, host);
  scope._applyState(ROOT, canvasState([S1]));
  scope._fetched(0);
  const root = scope.root as ModelObject & {
    shapes: { toArray(): ModelObject[]; push(...o: ModelObject[]): number };
  };
  const a = new Shape({ x: 1 });
  root.shapes.push(a);
  const first = scope.flush();
  const b = new Shape({ x: 2 });
  root.shapes.push(b);
  const second = scope.flush();
  assert.equal(host.sent.length, 2);
  const [sentA, sentB] = host.sent as [Sent, Sent];
  host.sent = [];
  const shapes = () => root.shapes.toArray().map((o) => o.uuid);
  return { host, scope, a, b, first, second, sentA, sentB, shapes };
}

const rejected = (s: Sent): FragmentReply[] => s.fragments.map(() => ({ error: { message: 'no' } }));

describe('a newer changeset answered before an older one', () => {
  test('its rollback restores what the older one left, not what was before the older one', async () => {
    const { a, b, first, second, sentA, sentB, shapes } = twoInFlight();
    sentB.reply(rejected(sentB));
    assert.equal((await second).status, 'reverted');
    assert.deepEqual(shapes(), [S1, a.uuid], 'B is gone, A (unanswered) stays');
    sentA.reply(sentA.fragments.map(() => ({})));
    assert.equal((await first).status, 'completed');
    assert.deepEqual(shapes(), [S1, a.uuid]);
    assert.equal(b.uuid === a.uuid, false);
  });

  test('after a new session, the older unanswered changeset is re-applied and sent, not taken for applied', async () => {
    const { host, scope, a, first, second, sentB, shapes } = twoInFlight();
    sentB.reply(rejected(sentB));
    assert.equal((await second).status, 'reverted');
    // The session is lost before A is answered; the new session's state does not have A.
    scope._suspend();
    scope._recover(0, ROOT, canvasState([S1]));
    assert.deepEqual(shapes(), [S1, a.uuid]);
    assert.equal(host.sent.length, 1, 'A is sent again');
    assert.deepEqual(
      host.sent[0]!.fragments.map((f) => [f.type, f.uuid]),
      [
        ['add', a.uuid],
        ['change', ROOT],
      ],
    );
    assert.deepEqual(host.sent[0]!.fragments[1]!.properties, { shapes: [S1, a.uuid] });
    host.sent[0]!.reply([{}, {}]);
    assert.equal((await first).status, 'completed');
  });
});
