// Worker threads of the stores: the calls that would block the server's event loop (SQLite's
// synchronous driver, folding a snapshot of tens of megabytes) run in a worker thread, behind a
// small request/reply channel. `StoreWorker` is the server side of it; `serve` the worker side.
//
// Order: a worker handles one call at a time, in the order they were posted, so a store keeps the
// Store contract's promise that calls apply in the order they are made.
//
// A worker does not keep the process alive while no call is pending (it is unref'd), as a
// database connection would not: a program that ends without closing its store still exits.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { extname, join } from 'node:path';
import { parentPort, type TransferListItem, Worker, workerData } from 'node:worker_threads';
import { StoreConflictError, StoreError } from './errors.js';

/** An error as it crosses from a worker: enough to rebuild our error classes, and a driver's message. */
export type WireStoreError =
  | { kind: 'conflict'; message: string; scope: string; expectedVersion: number; actualVersion: number }
  | { kind: 'store'; message: string }
  | { kind: 'driver'; message: string; name: string; code?: unknown };

interface Call {
  id: number;
  op: string;
  args: unknown[];
}

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireStoreError };

type Ready = { ready: true } | { ready: false; error: WireStoreError };

/** The main thread's end of a store worker. */
export class StoreWorker {
  readonly #worker: Worker;
  readonly #label: string;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;
  #dead: Error | null = null;
  #stopping = false;
  readonly #exited: Promise<void>;
  /** Called once when the worker stops without being asked to (a crash). */
  onDeath: ((err: Error) => void) | null = null;

  private constructor(worker: Worker, label: string) {
    this.#worker = worker;
    this.#label = label;
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
  }

  /**
   * Starts the worker module `name` (a file of this folder) with `data`, and resolves once it is
   * ready; rejects with the error its start-up threw (rebuilt, not wrapped).
   */
  static start(name: string, data: unknown, label: string): Promise<StoreWorker> {
    const worker = spawn(name, data);
    const sw = new StoreWorker(worker, label);
    return new Promise<StoreWorker>((resolve, reject) => {
      const fail = (err: Error) => {
        worker.off('message', onReady);
        void worker.terminate();
        reject(err);
      };
      const onReady = (msg: Ready) => {
        worker.off('error', fail);
        worker.off('exit', onExit);
        if (msg.ready) {
          sw.#listen();
          resolve(sw);
        } else {
          void worker.terminate();
          reject(rebuildError(msg.error));
        }
      };
      const onExit = (code: number) => fail(new StoreError(`${label}: the worker thread exited (${code})`));
      worker.once('message', onReady);
      worker.once('error', fail);
      worker.once('exit', onExit);
    });
  }

  /** True until the worker stopped or crashed. */
  get alive(): boolean {
    return this.#dead === null;
  }

  /**
   * Runs `op` in the worker. Rejects with the worker's error, rebuilt (our classes kept).
   * `transfer`: buffers of `args` that move to the worker instead of being copied.
   */
  call<T>(op: string, args: unknown[], transfer: TransferListItem[] = []): Promise<T> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (this.#pending.size === 1) this.#worker.ref();
      this.#worker.postMessage({ id, op, args } satisfies Call, transfer);
    });
  }

  /**
   * Runs the worker's `close` after every call posted before, then waits until the thread has
   * exited. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#dead === null && !this.#stopping) {
      this.#stopping = true;
      // Kept referenced until it has exited, or the process could end first (the worker's exit is
      // all that is left to wait for).
      this.#worker.ref();
      try {
        await this.call('close', []);
      } finally {
        this.#dead ??= new StoreError(`${this.#label}: the store is closed`);
        // The worker ends itself after `close`; terminate() covers one that could not.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.#exited, new Promise((r) => (timer = setTimeout(r, 1000)))]);
        clearTimeout(timer);
        await this.#worker.terminate();
      }
    }
    await this.#exited;
  }

  #listen(): void {
    const worker = this.#worker;
    worker.unref();
    worker.on('message', (msg: Reply) => {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (this.#pending.size === 0 && !this.#stopping) worker.unref();
      if (msg.ok) p.resolve(msg.value);
      else p.reject(rebuildError(msg.error));
    });
    // An uncaught error in the worker ends it: 'error', then 'exit'.
    let reason: Error | null = null;
    worker.on('error', (err) => {
      reason = err;
    });
    worker.on('exit', (code) => {
      const crashed = !this.#stopping;
      const err = new StoreError(
        `${this.#label}: the worker thread ${crashed ? 'stopped' : 'exited'} (${reason?.message ?? `exit code ${code}`})`,
        reason ?? undefined,
      );
      this.#dead ??= err;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
      if (crashed) this.onDeath?.(err);
    });
  }
}

/**
 * A worker for occasional heavy calls (compactions): started on first use, and stopped once it
 * has had no call for `idleMs`, since until then it keeps the memory of its last call (the heap
 * a 100,000-object fold grew to, 150 MB). A later call starts it again (a worker starts in about
 * a tenth of a second, off this thread).
 */
export class LazyWorker {
  readonly #name: string;
  readonly #data: unknown;
  readonly #label: string;
  readonly #idleMs: number;
  #worker: Promise<StoreWorker> | null = null;
  #calls = 0;
  #idle: NodeJS.Timeout | null = null;

