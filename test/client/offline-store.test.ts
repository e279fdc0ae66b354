// The offline stores (docs/client.md, "Offline edits") on their own: the memory store's copies
// and claims, the file store's files and atomic replacement; and what a scope keeps of itself
// (the state the server confirmed, the pending changesets) and shows again from it.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Canvas, Shape } from '../../demo/models.js';
import {
  ClientScope,
  FileOfflineStore,
  type FileStoreFs,
  MemoryOfflineStore,
  type OfflineRecord,
  type ScopeHost,
} from '../../src/client/index.js';
import type { ModelObject } from '../../src/model/index.js';
import type { Fragment, FragmentReply } from '../../src/protocol/index.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'jetstream-offline-store-'));
  dirs.push(d);
  return d;
};

const record = (token: string, nextIndex = 3): OfflineRecord => ({
  version: 1,
  session: { token, nextIndex, lastServer: 2, unacked: [{ index: 2, text: '{"type":"ScopeSync"}' }] },
  scopes: [{ name: 'Canvas', params: { id: 'c-7' }, state: null, pending: [] }],
});

describe('MemoryOfflineStore', () => {
  test('keeps a copy of each record, by key', async () => {
    const store = new MemoryOfflineStore();
    const r = record('t1');
    await store.save('k', r);
    r.session.token = 'changed after the save';
    assert.equal((await store.load('k'))!.session.token, 't1');
    assert.equal(await store.load('other'), null);
    await store.remove('k');
    assert.equal(await store.load('k'), null);
    assert.deepEqual(store.keys, []);
  });

  test('claim: each live holder gets its own key; a released key is handed out again', async () => {
    const store = new MemoryOfflineStore();
    const a = await store.claim('app');
    const b = await store.claim('app');
    const c = await store.claim('app');
    assert.deepEqual([a.key, b.key, c.key], ['app', 'app~2', 'app~3']);
    a.release();
    assert.equal((await store.claim('app')).key, 'app', 'the first free key');
    b.release();
    assert.equal((await store.claim('app')).key, 'app~2');
  });
});

describe('FileOfflineStore', () => {
  test('one JSON file per key; load of a missing key is null; remove is idempotent', async () => {
    const dir = join(tempDir(), 'records');
    const store = new FileOfflineStore(dir);
    assert.equal(await store.load('ws://h:1/#u'), null);
    await store.save('ws://h:1/#u', record('t1'));
    await store.save('ws://h:1/#u', record('t2', 9));
    await store.save('other key', record('t3'));
    assert.deepEqual((await store.load('ws://h:1/#u'))!.session, record('t2', 9).session);
    assert.deepEqual(
      readdirSync(dir).sort(),
      [`${encodeURIComponent('other key')}.json`, `${encodeURIComponent('ws://h:1/#u')}.json`].sort(),
    );
    await store.remove('ws://h:1/#u');
    await store.remove('ws://h:1/#u');
    assert.equal(await store.load('ws://h:1/#u'), null);
    assert.equal((await store.load('other key'))!.session.token, 't3');
  });

  test('a save that fails before its rename leaves the old record whole, and no temporary file', async () => {
    const dir = tempDir();
    let failRename = false;
    const fs: FileStoreFs = {
      ...fsp,
      rename: async (from, to) => {
        if (failRename) throw new Error('EIO: rename failed');
        return fsp.rename(from, to);
      },
    };
    const store = new FileOfflineStore(dir, { fs });
    await store.save('k', record('old'));
    failRename = true;
    await assert.rejects(store.save('k', record('new')), /rename failed/);
    assert.equal((await store.load('k'))!.session.token, 'old');
    assert.deepEqual(readdirSync(dir), ['k.json']);
  });

  test('an unreadable record fails the load (the client then runs without persistence)', async () => {
    const dir = tempDir();
    await fsp.writeFile(join(dir, 'k.json'), '{"version":1,"session":');
    await assert.rejects(new FileOfflineStore(dir).load('k'), SyntaxError);
  });
});

// ---- what a scope keeps ------------------------------------------------------------------------

const ROOT = '0b7c2d0e-6a0c-4a8e-9c2f-4f7e4b1d9a10';
const S1 = '5d1e9b9a-3c44-4f0b-8d7a-0f2b6c1e2a33';
const S2 = 'a9f0c1d2-7b3e-4c5d-9e8f-1a2b3c4d5e6f';

class FakeHost implements ScopeHost {
  sent: { fragments: Fragment[]; reply: (r: FragmentReply[] | null) => void }[] = [];
  next = 10;
  _sendSync(
    _s: unknown,
    fragments: Fragment[],
    _o: unknown,
    reply: (r: FragmentReply[] | null) => void,
    onIndex?: (i: number) => void,
  ): void {
    this.sent.push({ fragments, reply });
    onIndex?.(this.next++);
  }
  _pendingChanged(): void {}
}

type ShapeObj = ModelObject & { x: number };
type Root = ModelObject & {
  name: string;
  shapes: { toArray(): ShapeObj[]; push(o: ModelObject): number; remove(o: ModelObject): number };
};

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

function fetched(): { scope: ClientScope; host: FakeHost; root: Root } {
  const host = new FakeHost();
  const scope = new ClientScope('Canvas', Canvas, {}, host);
  scope._applyState(ROOT, [
    { type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { name: 'Server name', shapes: [S1] } },
    { type: 'add', uuid: S1, clsName: 'Shape', properties: { x: 1, y: 0, width: 5, height: 5, type: 0 } },
  ]);
  scope._fetched(0);
  return { scope, host, root: scope.root as Root };
}

