// The scope hub: which sessions hold which scope (and at which scopeIndex), and the fan-out of
// every scope's 'changes' to them. One 'changes' listener per scope, whatever the number of
// sessions (the original added one per fetch and never removed it). The fragment list of a
// change is encoded once; each session only wraps it in its own envelope (docs/architecture.md).
import { ErrorCode, ScopeError } from '../errors.js';
import type { ModelClass, ModelObject } from '../model/model-object.js';
import { Kind } from '../model/property.js';
import { encodeFragments, encodeFragmentsOnce } from '../protocol/codec.js';
import type { Scope } from '../scope/scope.js';
import type { AppliedFragment, ChangeContext } from '../scope/types.js';
import { type LogChunk, newLogChunk } from './outbox.js';
import type { PresenceHub } from './presence.js';

/**
 * A scope's broadcast log is cut into chunks of at most this many entries or bytes. A session's
 * run of broadcasts ends with its chunk, so small chunks cost every busy session an entry per
 * chunk (at 64 entries, 2,000 runs per session for 10 s of contention); a scope whose sessions
 * acknowledged everything still keeps its current chunk (at 256 entries of ~150 bytes, ~40 KB).
 */
const LOG_CHUNK_ENTRIES = 256;
const LOG_CHUNK_BYTES = 64 * 1024;

/** What the hub needs from a session. */
export interface Subscriber {
  /**
   * A broadcast: its fragment list is `chunk.texts[pos]` of the scope's log (shared, never
   * changed). A subscriber gets every position of the log from its subscription on but those
   * whose `chunk.origins[pos]` is itself, in order. `version` is the scope version of the change
   * (what a session's client saw of the scope once it had it: docs/protocol.md §7.10).
   */
  enqueueScopeSync(scopeIndex: number, chunk: LogChunk, pos: number, version: number): void;
  /** Sends the scope's whole state again (after it was rebuilt from the store). */
  _sendState(scope: Scope): void;
}

/**
 * Where a scope's changes go before they are broadcast: straight through without a store; after
 * the group commit with one (store/). Order is preserved either way.
 */
export interface ChangeSink {
  changes(scope: Scope, fragments: AppliedFragment[], context: ChangeContext, broadcast: () => void): void;
}

interface Entry {
  sessions: Map<Subscriber, number>;
  /** The scope's broadcast log: its current chunk, and what that chunk holds. */
  chunk: LogChunk;
  chunkBytes: number;
  listener: (fragments: AppliedFragment[], context: ChangeContext) => void;
  state: { version: number; generation: number; rootUUID: string; json: string } | null;
  /** What the state is built from, kept from one version to the next (created on first fetch). */
  parts: StateParts | null;
}

export class ScopeHub {
  #entries = new Map<Scope, Entry>();

  readonly #sink: ChangeSink | null;

  readonly #onIdle: ((scope: Scope) => void) | null;

  /**
   * The presence rooms (docs/protocol.md §17), made by the first session that negotiates presence:
   * apart from the changes' fan-out, which never looks at them.
   */
  presence: PresenceHub | null = null;

  /** `onIdle` is called when the last session holding a scope lets go of it. */
  constructor(sink: ChangeSink | null = null, onIdle: ((scope: Scope) => void) | null = null) {
    this.#sink = sink;
    this.#onIdle = onIdle;
  }

  subscribe(scope: Scope, session: Subscriber, scopeIndex: number): void {
    let entry = this.#entries.get(scope);
    if (!entry) {
      const e: Entry = {
        sessions: new Map(),
        chunk: newLogChunk(),
        chunkBytes: 0,
        state: null,
        parts: null,
        listener: (fragments, context) => {
          e.parts?.changed(scope, fragments);
          const version = scope.version; // this change's: the broadcast may wait for the store
          if (this.#sink)
            this.#sink.changes(scope, fragments, context, () =>
              this.#broadcast(e, fragments, context, version),
            );
          else this.#broadcast(e, fragments, context, version);
        },
      };
      entry = e;
      this.#entries.set(scope, entry);
      scope.on('changes', entry.listener);
    }
    entry.sessions.set(session, scopeIndex);
  }

