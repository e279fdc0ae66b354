// Waiting for a message that matches: the benchmark clients' one way to await a reply, bounded by
// a timeout. A matcher that throws rejects its wait (and consumes the message).
export class Waiters<M> {
  #list: ((m: M) => boolean)[] = [];

  /** Resolves with the first message offered from now on for which `match` is true. */
  wait(match: (m: M) => boolean, what: string, timeoutMs: number): Promise<M> {
    return new Promise((resolve, reject) => {
      const waiter = (m: M): boolean => {
        let done: boolean;
        try {
          done = match(m);
        } catch (e) {
          clearTimeout(timer);
          reject(e);
          return true;
        }
        if (done) {
          clearTimeout(timer);
          resolve(m);
        }
        return done;
      };
      const timer = setTimeout(() => {
        this.#list = this.#list.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      this.#list.push(waiter);
    });
  }

  /** Hands `m` to the first waiter it matches; that waiter is done. */
  offer(m: M): void {
    if (this.#list.length === 0) return;
    const i = this.#list.findIndex((w) => w(m));
    if (i >= 0) this.#list.splice(i, 1);
  }
}