  constructor(name: string, data: unknown, label: string, idleMs = 10_000) {
    this.#name = name;
    this.#data = data;
    this.#label = label;
    this.#idleMs = idleMs;
  }

  /** Runs `op` in the worker (started when needed), after every call made before. */
  async call<T>(op: string, args: unknown[]): Promise<T> {
    if (this.#idle !== null) clearTimeout(this.#idle);
    this.#idle = null;
    this.#calls++;
    try {
      const worker = await (this.#worker ??= this.#start());
      return await worker.call<T>(op, args);
    } finally {
      if (--this.#calls === 0) {
        this.#idle = setTimeout(() => void this.stop(), this.#idleMs);
        this.#idle.unref();
      }
    }
  }

  /** Stops the worker after the calls made before. Calls made later start a new one. */
  async stop(): Promise<void> {
    if (this.#idle !== null) clearTimeout(this.#idle);
    this.#idle = null;
    const worker = this.#worker;
    this.#worker = null;
    await worker?.then(
      (w) => w.stop(),
      () => undefined,
    );
  }

  #start(): Promise<StoreWorker> {
    const started = StoreWorker.start(this.#name, this.#data, this.#label);
    const forget = () => {
      if (this.#worker === started) this.#worker = null;
    };
    started.then((w) => {
      w.onDeath = forget;
    }, forget);
    return started;
  }
}

/** Starts `name` next to this module: `.js` in dist/; `.ts` when the sources run under tsx (tests). */
function spawn(name: string, data: unknown): Worker {
  const ext = extname(__filename);
  const file = join(__dirname, `${name}${ext}`);
  if (ext !== '.ts') return new Worker(file, { workerData: data });
  // A worker thread does not get the parent's `--import tsx` hooks on Node 20: it registers
  // tsx's CommonJS hook itself before it loads the TypeScript module.
  const tsx = require.resolve('tsx/cjs');
  return new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(file)});`, {
    eval: true,
    workerData: data,
  });
}

/** The error a worker reported, as our classes (a conflict stays a StoreConflictError). */
export function rebuildError(e: WireStoreError): Error {
  switch (e.kind) {
    case 'conflict':
      return new StoreConflictError(e.scope, e.expectedVersion, e.actualVersion, e.message);
    case 'store':
      return new StoreError(e.message);
    default: {
      const err = new Error(e.message);
      err.name = e.name;
      if (e.code !== undefined) (err as Error & { code?: unknown }).code = e.code;
      return err;
    }
  }
}

/** An error as it crosses to the main thread. */
export function wireError(err: unknown): WireStoreError {
  if (err instanceof StoreConflictError) {
    return {
      kind: 'conflict',
      message: err.message,
      scope: err.scope,
      expectedVersion: err.expectedVersion,
      actualVersion: err.actualVersion,
    };
  }
  if (err instanceof StoreError) return { kind: 'store', message: err.message };
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    return {
      kind: 'driver',
      message: err.message,
      name: err.name,
      ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    };
  }
  return { kind: 'driver', message: String(err), name: 'Error' };
}

/**
 * Lowers this thread's CPU priority (Linux: a nice value is per thread, and /proc/thread-self
 * names the thread). A compaction folds for hundreds of milliseconds; on a machine with few
 * cores it would otherwise take CPU time from the event loop it exists to spare. Elsewhere, or
 * when refused, the thread keeps the default priority.
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
  } catch {
    // not Linux, or not allowed: the default priority
  }
}

/** A handler's result whose buffers move to the caller instead of being copied. */
export class Transfer {
  constructor(
    readonly value: unknown,
    readonly list: TransferListItem[],
  ) {}
}

/** What a worker module serves: its calls by name, and `close` (after which the thread ends). */
export type Handlers = Record<string, (...args: never[]) => unknown> & { close: () => unknown };

/**
 * The worker side: `start()` opens whatever the worker owns and returns its handlers; then every
 * call is run in the order it was posted, one at a time (an async handler is awaited before the
 * next call starts). Replies carry the value or the error.
 */
export function serve(start: () => Handlers | Promise<Handlers>): void {
  const port = parentPort;
  if (!port) throw new Error('serve() runs in a worker thread');
  if ((workerData as { background?: boolean } | null)?.background) lowerPriority();
  let handlers: Handlers;
  let queue: Promise<void> = Promise.resolve()
    .then(start)
    .then(
      (h) => {
        handlers = h;
        port.postMessage({ ready: true } satisfies Ready);
      },
      (err) => {
        port.postMessage({ ready: false, error: wireError(err) } satisfies Ready);
        port.close();
      },
    );
  port.on('message', (call: Call) => {
    queue = queue.then(async () => {
      let reply: Reply;
      let transfer: TransferListItem[] = [];
      try {
        const fn = handlers[call.op] as ((...args: unknown[]) => unknown) | undefined;
        if (!fn) throw new StoreError(`Unknown store worker call '${call.op}'`);
        let value = await fn(...call.args);
        if (value instanceof Transfer) {
          transfer = value.list;
          value = value.value;
        }
        reply = { id: call.id, ok: true, value };
      } catch (err) {
        reply = { id: call.id, ok: false, error: wireError(err) };
      }
      port.postMessage(reply, transfer);
      if (call.op === 'close') port.close();
    });
  });
}
