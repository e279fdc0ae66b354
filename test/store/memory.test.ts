import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createStore, MemoryStore, MemoryStoreData, StoreError } from '../../src/store/index.js';
import { runStoreConformance } from './conformance.js';

const data = new MemoryStoreData();
runStoreConformance(
  'memory',
  async () => new MemoryStore({ data }),
  async () => {},
);

test('MemoryStore: separate instances without shared data see nothing of each other', async () => {
  const one = new MemoryStore();
  const two = new MemoryStore();
  await one.open();
  await two.open();
  await one.append([{ scope: 's', version: 1, fragments: [] }]);
  assert.equal(await two.load('s'), null);
  assert.equal(one.kind, 'memory');
});

test('createStore rejects an unknown kind', () => {
  assert.throws(() => createStore({ kind: 'redis' } as never), StoreError);
  assert.ok(createStore({ kind: 'memory' }) instanceof MemoryStore);
});