  unsubscribe(scope: Scope, session: Subscriber): void {
    const entry = this.#entries.get(scope);
    if (!entry) return;
    entry.sessions.delete(session);
    if (entry.sessions.size === 0) {
      scope.off('changes', entry.listener);
      this.#entries.delete(scope);
      this.#onIdle?.(scope);
    }
  }

  /** True while some session holds `scope`. */
  isHeld(scope: Scope): boolean {
    return this.#entries.has(scope);
  }

  /** Every session holding `scope`. */
  sessionsOf(scope: Scope): Subscriber[] {
    return [...(this.#entries.get(scope)?.sessions.keys() ?? [])];
  }

  /**
   * The scope's state, encoded once per version: many sessions fetching an unchanged scope
   * (a reconnect storm) cost one encoding.
   */
  state(scope: Scope): { rootUUID: string; json: string } {
    scope.flush();
    const entry = this.#entries.get(scope);
    const cached = entry?.state;
    if (cached && cached.version === scope.version && cached.generation === scope._generation) return cached;
    if (!entry) {
      const { rootUUID, fragments } = scope.getState();
      return { rootUUID, json: encodeFragments(fragments) };
    }
    entry.parts ??= new StateParts();
    const state = {
      version: scope.version,
      generation: scope._generation,
      ...entry.parts.encode(scope),
    };
    entry.state = state;
    return state;
  }

  close(): void {
    for (const [scope, entry] of this.#entries) scope.off('changes', entry.listener);
    this.#entries.clear();
    this.presence?.close();
  }

  #broadcast(entry: Entry, fragments: AppliedFragment[], context: ChangeContext, version: number): void {
    if (entry.sessions.size === 0 || context.replay) return;
    const origin = context.origin;
    if (entry.sessions.size === 1 && entry.sessions.has(origin as Subscriber)) return;
    // Flat, and shared with the store's record of the same change (see encodeFragmentsOnce).
    const json = encodeFragmentsOnce(fragments);
    // A new chunk now and then: sessions that acknowledged everything leave the old chunk to the
    // garbage collector, so the log costs at most one small chunk per scope once sessions ack.
    if (entry.chunk.texts.length >= LOG_CHUNK_ENTRIES || entry.chunkBytes >= LOG_CHUNK_BYTES) {
      entry.chunk = newLogChunk();
      entry.chunkBytes = 0;
    }
    const chunk = entry.chunk;
    const pos = chunk.texts.push(json) - 1;
    chunk.origins.push(origin);
    entry.chunkBytes += json.length;
    for (const [session, scopeIndex] of entry.sessions) {
      if (session !== origin) session.enqueueScopeSync(scopeIndex, chunk, pos, version);
    }
  }
}

/** Objects per segment of a state's text (see StateParts). */
const SEGMENT = 64;

/**
 * What a scope's ScopeState text is built from, kept from one version to the next and updated
 * by the scope's changes, so that a fetch of a scope that changes all the time costs what
 * changed, not the whole scope (BENCHMARKS.md, fairness):
 * - the objects in state order (the walk from the root), kept until a change adds an object or
 *   sets a model-valued property (the only changes that move objects in the tree), or the scope
 *   is rebuilt (its generation);
 * - each object's encoded fragment (what follows `"uuid":`), dropped when a change names it;
 * - the text of each run of SEGMENT objects, flat, dropped when a change names one of them.
 * A state is then the concatenation of some 80 segments per 5,000 objects, of which a change of
 * one object rebuilds one. The one frame carrying the state copies it flat when written; a tree
 * of 80 flat pieces copies faster than one of 10,000 (measured: ~0.5 ms less per 0.9 MB frame).
 */
class StateParts {
  #order: ModelObject[] | null = null;
  #generation = 0;
  /** Each object's position in #order. */
  #position = new Map<ModelObject, number>();
  #segments: (string | null)[] = [];
  #wire = new WeakMap<ModelObject, string>();

  /** The scope's `changes`: what they name is encoded again at the next state. */
  changed(scope: Scope, fragments: readonly AppliedFragment[]): void {
    if (this.#order !== null && movesObjects(scope, fragments)) {
      // Everything is laid out again at the next state; removed objects are let go now.
      this.#order = null;
      this.#position = new Map();
      this.#segments = [];
    }
    for (let i = 0; i < fragments.length; i++) {
      const o = scope.get(fragments[i]!.uuid);
      if (o === null) continue;
      this.#wire.delete(o);
      const p = this.#position.get(o);
      if (p !== undefined) this.#segments[(p / SEGMENT) | 0] = null;
    }
  }

  /**
   * The scope's ScopeState fragment list, exactly as `encodeFragments(scope.getState().fragments)`
   * would give it.
   */
  encode(scope: Scope): { rootUUID: string; json: string } {
    if (this.#order === null || this.#generation !== scope._generation) {
      const all = scope.getAllModelObjects();
      if (all.length === 0) throw new ScopeError(`Scope '${scope.name}' has no root`, ErrorCode.NO_ROOT);
      this.#order = all;
      this.#generation = scope._generation;
      this.#position = new Map();
      for (let i = 0; i < all.length; i++) this.#position.set(all[i]!, i);
      this.#segments = new Array(Math.ceil(all.length / SEGMENT)).fill(null);
    }
    const all = this.#order;
    const segments = this.#segments;
    let out = '[';
    for (let k = 0; k < segments.length; k++) {
      let text = segments[k];
      if (text === null || text === undefined) {
        text = this.#segment(all, k * SEGMENT, Math.min(all.length, (k + 1) * SEGMENT));
        segments[k] = text;
      }
      out += text;
    }
    return { rootUUID: all[0]!.uuid, json: `${out}]` };
  }

  /** The text of objects `from` … `to` − 1, flat (one `join`). */
  #segment(all: readonly ModelObject[], from: number, to: number): string {
    const parts: string[] = [];
    for (let i = from; i < to; i++) {
      const o = all[i]!;
      let tail = this.#wire.get(o);
      if (tail === undefined) {
        tail = `${JSON.stringify(o.uuid)},"clsName":${JSON.stringify(o.typeName)},"properties":${JSON.stringify(o.toWireProperties())}}`;
        this.#wire.set(o, tail);
      }
      parts.push(i === 0 ? '{"type":"change","uuid":' : ',{"type":"add","uuid":', tail);
    }
    return parts.join('');
  }
}

/** Names of each model class's model-valued properties (the edges of the object tree). */
const modelKeys = new WeakMap<ModelClass, Set<string>>();

function modelKeysOf(cls: ModelClass): Set<string> {
  let keys = modelKeys.get(cls);
  if (keys === undefined) {
    keys = new Set();
    for (const p of cls.$props) if (p.kind === Kind.Model) keys.add(p.name);
    modelKeys.set(cls, keys);
  }
  return keys;
}

/**
 * True when applying `fragments` may have changed which objects the scope's tree holds or their
 * order: an added object, or a changed model-valued property (a child set, replaced or removed).
 */
function movesObjects(scope: Scope, fragments: readonly AppliedFragment[]): boolean {
  for (let i = 0; i < fragments.length; i++) {
    const f = fragments[i]!;
    if (f.type !== 'change') return true;
    const o = scope.get(f.uuid);
    if (o === null) return true;
    const keys = modelKeysOf(o.constructor as ModelClass);
    if (keys.size === 0) continue;
    for (const key in f.properties) if (keys.has(key)) return true;
  }
  return false;
}
