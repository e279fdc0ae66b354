// Prometheus metrics (docs/operations.md, "Metrics"): scrape `GET /metrics` on the demo, act as
// clients, scrape again: every counter the actions touch has moved, by the right amount and label.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { startDemo } from '../../demo/server.js';
import { ErrorCode, SyncError } from '../../src/errors.js';
import type { Scope } from '../../src/scope/scope.js';
import { createServer } from '../../src/server/server.js';
import { MemoryStore } from '../../src/store/memory.js';
import { canvasScope } from '../e2e/fixture.js';
import { type Msg, TestClient } from '../helpers/ws-client.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** The samples of a Prometheus text exposition: `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

describe('metrics', () => {
  test('scrape, act, scrape: sessions, denials, messages, frames, bytes, changesets, commits, fan-out', async () => {
    const demo = await startDemo({
      port: 0,
      host: '127.0.0.1',
      store: new MemoryStore(),
      logger: silent as never,
    });
    try {
      const before = await scrape(demo.port);
      const delta = (after: Map<string, number>, key: string) =>
        (after.get(key) ?? 0) - (before.get(key) ?? 0);
      assert.equal(before.get('jetstream_scopes_loaded'), 2);
      assert.ok(
        before.has('nodejs_eventloop_lag_seconds'),
        "Node's default metrics, event-loop lag included",
      );

      const writer = await TestClient.session(demo.port);
      const reader = await TestClient.session(demo.port);
      const { state } = await writer.fetch('Canvas');
      await reader.fetch('Canvas');
      const root = state!.rootUUID as string;
      const ok = await writer.sync(0, [
        { type: 'change', uuid: root, clsName: 'Canvas', properties: { name: 'A' } },
      ]);
      assert.deepEqual(ok.fragmentReplies, [{}]);
      await reader.waitFor((m) => m.type === 'ScopeSync');
      const bad = await writer.sync(0, [
        { type: 'change', uuid: root, clsName: 'Canvas', properties: { name: 5 } },
      ]);
      assert.ok((bad.fragmentReplies as Msg[])[0]!.error);
      const type = (bad.fragmentReplies as Msg[])[0]!.error.type as string;
      const denied = await TestClient.resume(demo.port, 'no-such-token');
      await denied.waitForClose();
      await writer.close();
      demo.server.sessions.find((s) => s.connection === null)?.close();

      const after = await scrape(demo.port);
      assert.equal(delta(after, 'jetstream_sessions_created_total'), 2);
      assert.equal(
        after.get('jetstream_sessions_active'),
        1,
        'the writer’s session ended, the reader’s lives',
      );
      assert.equal(
        delta(after, 'jetstream_connections_denied_total{reason="session-token-unrecognized"}'),
        1,
      );
      assert.equal(delta(after, 'jetstream_changesets_total{outcome="accepted"}'), 1);
      assert.equal(delta(after, 'jetstream_changesets_total{outcome="rejected"}'), 1);
      assert.equal(delta(after, `jetstream_fragments_rejected_total{type="${type}"}`), 1);
      assert.equal(delta(after, 'jetstream_changeset_fragments_count'), 2);
      assert.ok(delta(after, 'jetstream_frames_in_total') >= 6, 'creates, fetches, syncs');
      assert.ok(delta(after, 'jetstream_bytes_in_total') > 100);
      assert.ok(delta(after, 'jetstream_frames_out_total') >= 6);
      assert.ok(delta(after, 'jetstream_bytes_out_total') > 100);
      assert.ok(
        delta(after, 'jetstream_store_commit_duration_seconds_count') >= 1,
        'the accepted change was committed',
      );
      assert.ok(delta(after, 'jetstream_store_commit_records_sum') >= 1);
      assert.equal(
        delta(after, 'jetstream_fanout_lag_seconds_count'),
        1,
        'one accepted change reached the sockets',
      );
      assert.equal(after.get('jetstream_cluster_scopes_owned'), 0);
      assert.equal(delta(after, 'jetstream_messages_in_total{type="ScopeFetch"}'), 2);
      assert.equal(delta(after, 'jetstream_messages_in_total{type="ScopeSync"}'), 2);
      assert.equal(delta(after, 'jetstream_messages_out_total{type="ScopeFetchReply"}'), 2);
      assert.equal(delta(after, 'jetstream_messages_out_total{type="ScopeState"}'), 2);
      assert.equal(delta(after, 'jetstream_messages_out_total{type="ScopeSyncReply"}'), 2);
      assert.equal(
        delta(after, 'jetstream_messages_out_total{type="ScopeSync"}'),
        1,
        'the reader got the change',
      );
      const closed = [...after.keys()].filter((k) => k.startsWith('jetstream_sessions_closed_total{code='));
      assert.deepEqual(
        closed.map((k) => delta(after, k)),
        [1],
        'the writer’s session ended, with its close code as the label',
      );
      await reader.close();
    } finally {
      await demo.close();
    }
  });

  test('procedure calls are counted and timed by outcome; a registry of the application’s own', async () => {
    const registry = new Registry();
    const { scope } = canvasScope('Procs');
    const server = await createServer({ port: 0, scopes: [scope], metrics: { registry, prefix: 'app_' } });
    try {
      const step = server.metrics!.procedures({
        async run(_scope: Scope, name: string) {
          if (name === 'Canvas.fail') throw new SyncError('no', ErrorCode.DOWNSTREAM_REQUEST);
          return [];
        },
      });
      await step.run(scope, 'Canvas.ok', []);
      await assert.rejects(step.run(scope, 'Canvas.fail', []));
      const samples = parse(await registry.metrics());
      assert.equal(samples.get('app_procedure_calls_total{procedure="Canvas.ok",outcome="ok"}'), 1);
      assert.equal(
        samples.get(
          `app_procedure_calls_total{procedure="Canvas.fail",outcome="${ErrorCode.DOWNSTREAM_REQUEST}"}`,
        ),
        1,
      );
      assert.equal(samples.get('app_procedure_duration_seconds_count{procedure="Canvas.ok"}'), 1);
      assert.ok(!samples.has('nodejs_eventloop_lag_seconds'), 'no default metrics in a registry passed in');
    } finally {
      await server.close();
    }
  });

  test('off by default: no metrics object, nothing counted', async () => {
    const server = await createServer({ port: 0 });
    try {
      assert.equal(server.metrics, null);
      assert.equal((await fetch(`http://127.0.0.1:${server.port}/metrics`)).status, 426);
    } finally {
      await server.close();
    }
  });
});
