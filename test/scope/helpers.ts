// Shared fixtures for the scope tests.
import { type Collection, type ModelObject, model } from '../../src/model/index.js';
import { Scope } from '../../src/scope/index.js';
import type { AppliedFragment, ChangeContext } from '../../src/scope/types.js';

/** A fixed, valid lowercase v4 uuid: u(1) = 00000000-0000-4000-8000-000000000001. */
export function u(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
}

/** A tree model with a single reference, a collection of itself, and scalars. */
export const Node = model('Node', function () {
  this.has('name', String);
  this.has('n', Number);
  this.has('when', Date);
  this.has('partner', this);
  this.has('children', [this]);
  this.has('tags', [String]);
});
export type NodeT = ModelObject & {
  name: string | null;
  n: number | null;
  when: Date | null;
  partner: NodeT | null;
  children: Collection<NodeT>;
  tags: Collection<string>;
};
/** A submodel that nothing references by name. */
export const Leaf = Node.model('Leaf', function () {
  this.has('weight', Number);
});
/** A model that Node cannot hold. */
export const Stranger = model('Stranger', function () {
  this.has('x', Number);
});

export function node(uuidNum?: number, init: Record<string, unknown> = {}): NodeT {
  return new Node(uuidNum === undefined ? init : { uuid: u(uuidNum), ...init }) as NodeT;
}

/** A scope named 'test' whose root is node u(1). */
export function rootedScope(): { scope: Scope; root: NodeT } {
  const scope = new Scope({ name: 'test' });
  const root = node(1);
  scope.setRoot(root);
  return { scope, root };
}

/** Records every 'changes' event. */
export function recordChanges(scope: Scope): { fragments: AppliedFragment[]; context: ChangeContext }[] {
  const events: { fragments: AppliedFragment[]; context: ChangeContext }[] = [];
  scope.on('changes', (fragments, context) => {
    events.push({ fragments, context });
  });
  return events;
}

/** Resolves after the current event-loop turn (server-side edits flush on setImmediate). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The uuids of the scope's objects, sorted. */
export function uuidsOf(scope: Scope): string[] {
  return [...scope._index.keys()].sort();
}
