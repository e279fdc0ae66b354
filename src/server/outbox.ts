// A session's outbound messages (docs/protocol.md §3): the index counter, every message with an
// index until the client acknowledges it, and which of them still have to go out on the socket.
//
// Why runs over a shared log and not a list of message strings: under fan-out every session
// holds every broadcast until its client's next Ping ack, and the original clients ack about
// every 10 s. A broadcast's fragment list is encoded once into its scope's log (ScopeHub); a
// session only records "my next broadcasts are the scope's log entries p…q", one entry for a
// whole run of broadcasts. Holding 20,000 broadcasts then costs a session a few entries, not
// 20,000, and the texts exist once for all sessions. Envelopes are built only when a frame is
// written, and die young. Log chunks are plain objects: when no session's run and no hub points
// at a chunk any more, the garbage collector takes it (see BENCHMARKS.md).
//
// Two sequences, merged by index when a frame is written:
// - runs of broadcasts. A broadcast's message index is not stored: the broadcasts take, in order,
//   every index that no other message holds. A run is a range of one log chunk; the positions in
//   it whose origin is this session are skipped (the hub sends a change to everyone but its
//   sender), so a writer's runs do not break at each of its own changes, nor at its replies;
// - every other message, with its index: a text, or the most common reply of all, a
//   ScopeSyncReply accepting every fragment, as one number (its text is built when written).
// Under contention with 10 s acks, a writer then holds its messages at a few bytes each, not as a
// text and a run entry per reply (BENCHMARKS.md, acknowledgement interval).
import { encodeScopeSync } from '../protocol/codec.js';

/** A block of a scope's broadcast log: appended in order, never changed. */
export interface LogChunk {
  /** Each broadcast's fragment list, encoded (a flat string: see ScopeHub). */
  readonly texts: string[];
  /** Each broadcast's origin (the change context's `origin`): the one subscriber that did not get it. */
  readonly origins: unknown[];
}

export function newLogChunk(): LogChunk {
  return { texts: [], origins: [] };
}

/** Acknowledged entries are dropped from the arrays in chunks of at least this many. */
const COMPACT_AT = 256;
/**
 * What a message costs besides its body: its share of the entry arrays, and the envelope it
 * gets when a frame is written. Counted so that many tiny messages cannot hide from the budget.
 */
const MESSAGE_COST = 64;

/**
 * An accepted reply is held as the number replyTo × REPLY_COUNTS + n (exact below 2^53; a small
 * integer, unboxed, for replyTo below 2^25); replies to more fragments are held as text.
 */
const REPLY_COUNTS = 64;

const REPLY_HEAD = '{"type":"ScopeSyncReply","index":';
const REPLY_TO = ',"replyTo":';
const REPLY_FRAGMENTS = ',"fragmentReplies":[';

/**
 * The text of a ScopeSyncReply accepting all of its `n` fragments: exactly what
 * `encodeScopeSyncReply(index, replyTo, [{}, …])` gives.
 */
export function acceptedReplyText(index: number, replyTo: number, n: number): string {
  let out = `${REPLY_HEAD}${index}${REPLY_TO}${replyTo}${REPLY_FRAGMENTS}`;
  for (let i = 0; i < n; i++) out += i === 0 ? '{}' : ',{}';
  return `${out}]}`;
}

/** The length of acceptedReplyText(index, replyTo, n), without building it. */
function acceptedReplyLength(index: number, replyTo: number, n: number): number {
  return (
    REPLY_HEAD.length +
    digits(index) +
    REPLY_TO.length +
    digits(replyTo) +
    REPLY_FRAGMENTS.length +
    (n > 0 ? 3 * n - 1 : 0) +
    2
  );
}

function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

export class Outbox {
  /** The subscriber this outbox belongs to: log positions it originated are not its messages. */
  readonly #owner: object;
  #next = 1;
  /** Index of the first unacknowledged message: every index in #base … #next − 1 is held. */
  #base = 1;
  /** Index of the first message not yet written to a socket. */
  #unsent = 1;

