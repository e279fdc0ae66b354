// A session's outbound messages (docs/protocol.md §3): the index counter, every message with an
// index until the client acknowledges it, and which of them still have to go out on the socket.
//
// Why parallel arrays and not a list of message strings: under fan-out every session holds
// every broadcast until its client's next Ping ack (often hundreds of milliseconds). Messages
// kept that long survive young-generation GC and get promoted, and promoted garbage would make
// GC the largest cost of the server after socket writes (see BENCHMARKS.md). Here a broadcast costs
// three array slots per session and shares the one encoded fragment list; its envelope is built
// only when a frame is written, and dies young.
import { encodeScopeSync } from '../protocol/codec.js';

/** Marks an entry whose `body` is the complete message text. */
const TEXT = -1;
/** Acknowledged entries are dropped from the arrays in chunks of at least this many. */
const COMPACT_AT = 256;
/**
 * What an entry costs besides its body: three array slots, and the envelope it gets when a
 * frame is written. Counted so that many tiny messages cannot hide from the byte budget.
 */
const ENTRY_COST = 64;

export class Outbox {
  #next = 1;
  /** Entry i: message index, scopeIndex (or TEXT), and body (fragments JSON, or the message). */
  #index: number[] = [];
  #scope: number[] = [];
  #body: string[] = [];
  /** First entry not yet acknowledged. */
  #head = 0;
  /** First entry not yet written to the socket. */
  #unsent = 0;
  /** Bodies plus ENTRY_COST of every unacknowledged entry. */
  #bytes = 0;

  /** Messages kept until acknowledged. */
  get size(): number {
    return this.#index.length - this.#head;
  }

  /**
   * What the unacknowledged messages weigh: their bodies (a broadcast's fragment list counted in
   * full, although sessions share it) plus a fixed cost per message. The sessions' byte budget
   * (`sessionLimits.maxPendingBytes`) is measured in these.
   */
  get bytes(): number {
    return this.#bytes;
  }

  /** True when some entry has not been written yet. */
  get hasUnsent(): boolean {
    return this.#unsent < this.#index.length;
  }

  /** Allocates the next message index (gap-free: every index taken must be added). */
  take(): number {
    return this.#next++;
  }

  /** Adds a complete message under `index` (from take()). */
  addText(index: number, text: string): void {
    this.#index.push(index);
    this.#scope.push(TEXT);
    this.#body.push(text);
    this.#bytes += text.length + ENTRY_COST;
  }

  /** Adds a ScopeSync whose fragment list is the shared, pre-encoded `fragmentsJson`. */
  addScopeSync(index: number, scopeIndex: number, fragmentsJson: string): void {
    this.#index.push(index);
    this.#scope.push(scopeIndex);
    this.#body.push(fragmentsJson);
    this.#bytes += fragmentsJson.length + ENTRY_COST;
  }

  /** Drops every entry with index ≤ `ack`. */
  acknowledge(ack: number): void {
    const idx = this.#index;
    const body = this.#body;
    let h = this.#head;
    while (h < idx.length && idx[h]! <= ack) {
      this.#bytes -= body[h]!.length + ENTRY_COST;
      h++;
    }
    this.#head = h;
    if (this.#unsent < h) this.#unsent = h;
    if (h === idx.length) {
      // Everything acknowledged (the common case for an idle session): drop the texts now
      // rather than keeping them until the next compaction.
      idx.length = 0;
      this.#scope.length = 0;
      this.#body.length = 0;
      this.#head = 0;
      this.#unsent = 0;
      this.#bytes = 0;
    } else if (h >= COMPACT_AT && h * 2 >= idx.length) {
      idx.splice(0, h);
      this.#scope.splice(0, h);
      this.#body.splice(0, h);
      this.#unsent -= h;
      this.#head = 0;
    }
  }

  /** The frame of everything not yet written, `first` (a Ping) in front; null when there is nothing. */
  takeFrame(first: string | null): string | null {
    const from = this.#unsent;
    const to = this.#index.length;
    if (from === to && first === null) return null;
    this.#unsent = to;
    return this.#frame(first, from, to);
  }

  /** The frame answering `resendMissing`: `ping`, then every unacknowledged message in order. */
  resendFrame(ping: string): string {
    this.#unsent = this.#index.length;
    return this.#frame(ping, this.#head, this.#index.length);
  }

  clear(): void {
    this.#index = [];
    this.#scope = [];
    this.#body = [];
    this.#head = 0;
    this.#unsent = 0;
    this.#bytes = 0;
  }

  #frame(first: string | null, from: number, to: number): string {
    let out = first === null ? '[' : `[${first}`;
    let sep = first !== null;
    for (let i = from; i < to; i++) {
      if (sep) out += ',';
      sep = true;
      const s = this.#scope[i]!;
      out += s === TEXT ? this.#body[i]! : encodeScopeSync(this.#index[i]!, s, this.#body[i]!);
    }
    return `${out}]`;
  }
}
