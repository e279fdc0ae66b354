// A forked child process (a benchmark target, the load generator, the attacker) with a typed,
// awaitable IPC message stream.
import { type ChildProcess, fork } from 'node:child_process';

const defaultExecArgv = ['--import', 'tsx', '--expose-gc'];

/** A child process with a typed, awaitable message stream. */
export class Child<In, Out> {
  readonly proc: ChildProcess;
  #queue: Out[] = [];
  #waiters: ((m: Out) => void)[] = [];
  #exit: Promise<void>;

  constructor(file: string, args: { env?: NodeJS.ProcessEnv; execArgv?: string[] } = {}) {
    this.proc = fork(file, [], {
      execArgv: args.execArgv ?? defaultExecArgv,
      env: { ...process.env, ...args.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m: Out) => {
      const w = this.#waiters.shift();
      if (w) w(m);
      else this.#queue.push(m);
    });
    this.#exit = new Promise((resolve) => this.proc.once('exit', () => resolve()));
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  send(m: In): void {
    this.proc.send(m as object);
  }

  next(timeoutMs: number, what: string): Promise<Out> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter = (m: Out) => {
        clearTimeout(timer);
        resolve(m);
      };
      this.#waiters.push(waiter);
      void this.#exit.then(() => {
        if (this.#waiters.includes(waiter)) {
          clearTimeout(timer);
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(new Error(`process exited while waiting for ${what}`));
        }
      });
    });
  }

  async stop(message: In | null, graceMs = 3000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    if (message && this.proc.connected) this.send(message);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.#exit;
    clearTimeout(timer);
  }
}
