// A session's outbound messages (docs/protocol.md §3): the index counter, every message with an
// index until the client acknowledges it, and which of them still have to go out on the socket.
//
// Why runs over a shared log and not a list of message strings: under fan-out every session
// holds every broadcast until its client's next Ping ack, and the original clients ack about
// every 10 s. A broadcast's fragment list is encoded once into its scope's log (ScopeHub); a
// session only records "messages i…i+n are the scope's log entries p…p+n", one entry for a whole
// run of consecutive broadcasts. Holding 20,000 broadcasts then costs a session a few entries,
// not 20,000, and the texts exist once for all sessions. Envelopes are built only when a frame is
// written, and die young. Log chunks are plain arrays: when no session's run and no hub points
// at a chunk any more, the garbage collector takes it (see BENCHMARKS.md).
import { encodeScopeSync } from '../protocol/codec.js';

/** A block of a scope's broadcast log: encoded fragment lists, appended in order, never changed. */
export type LogChunk = string[];

/** Marks an entry holding one complete message text. */
const TEXT = -1;
/** Acknowledged entries are dropped from the arrays in chunks of at least this many. */
const COMPACT_AT = 256;
/**
 * What a message costs besides its body: its share of the entry arrays, and the envelope it
 * gets when a frame is written. Counted so that many tiny messages cannot hide from the budget.
 */
const MESSAGE_COST = 64;

export class Outbox {
  #next = 1;
  // Entry i holds messages #index[i] … #index[i] + #count[i] − 1: one text (#scope = TEXT), or a
  // run of ScopeSyncs for scopeIndex #scope[i] whose fragment lists are #chunk[i][#start[i] + k].
  #index: number[] = [];
  #scope: number[] = [];
  #text: (string | null)[] = [];
  #chunk: (LogChunk | null)[] = [];
  #start: number[] = [];
  #count: number[] = [];
  /** First entry holding an unacknowledged message. */
  #head = 0;
  /** Index of the first message not yet written to a socket. */
  #unsent = 1;
  /** Unacknowledged messages, and what they weigh (bodies plus MESSAGE_COST each). */
  #size = 0;
  #bytes = 0;

  /** Messages kept until acknowledged. */
  get size(): number {
    return this.#size;
  }

  /**
   * What the unacknowledged messages weigh: their bodies (a broadcast's fragment list counted in
   * full, although sessions share it) plus a fixed cost per message. The sessions' byte budget
   * (`sessionLimits.maxPendingBytes`) is measured in these.
   */
  get bytes(): number {
    return this.#bytes;
  }

  /** True when some message has not been written yet. */
  get hasUnsent(): boolean {
    return this.#unsent < this.#next;
  }

  /** Allocates the next message index (gap-free: every index taken must be added, in order). */
  take(): number {
    return this.#next++;
  }

  /** Adds a complete message under `index` (from take()). */
  addText(index: number, text: string): void {
    this.#push(index, TEXT, text, null, 0);
    this.#size++;
    this.#bytes += text.length + MESSAGE_COST;
  }

  /**
   * Adds a ScopeSync under `index` whose fragment list is `chunk[pos]` of its scope's log. It
   * extends the last entry when that is the run just before it.
   */
  addScopeSync(index: number, scopeIndex: number, chunk: LogChunk, pos: number): void {
    const last = this.#index.length - 1;
    if (
      last >= this.#head &&
      this.#chunk[last] === chunk &&
      this.#scope[last] === scopeIndex &&
      this.#start[last]! + this.#count[last]! === pos &&
      this.#index[last]! + this.#count[last]! === index
    ) {
      this.#count[last]!++;
    } else {
      this.#push(index, scopeIndex, null, chunk, pos);
    }
    this.#size++;
    this.#bytes += chunk[pos]!.length + MESSAGE_COST;
  }