  // Other messages, from #sHead on, in index order: message #sIndex[i] is the text #sBody[i], or
  // (a number) a ScopeSyncReply accepting every fragment (see packReply). Two small integers per
  // reply: V8 keeps them unboxed in the arrays.
  #sIndex: number[] = [];
  #sBody: (string | number)[] = [];
  #sHead = 0;

  // Runs of broadcasts, from #rHead on, in order. Broadcasts are numbered in the order they were
  // added (ordinals); run r holds ordinals #rFirst[r] … (#rFirst[r + 1] or #bNext) − 1: the
  // positions #rStart[r] … #rEnd[r] − 1 of #rChunk[r], less those this outbox's owner originated,
  // for scopeIndex #rScope[r].
  #rScope: number[] = [];
  #rChunk: (LogChunk | null)[] = [];
  #rStart: number[] = [];
  #rEnd: number[] = [];
  #rFirst: number[] = [];
  /** What run r's broadcasts weigh: a run acknowledged whole is not walked message by message. */
  #rBytes: number[] = [];
  #rHead = 0;
  /** Ordinal of the next broadcast added, and of the first unacknowledged one. */
  #bNext = 0;
  #bHead = 0;

  /** Unacknowledged messages, and what they weigh (bodies plus MESSAGE_COST each). */
  #size = 0;
  #bytes = 0;

  /**
   * `owner`: the change origin (the session) whose own broadcasts it never holds; by default an
   * object no change names.
   */
  constructor(owner: object = {}) {
    this.#owner = owner;
  }

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

