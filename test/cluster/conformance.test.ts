// The cluster passes the end-to-end sync suites a single process passes (docs/cluster.md: "a
// cluster is any number of processes that serve the same scopes as one logical server"): the
// raw protocol suite (test/e2e/sync-suite.ts) and the SDK's (test/client/e2e-suite.ts), each
// against two servers in this process on one PostgreSQL schema and one Redis, the clients of
// every test on different processes. Server-side edits go through the owner's scope.
import { randomBytes } from 'node:crypto';
import { describe } from 'node:test';
import { Canvas, Shape } from '../../demo/models.js';
import { canvasRoot } from '../../demo/server.js';
import type { ModelObject } from '../../src/model/index.js';
import type { Scope } from '../../src/scope/scope.js';
import { createServer, type Server } from '../../src/server/server.js';
import { PostgresStore } from '../../src/store/index.js';
import { clientSuite } from '../client/e2e-suite.js';
import { syncSuite } from '../e2e/sync-suite.js';
import { useServices } from '../helpers/services.js';

const services = useServices();

/** Two processes is the smallest cluster where every client of a pair is on another process. */
const PROCESSES = 2;

/** The e2e fixture's canvas (test/e2e/fixture.ts): 'Shapes Demo' with two shapes. */
function shapesDemo(): ModelObject {
  const canvas = new Canvas();
  const s1 = new Shape();
  s1.assign({ x: 1, y: 2, width: 10, height: 10, type: 0 });
  const s2 = new Shape();
  s2.assign({ x: 3, y: 4, width: 20, height: 20, type: 1 });
  canvas.assign({ name: 'Shapes Demo', shapes: [s1, s2] });
  return canvas;
}

interface ClusterDeployment {
  servers: Server[];
  ports: number[];
  /** The server listening on `port`. */
  server(port: number): Server;
  /** The 'Canvas' scope of the process whose id the scope's lease holds. */
  serverScope(): Promise<Scope>;
  cluster: true;
  close(): Promise<void>;
}

/** `PROCESSES` cluster servers on a new schema and key prefix, each serving 'Canvas' from `root`. */
async function startCluster(root: () => ModelObject): Promise<ClusterDeployment> {
  const schema = services.schema();
  const prefix = `${services.redis.prefix}${randomBytes(3).toString('hex')}:`;
  const servers: Server[] = [];
  for (let i = 0; i < PROCESSES; i++) {
    const store = new PostgresStore({ connectionString: services.postgres.connectionString, schema });
    const server = await createServer({
      port: 0,
      store,
      cluster: { redis: services.redis.url, prefix, processId: `p${i}` },
    });
    servers.push(server);
    await server.openScope({ name: 'Canvas', root });
  }
  const redis = services.redis.connect();
  const ports = servers.map((s) => s.port!);
  return {
    servers,
    ports,
    server: (port) => servers[ports.indexOf(port)]!,
    async serverScope() {
      const owner = await redis.get(`${prefix}{Canvas}:lease`);
      const i = owner === null ? -1 : Number(owner.slice(1));
      if (!(i >= 0 && i < servers.length)) throw new Error(`no process owns Canvas (lease: ${owner})`);
      return servers[i]!.findScope('Canvas')!;
    },
    cluster: true,
    async close() {
      for (const s of servers) {
        await s.close();
        await s.store!.close();
      }
      redis.disconnect();
    },
  };
}

describe('cluster conformance: the e2e sync suite', () => {
  syncSuite(() => startCluster(shapesDemo));
});

describe('cluster conformance: the client SDK suite', () => {
  clientSuite(async () => {
    const d = await startCluster(canvasRoot);
    return { ...d, urls: d.ports.map((p) => `ws://127.0.0.1:${p}/`) };
  });
});
