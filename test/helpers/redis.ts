// A Redis for tests: REDIS_URL when set, else the machine's server at redis://127.0.0.1:6379
// (CI starts it, see .ci/run). When neither answers this throws: the cluster tests fail, they
// never skip. Each caller gets its own key prefix, so tests never see each other's keys, and
// cleanup() deletes them.
// startOwnRedis(): a redis-server of a test's own, which the fault tests kill and restart.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { freePort } from './postgres.js';

export const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';

export interface TestRedis {
  url: string;
  /** A unique key prefix for this test. */
  prefix: string;
  /** A new connection (closed by cleanup()). */
  connect(): Redis;
  /** Deletes every key under the prefix and closes the connections. */
  cleanup(): Promise<void>;
}

export async function testRedis(): Promise<TestRedis> {
  const url = process.env.REDIS_URL || LOCAL_REDIS_URL;
  const prefix = `jetstream-test:${randomBytes(6).toString('hex')}:`;
  const clients: Redis[] = [];
  const connect = () => {
    const r = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
    r.on('error', () => {}); // connection errors surface as rejected commands
    clients.push(r);
    return r;
  };
  const admin = connect();
  try {
    await admin.ping();
  } catch (err) {
    admin.disconnect();
    throw new Error(
      `Redis is not reachable at ${url} (start it, or set REDIS_URL): ${(err as Error).message}`,
    );
  }
  return {
    url,
    prefix,
    connect,
    async cleanup() {
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        if (keys.length) await admin.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      for (const c of clients) c.disconnect();
    },
  };
}

/** The redis-server binary the fault tests start (REDIS_SERVER overrides it). */
export const REDIS_SERVER_BIN = process.env.REDIS_SERVER || '/usr/bin/redis-server';

/** A redis-server of a test's own, on a loopback port, that the test may kill and restart. */
export interface OwnRedis {
  port: number;
  url: string;
  /** `kill -9`, then waits for the process to be gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty (no persistence); resolves once it answers PING. */
  start(): Promise<void>;
}

/**
 * Starts a redis-server that keeps nothing on disk (`--save "" --appendonly no`) on a free
 * loopback port, so a test may kill it without touching the shared Redis. Stop it with kill().
 */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const own: OwnRedis = {
    port,
    url,
    async kill() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      child = null;
    },
    async start() {
      if (child) throw new Error('this redis-server is running already');
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
      const c = spawn(REDIS_SERVER_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      c.stderr!.on('data', (d) => {
        stderr += d;
      });
      child = c;
      exited = new Promise((resolve) => c.once('exit', () => resolve()));
      const spawnFailed = new Promise<never>((_, reject) => c.once('error', reject));
      // Ready once it answers; it fails instead of skipping when the binary is missing.
      const deadline = Date.now() + 10_000;
      for (;;) {
        const probe = new Redis(url, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        probe.on('error', () => {});
        try {
          await Promise.race([probe.connect().then(() => probe.ping()), spawnFailed]);
          return;
        } catch (err) {
          if (c.exitCode !== null || Date.now() > deadline) {
            await own.kill();
            throw new Error(
              `redis-server on port ${port} did not start: ${(err as Error).message} ${stderr}`,
            );
          }
          await new Promise((r) => setTimeout(r, 50));
        } finally {
          probe.disconnect();
        }
      }
    },
  };
  await own.start();
  return own;
}
