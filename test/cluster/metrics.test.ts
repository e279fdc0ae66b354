// The cluster's metrics (docs/operations.md, "Metrics"): ownership, forwarded changesets and the
// replicas' lag move when two processes share a scope.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Canvas, Shape } from '../../demo/models.js';
import { createServer, type Server } from '../../src/server/server.js';
import { PostgresStore } from '../../src/store/index.js';
import { useServices } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';
import { type Msg, TestClient } from '../helpers/ws-client.js';

const services = useServices();

async function sample(server: Server, name: string): Promise<number> {
  const text = await server.metrics!.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

test('ownership, forwards and replica lag are counted', async () => {
  const schema = services.schema();
  const prefix = `${services.redis.prefix}${randomBytes(3).toString('hex')}:`;
  const servers: Server[] = [];
  try {
    for (const id of ['p0', 'p1']) {
      const server = await createServer({
        port: 0,
        store: new PostgresStore({ connectionString: services.postgres.connectionString, schema }),
        cluster: { redis: services.redis.url, prefix, processId: id, leaseTtlMs: 1000 },
        metrics: { defaultMetrics: false },
      });
      await server.openScope({
        name: 'room',
        root: () => {
          const canvas = new Canvas();
          canvas.assign({ name: 'shared', shapes: [new Shape()] });
          return canvas;
        },
      });
      servers.push(server);
    }
    const [owner, other] = servers as [Server, Server];
    assert.equal(await sample(owner, 'jetstream_cluster_scopes_owned'), 1);
    assert.equal(await sample(other, 'jetstream_cluster_scopes_owned'), 0);
    // A write on the other process is forwarded to the owner; both processes then show it.
    const client = await TestClient.session(other.port!);
    const { state } = await client.fetch('room');
    const shape = (state!.fragments as Msg[])[1]!;
    const reply = await client.sync(0, [
      { type: 'change', uuid: shape.uuid, clsName: 'Shape', properties: { x: 9 } },
    ]);
    assert.deepEqual(reply.fragmentReplies, [{}]);
    assert.equal(
      await sample(other, 'jetstream_cluster_forward_duration_seconds_count{outcome="answered"}'),
      1,
    );
    await waitFor(async () => (await sample(other, 'jetstream_cluster_stream_lag_seconds_count')) >= 1, {
      message: 'the replica applied the change from the log',
    });
    assert.equal(
      await sample(owner, 'jetstream_cluster_stream_lag_seconds_count'),
      0,
      'the owner has no replica',
    );
    await client.close();
  } finally {
    for (const s of servers) {
      await s.close();
      await s.store!.close();
    }
  }
});