describe('ClientScope: what it keeps offline', () => {
  test('the kept state is the confirmed one; the pending changesets carry their index and what they created', async () => {
    const { scope, root } = fetched();
    const s1 = scope.get(S1) as ShapeObj;
    root.name = 'Local name';
    root.shapes.remove(s1);
    const s2 = new Shape({ uuid: S2, x: 2 });
    root.shapes.push(s2);
    await tick();
    const kept = scope._offlineExport(true)!;
    // The server's view: the old name, S1 still there, S2 not yet.
    const rootFragment = kept.state!.fragments.find((f) => f.uuid === ROOT)!;
    assert.deepEqual(rootFragment.properties, { name: 'Server name', shapes: [S1] });
    assert.deepEqual(
      kept.state!.fragments.map((f) => f.uuid),
      [ROOT, S1],
    );
    assert.equal(kept.pending.length, 1);
    const pc = kept.pending[0]!;
    assert.equal(pc.index, 10, 'sent under client index 10');
    assert.deepEqual(pc.created, [S2]);
    assert.deepEqual(pc.prev[ROOT], { name: 'Server name', shapes: [S1] });
    assert.deepEqual(
      pc.fragments.map((f) => [f.type, f.uuid]),
      [
        ['add', S2],
        ['change', ROOT],
      ],
    );
    assert.equal(scope._offlineExport(false)!.state, null);
  });

  test('restored, it shows the local view again; a reply to the stored index settles it', async () => {
    const { scope, root } = fetched();
    root.name = 'Local name';
    root.shapes.push(new Shape({ uuid: S2, x: 2 }));
    await tick();
    const kept = JSON.parse(JSON.stringify(scope._offlineExport(true)));

    const host = new FakeHost();
    const again = new ClientScope('Canvas', Canvas, {}, host);
    const handlers = again._offlineRestore(kept);
    const r = again.root as Root;
    assert.equal(r.name, 'Local name');
    assert.deepEqual(
      r.shapes.toArray().map((s) => s.uuid),
      [S1, S2],
    );
    assert.equal(again.pendingCount, 1);
    assert.equal(host.sent.length, 0, 'nothing is sent before the scope is fetched again');
    assert.deepEqual([...handlers.keys()], [10]);
    const results: string[] = [];
    again.on('sync', (res) => results.push(res.status));
    // The server rejects the rename and accepts the new shape: the rename is rolled back.
    handlers.get(10)!([{}, { error: { message: 'no', type: 'rejected' } }]);
    assert.deepEqual(results, ['partiallyReverted']);
    assert.equal(r.name, 'Server name');
    assert.equal(again.pendingCount, 0);
  });

  test('restored without a state, the changesets wait for the first state, then go out once', async () => {
    const { scope, root } = fetched();
    scope._suspend(); // not in flight: it is sent anew
    root.shapes.push(new Shape({ uuid: S2, x: 2 }));
    await tick();
    const kept = { ...scope._offlineExport(false)!, state: null };
    assert.equal(kept.pending[0]!.index, null);

    const host = new FakeHost();
    const again = new ClientScope('Canvas', Canvas, {}, host);
    again._offlineRestore(kept);
    assert.equal(again.root, null);
    again._applyState(ROOT, [
      { type: 'change', uuid: ROOT, clsName: 'Canvas', properties: { name: 'Server name', shapes: [S1] } },
      { type: 'add', uuid: S1, clsName: 'Shape', properties: { x: 1, y: 0, width: 5, height: 5, type: 0 } },
    ]);
    again._fetched(0);
    assert.deepEqual(
      (again.root as unknown as Root).shapes.toArray().map((s) => s.uuid),
      [S1, S2],
    );
    assert.equal(host.sent.length, 1);
    assert.deepEqual(
      host.sent[0]!.fragments.map((f) => [f.type, f.uuid]),
      [
        ['add', S2],
        ['change', ROOT],
      ],
    );
  });

  test('restored without a state, a changeset whose new object the state already has is not sent again', async () => {
    const { scope, root } = fetched();
    scope._suspend();
    root.shapes.push(new Shape({ uuid: S2, x: 2 }));
    await tick();
    const kept = { ...scope._offlineExport(false)!, state: null };

    const host = new FakeHost();
    const again = new ClientScope('Canvas', Canvas, {}, host);
    again._offlineRestore(kept);
    // The server applied it (the reply was lost with the session), and someone moved S2 since.
    again._applyState(ROOT, [
      {
        type: 'change',
        uuid: ROOT,
        clsName: 'Canvas',
        properties: { name: 'Server name', shapes: [S1, S2] },
      },
      { type: 'add', uuid: S1, clsName: 'Shape', properties: { x: 1, y: 0, width: 5, height: 5, type: 0 } },
      { type: 'add', uuid: S2, clsName: 'Shape', properties: { x: 50, y: 0, width: 5, height: 5, type: 0 } },
    ]);
    again._fetched(0);
    assert.equal(host.sent.length, 0);
    assert.equal((again.get(S2) as ShapeObj).x, 50);
    assert.equal(again.pendingCount, 0);
  });
});
