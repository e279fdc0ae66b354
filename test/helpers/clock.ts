// A clock for the server's `clock` option that only moves when a test says so: session expiry
// and keep-alive pings then depend on the test's steps, not on the machine's speed.
import type { Clock } from '../../src/server/options.js';

export class ManualClock implements Clock {
  #now = 1_700_000_000_000;

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
  }
}