  /** Drops every message with index ≤ `ack`. */
  acknowledge(ack: number): void {
    const len = this.#index.length;
    let h = this.#head;
    while (h < len) {
      const first = this.#index[h]!;
      if (first > ack) break;
      const n = this.#count[h]!;
      const k = Math.min(n, ack - first + 1);
      this.#release(h, k);
      if (k < n) {
        // Part of a run: it now starts after the acknowledged messages.
        this.#index[h] = first + k;
        this.#start[h]! += k;
        this.#count[h] = n - k;
        break;
      }
      h++;
    }
    this.#head = h;
    if (this.#unsent <= ack) this.#unsent = Math.min(ack + 1, this.#next);
    if (h === len) {
      // Everything acknowledged (the common case for an idle session): drop the references now
      // rather than keeping them until the next compaction, without allocating new arrays.
      this.#index.length = 0;
      this.#scope.length = 0;
      this.#text.length = 0;
      this.#chunk.length = 0;
      this.#start.length = 0;
      this.#count.length = 0;
      this.#head = 0;
      this.#size = 0;
      this.#bytes = 0;
    } else if (h >= COMPACT_AT && h * 2 >= len) {
      this.#index.splice(0, h);
      this.#scope.splice(0, h);
      this.#text.splice(0, h);
      this.#chunk.splice(0, h);
      this.#start.splice(0, h);
      this.#count.splice(0, h);
      this.#head = 0;
    }
  }

  /** The frame of everything not yet written, `first` (a Ping) in front; null when there is nothing. */
  takeFrame(first: string | null): string | null {
    if (!this.hasUnsent && first === null) return null;
    const from = this.#unsent;
    this.#unsent = this.#next;
    return this.#frame(first, from);
  }

  /** The frame answering `resendMissing`: `ping`, then every unacknowledged message in order. */
  resendFrame(ping: string): string {
    this.#unsent = this.#next;
    const from = this.#head < this.#index.length ? this.#index[this.#head]! : this.#next;
    return this.#frame(ping, from);
  }

  /** Forgets every message: the session ended. */
  clear(): void {
    this.#index = [];
    this.#scope = [];
    this.#text = [];
    this.#chunk = [];
    this.#start = [];
    this.#count = [];
    this.#head = 0;
    this.#size = 0;
    this.#bytes = 0;
    this.#unsent = this.#next;
  }

  #push(index: number, scope: number, text: string | null, chunk: LogChunk | null, start: number): void {
    this.#index.push(index);
    this.#scope.push(scope);
    this.#text.push(text);
    this.#chunk.push(chunk);
    this.#start.push(start);
    this.#count.push(1);
  }

  /**
   * Accounts for the first `k` messages of entry `e` being acknowledged. A fully acknowledged
   * entry lets go of its text or log chunk at once: it stays in the arrays until compaction, and
   * a big acknowledged text (a ScopeState) kept alive there would be memory the byte budget no
   * longer counts.
   */
  #release(e: number, k: number): void {
    this.#size -= k;
    const text = this.#text[e];
    if (text !== null && text !== undefined) {
      this.#bytes -= text.length + MESSAGE_COST;
      this.#text[e] = null;
      return;
    }
    const chunk = this.#chunk[e]!;
    const start = this.#start[e]!;
    for (let j = 0; j < k; j++) this.#bytes -= chunk[start + j]!.length + MESSAGE_COST;
    if (k === this.#count[e]) this.#chunk[e] = null;
  }

  /** `first`, then every message from index `from` on, as one JSON array. */
  #frame(first: string | null, from: number): string {
    let out = first === null ? '[' : `[${first}`;
    let sep = first !== null;
    // The messages to write are at the end: find the entry holding `from` from there.
    let e = this.#index.length - 1;
    while (e > this.#head && this.#index[e]! > from) e--;
    for (e = Math.max(e, this.#head); e < this.#index.length; e++) {
      const index = this.#index[e]!;
      const n = this.#count[e]!;
      const skip = Math.max(0, from - index);
      if (skip >= n) continue;
      const scope = this.#scope[e]!;
      if (scope === TEXT) {
        if (sep) out += ',';
        sep = true;
        out += this.#text[e]!;
        continue;
      }
      const chunk = this.#chunk[e]!;
      const start = this.#start[e]!;
      for (let j = skip; j < n; j++) {
        if (sep) out += ',';
        sep = true;
        out += encodeScopeSync(index + j, scope, chunk[start + j]!);
      }
    }
    return `${out}]`;
  }
}