  /** @internal For tests: the runs of broadcasts and the other messages held. */
  get _entries(): { runs: number; others: number } {
    return { runs: this.#rChunk.length - this.#rHead, others: this.#sIndex.length - this.#sHead };
  }

  /** @internal For tests: the length of the arrays (held entries plus those not yet compacted). */
  get _slots(): number {
    return this.#rChunk.length + this.#sIndex.length;
  }

  /** True when some message has not been written yet. */
  get hasUnsent(): boolean {
    return this.#unsent < this.#next;
  }

  /**
   * Allocates the next message index. Gap-free: every index taken must be added, in the order
   * taken, before the next one is taken.
   */
  take(): number {
    return this.#next++;
  }

  /** Adds a complete message under `index` (from take()). */
  addText(index: number, text: string): void {
    this.#side(index, text);
    this.#bytes += text.length + MESSAGE_COST;
  }

  /** Adds, under `index` (from take()), a ScopeSyncReply to `replyTo` accepting all `n` fragments. */
  addAcceptedReply(index: number, replyTo: number, n: number): void {
    if (n >= REPLY_COUNTS) {
      this.addText(index, acceptedReplyText(index, replyTo, n));
      return;
    }
    this.#side(index, replyTo * REPLY_COUNTS + n);
    this.#bytes += acceptedReplyLength(index, replyTo, n) + MESSAGE_COST;
  }

  /**
   * Adds a ScopeSync under `index` (from take()) whose fragment list is `chunk.texts[pos]` of its
   * scope's log. It extends the last run when that is the same chunk and scope and the log
   * positions in between (if any) are the owner's own.
   */
  addScopeSync(_index: number, scopeIndex: number, chunk: LogChunk, pos: number): void {
    const weight = chunk.texts[pos]!.length + MESSAGE_COST;
    const last = this.#rChunk.length - 1;
    if (
      last >= this.#rHead &&
      this.#rChunk[last] === chunk &&
      this.#rScope[last] === scopeIndex &&
      this.#ownUpTo(chunk, this.#rEnd[last]!, pos)
    ) {
      this.#rEnd[last] = pos + 1;
      this.#rBytes[last]! += weight;
    } else {
      this.#rScope.push(scopeIndex);
      this.#rChunk.push(chunk);
      this.#rStart.push(pos);
      this.#rEnd.push(pos + 1);
      this.#rFirst.push(this.#bNext);
      this.#rBytes.push(weight);
    }
    this.#bNext++;
    this.#size++;
    this.#bytes += weight;
  }

  /** Drops every message with index ≤ `ack`. */
  acknowledge(ack: number): void {
    const upTo = Math.min(ack + 1, this.#next);
    if (upTo <= this.#base) return;
    const dropped = upTo - this.#base;
    // The other messages below upTo; every other index below it is a broadcast.
    let s = this.#sHead;
    const sLen = this.#sIndex.length;
    while (s < sLen && this.#sIndex[s]! < upTo) {
      const body = this.#sBody[s]!;
      if (typeof body === 'number') {
        const n = body % REPLY_COUNTS;
        this.#bytes -= acceptedReplyLength(this.#sIndex[s]!, (body - n) / REPLY_COUNTS, n) + MESSAGE_COST;
      } else {
        this.#bytes -= body.length + MESSAGE_COST;
        // Let go of a big text (a ScopeState) now, not at the next compaction: kept there, it
        // would be memory the byte budget no longer counts.
        this.#sBody[s] = 0;
      }
      s++;
    }
    let broadcasts = dropped - (s - this.#sHead);
    this.#sHead = s;
    this.#bHead += broadcasts;
    let r = this.#rHead;
    while (broadcasts > 0) {
      const n = this.#runEnd(r) - this.#rFirst[r]!;
      if (broadcasts >= n) {
        this.#bytes -= this.#rBytes[r]!;
        this.#rChunk[r] = null;
        broadcasts -= n;
        r++;
        continue;
      }
      // Part of a run: it now starts after the acknowledged messages.
      const chunk = this.#rChunk[r]!;
      let p = this.#rStart[r]!;
      let weight = 0;
      for (let j = 0; j < broadcasts; p++) {
        if (chunk.origins[p] === this.#owner) continue;
        weight += chunk.texts[p]!.length + MESSAGE_COST;
        j++;
      }
      this.#bytes -= weight;
      this.#rBytes[r]! -= weight;
      this.#rStart[r] = p;
      this.#rFirst[r]! += broadcasts;
      broadcasts = 0;
    }
    this.#rHead = r;
    this.#size -= dropped;
    this.#base = upTo;
    if (this.#unsent < upTo) this.#unsent = upTo;
    if (upTo === this.#next) {
      // Everything acknowledged (the common case for an idle session): drop the references now
      // rather than keeping them until the next compaction, without allocating new arrays.
      this.#truncate(this.#sHead, this.#rHead);
    } else {
      const sCut = this.#sHead >= COMPACT_AT && this.#sHead * 2 >= this.#sIndex.length ? this.#sHead : 0;
      const rCut = this.#rHead >= COMPACT_AT && this.#rHead * 2 >= this.#rChunk.length ? this.#rHead : 0;
      if (sCut > 0 || rCut > 0) this.#truncate(sCut, rCut);
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
    return this.#frame(ping, this.#base);
  }

  /** Forgets every message: the session ended. */
  clear(): void {
    this.#sIndex = [];
    this.#sBody = [];
    this.#sHead = 0;
    this.#rScope = [];
    this.#rChunk = [];
    this.#rStart = [];
    this.#rEnd = [];
    this.#rFirst = [];
    this.#rBytes = [];
    this.#rHead = 0;
    this.#bHead = this.#bNext;
    this.#size = 0;
    this.#bytes = 0;
    this.#base = this.#next;
    this.#unsent = this.#next;
  }

  #side(index: number, body: string | number): void {
    this.#sIndex.push(index);
    this.#sBody.push(body);
    this.#size++;
  }

  /** True when every log position from `p` up to (not including) `end` is the owner's own. */
  #ownUpTo(chunk: LogChunk, p: number, end: number): boolean {
    if (p > end) return false;
    for (; p < end; p++) if (chunk.origins[p] !== this.#owner) return false;
    return true;
  }

  /** The ordinal after run r's last broadcast. */
  #runEnd(r: number): number {
    return r + 1 < this.#rFirst.length ? this.#rFirst[r + 1]! : this.#bNext;
  }

  /** Drops the first `s` other messages and the first `r` runs from the arrays. */
  #truncate(s: number, r: number): void {
    if (s > 0) {
      if (s === this.#sIndex.length) {
        this.#sIndex.length = 0;
        this.#sBody.length = 0;
      } else {
        this.#sIndex.splice(0, s);
        this.#sBody.splice(0, s);
      }
      this.#sHead -= s;
    }
    if (r > 0) {
      if (r === this.#rChunk.length) {
        this.#rScope.length = 0;
        this.#rChunk.length = 0;
        this.#rStart.length = 0;
        this.#rEnd.length = 0;
        this.#rFirst.length = 0;
        this.#rBytes.length = 0;
      } else {
        this.#rScope.splice(0, r);
        this.#rChunk.splice(0, r);
        this.#rStart.splice(0, r);
        this.#rEnd.splice(0, r);
        this.#rFirst.splice(0, r);
        this.#rBytes.splice(0, r);
      }
      this.#rHead -= r;
    }
  }

  /** `first`, then every message from index `from` on, as one JSON array. */
  #frame(first: string | null, from: number): string {
    let out = first === null ? '[' : `[${first}`;
    let sep = first !== null;
    const next = this.#next;
    if (from >= next) return `${out}]`;
    // The messages to write are usually the last few: find where `from` is from the end.
    const sLen = this.#sIndex.length;
    let s = sLen;
    while (s > this.#sHead && this.#sIndex[s - 1]! >= from) s--;
    // Every index in #base … from − 1 that no other message holds is a broadcast before `from`.
    let o = this.#bHead + (from - this.#base) - (s - this.#sHead);
    let r = this.#rFirst.length - 1;
    while (r > this.#rHead && this.#rFirst[r]! > o) r--;
    let end = 0;
    let chunk: LogChunk | null = null;
    let p = 0;
    if (o < this.#bNext) {
      end = this.#runEnd(r);
      chunk = this.#rChunk[r]!;
      p = this.#position(r, o - this.#rFirst[r]!, end - this.#rFirst[r]!);
    }
    let nextSide = s < sLen ? this.#sIndex[s]! : next;
    for (let index = from; index < next; index++) {
      if (sep) out += ',';
      sep = true;
      if (index === nextSide) {
        const body = this.#sBody[s]!;
        if (typeof body === 'string') out += body;
        else {
          const n = body % REPLY_COUNTS;
          out += acceptedReplyText(index, (body - n) / REPLY_COUNTS, n);
        }
        s++;
        nextSide = s < sLen ? this.#sIndex[s]! : next;
        continue;
      }
      if (o === end) {
        r++;
        end = this.#runEnd(r);
        chunk = this.#rChunk[r]!;
        p = this.#rStart[r]!;
      }
      while (chunk!.origins[p] === this.#owner) p++;
      out += encodeScopeSync(index, this.#rScope[r]!, chunk!.texts[p]!);
      p++;
      o++;
    }
    return `${out}]`;
  }

  /**
   * The log position of the `k`-th broadcast (from 0) of run `r`, which holds `n`. Frames start
   * near the end of the last run (a chunk holds hundreds of positions): a run without the owner's
   * own positions is computed, and one with them is walked from its nearer end.
   */
  #position(r: number, k: number, n: number): number {
    const start = this.#rStart[r]!;
    const end = this.#rEnd[r]!;
    if (end - start === n) return start + k;
    const chunk = this.#rChunk[r]!;
    const owner = this.#owner;
    if (k * 2 < n) {
      for (let p = start; ; p++) {
        if (chunk.origins[p] === owner) continue;
        if (k === 0) return p;
        k--;
      }
    }
    for (let p = end - 1, left = n - 1 - k; ; p--) {
      if (chunk.origins[p] === owner) continue;
      if (left === 0) return p;
      left--;
    }
  }
}
