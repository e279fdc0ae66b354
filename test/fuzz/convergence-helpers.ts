// The harness of test/fuzz/convergence.fuzz.test.ts: a real server with a Canvas scope whose
// 'changes' events are logged in server order, three SDK clients on sockets the test can
// terminate, an interpreter for the random programs, and the checks of the property (listed
// in the test file's header comment).
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { type Client, type ClientScope, connect, type SyncResult } from '../../src/client/index.js';
import type { ModelObject } from '../../src/model/index.js';
import type { AppliedFragment, Scope } from '../../src/scope/index.js';
import { createServer, type Server } from '../../src/server/server.js';
import { Canvas, canvasScope, Shape } from '../e2e/fixture.js';
import { waitFor } from '../helpers/wait.js';

// ---- programs -------------------------------------------------------------------------------

/** One edit made by a client. `pick` chooses a shape of the client's current list (modulo). */
export type Edit =
  | { kind: 'move'; pick: number; prop: 'x' | 'y' }
  | { kind: 'add' }
  | { kind: 'remove'; pick: number }
  | { kind: 'rename' };

export type Step =
  /** One edit as plain assignments, then `scope.flush()`: one changeset. */
  | { kind: 'edit'; client: number; edit: Edit }
  /** Several edits in one `scope.transaction()`: one changeset, atomic or not. */
  | { kind: 'group'; client: number; atomic: boolean; edits: Edit[] }
  /** Terminates the client's socket (no close handshake): the SDK resumes its session. */
  | { kind: 'drop'; client: number }
  /** Lets `turns` event-loop turns (setImmediate) pass. */
  | { kind: 'yield'; turns: number }
  /** Lets `ms` milliseconds pass (timers, network). Pacing only, never an assertion. */
  | { kind: 'pause'; ms: number };

export const CLIENTS = 3;

// ---- models as the test sees them ----------------------------------------------------------

export type ShapeObj = ModelObject & { x: number; y: number; width: number; height: number; type: number };
export type CanvasObj = ModelObject & {
  name: string;
  shapes: { toArray(): ShapeObj[]; push(...s: ModelObject[]): number; remove(s: ModelObject): number };
};

// ---- what a client meant, and what the server said -------------------------------------------

/**
 * What an edit means once acknowledged: a property holds a value (values are unique per run, so
 * a value identifies its edit), or a shape is in / out of the canvas's list.
 */
export type Intent =
  | { kind: 'prop'; uuid: string; prop: 'x' | 'y' | 'name'; value: number | string }
  | { kind: 'member'; uuid: string; present: boolean };

/** One changeset a client sent: what it meant, and (once answered) the outcome. */
export interface Sent {
  client: number;
  step: number;
  intents: Intent[];
  result: SyncResult | null;
}

/** One 'changes' event of the server scope: an accepted changeset, in server order. */
export interface LogEntry {
  seq: number;
  /** The token of the session whose changeset it was (null: a server-side edit). */
  token: string | null;
  fragments: AppliedFragment[];
}

export interface Peer {
  id: number;
  client: Client;
  scope: ClientScope<CanvasObj>;
  /** Every socket the SDK opened, in order (the last one is the current one). */
  sockets: WebSocket[];
}

export interface Stats {
  changesets: number;
  accepted: number;
  rejectedFragments: number;
  drops: number;
  sockets: number;
}

export interface World {
  server: Server;
  scope: Scope;
  canvasUuid: string;
  /** The server scope's state before any client edit, as uuid → wire properties. */
  initial: Map<string, Record<string, unknown>>;
  log: LogEntry[];
  peers: Peer[];
  sent: Sent[];
  stats: Stats;
  /** The source of unique values (above every value of the initial state). */
  counter: number;
}

const BOUND = 5_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function stateMap(scope: Scope): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const f of scope.getState().fragments) out.set(f.uuid, structuredClone(f.properties));
  return out;
}

/** Starts a server with a fresh Canvas scope and connects `CLIENTS` clients that fetch it. */
export async function startWorld(): Promise<World> {
  const { scope, canvas } = canvasScope();
  const log: LogEntry[] = [];
  scope.on('changes', (fragments, context) => {
    const origin = context.origin as { token?: unknown } | undefined;
    log.push({
      seq: log.length,
      token: typeof origin?.token === 'string' ? origin.token : null,
      fragments: structuredClone(fragments),
    });
  });
  const initial = stateMap(scope);
  const server = await createServer({ port: 0, scopes: [scope], pingInterval: 100 });
  const world: World = {
    server,
    scope,
    canvasUuid: canvas.uuid,
    initial,
    log,
    peers: [],
    sent: [],
    stats: { changesets: 0, accepted: 0, rejectedFragments: 0, drops: 0, sockets: 0 },
    counter: 1000,
  };
  try {
    const url = `ws://127.0.0.1:${server.port}/`;
    for (let id = 0; id < CLIENTS; id++) world.peers.push(await openPeer(url, id));
  } catch (err) {
    await closeWorld(world);
    throw err;
  }
  return world;
}

async function openPeer(url: string, id: number): Promise<Peer> {
  const sockets: WebSocket[] = [];
  // The SDK does not expose its socket: a WebSocket class of our own records every instance.
  // Every constructor argument is passed on: the SDK may send its token in a header (options).
  class TrackedSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      sockets.push(this);
    }
  }
  const client = await connect(url, {
    WebSocket: TrackedSocket,
    // Pings carry the client's acknowledgement, which `settle` waits for.
    pingInterval: 20,
    minReconnectDelay: 5,
    maxReconnectDelay: 50,
    connectTimeout: BOUND,
  });
  try {
    const scope = (await withTimeout(
      client.fetch('Canvas', Canvas),
      BOUND,
      `client ${id} fetching Canvas`,
    )) as unknown as ClientScope<CanvasObj>;
    return { id, client, scope, sockets };
  } catch (err) {
    client.close();
    throw err;
  }
}

/** Closes every client, then the server. Never throws for a client that is already closed. */
export async function closeWorld(world: World): Promise<void> {
  for (const p of world.peers) p.client.close();
  await withTimeout(world.server.close(), BOUND, 'server.close()');
}

// ---- running a program ----------------------------------------------------------------------

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs the steps; changesets are not awaited (their outcomes are recorded as they arrive), so
 * edits, drops and replies interleave freely.
 */
export async function runProgram(world: World, steps: readonly Step[]): Promise<void> {
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    switch (step.kind) {
      case 'yield':
        for (let k = 0; k < step.turns; k++) await turn();
        break;
      case 'pause':
        await sleep(step.ms);
        break;
      case 'drop': {
        const ws = world.peers[step.client]!.sockets.at(-1);
        if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) {
          ws.terminate();
          world.stats.drops++;
        }
        break;
      }
      case 'edit':
      case 'group':
        edit(world, world.peers[step.client]!, i, step);
        break;
    }
  }
}

function edit(
  world: World,
  peer: Peer,
  step: number,
  s: Extract<Step, { kind: 'edit' } | { kind: 'group' }>,
): void {
  const root = peer.scope.root!;
  const raw: Intent[] = [];
  const addedHere = new Set<string>();
  const next = () => ++world.counter;
  const apply = (e: Edit) => {
    const shapes = root.shapes.toArray();
    switch (e.kind) {
      case 'move': {
        const shape = shapes[e.pick % Math.max(shapes.length, 1)];
        if (!shape) return;
        const value = next();
        shape[e.prop] = value;
        raw.push({ kind: 'prop', uuid: shape.uuid, prop: e.prop, value });
        return;
      }
      case 'add': {
        const x = next();
        const y = next();
        const shape = new Shape({ x, y, width: 10, height: 10, type: 1 }) as unknown as ShapeObj;
        root.shapes.push(shape);
        addedHere.add(shape.uuid);
        raw.push({ kind: 'member', uuid: shape.uuid, present: true });
        raw.push({ kind: 'prop', uuid: shape.uuid, prop: 'x', value: x });
        raw.push({ kind: 'prop', uuid: shape.uuid, prop: 'y', value: y });
        return;
      }
      case 'remove': {
        const shape = shapes[e.pick % Math.max(shapes.length, 1)];
        if (!shape) return;
        root.shapes.remove(shape);
        // Removing a shape added in the same changeset: it is never sent.
        if (!addedHere.has(shape.uuid)) raw.push({ kind: 'member', uuid: shape.uuid, present: false });
        return;
      }
      case 'rename': {
        const value = `name-${next()}`;
        root.name = value;
        raw.push({ kind: 'prop', uuid: root.uuid, prop: 'name', value });
        return;
      }
    }
  };
  let done: Promise<SyncResult>;
  if (s.kind === 'edit') {
    apply(s.edit);
    done = peer.scope.flush();
  } else {
    done = peer.scope.transaction(() => s.edits.forEach(apply), { atomic: s.atomic });
  }
  // What the changeset still means once sealed: the last value per property, of objects still in
  // the scope (a shape removed in the same block takes its edits with it), and memberships.
  const last = new Map<string, Intent>();
  for (const it of raw) {
    if (it.kind === 'prop') {
      if (peer.scope.get(it.uuid) !== null) last.set(`${it.uuid}.${it.prop}`, it);
      else last.delete(`${it.uuid}.${it.prop}`);
    } else if (!it.present || peer.scope.get(it.uuid) !== null) {
      last.set(`member ${it.uuid}`, it);
    }
  }
  const sent: Sent = { client: peer.id, step, intents: [...last.values()], result: null };
  world.sent.push(sent);
  done.then((r) => {
    sent.result = r;
  });
}

// ---- waiting and checking -------------------------------------------------------------------

/** A comparable picture of a tree: `uuid class {wire properties}` per object, sorted. */
function picture(entries: Iterable<{ uuid: string; cls: string; props: Record<string, unknown> }>): string[] {
  const out: string[] = [];
  for (const e of entries) out.push(`${e.uuid} ${e.cls} ${JSON.stringify(e.props)}`);
  return out.sort();
}

export function serverPicture(world: World): string[] {
  return picture(
    world.scope.getState().fragments.map((f) => ({ uuid: f.uuid, cls: f.clsName, props: f.properties })),
  );
}

export function clientPicture(peer: Peer): string[] {
  return picture(
    peer.scope.objects.map((o) => ({ uuid: o.uuid, cls: o.typeName, props: o.toWireProperties() })),
  );
}

function diff(a: string[], b: string[]): string {
  const sa = new Set(a);
  const sb = new Set(b);
  const only = (x: string[], s: Set<string>) => x.filter((v) => !s.has(v));
  return `server only: ${JSON.stringify(only(a, sb))}; client only: ${JSON.stringify(only(b, sa))}`;
}

/**
 * Waits (bounded) until the system is quiet: every client connected, with no unanswered
 * changeset, and every server session with nothing unacknowledged (the clients ping every
 * 20 ms: each has received and applied everything the server sent it). Then asserts that every
 * client holds exactly the server's tree. Fails with the state of each client when it does not
 * get quiet in time.
 */
export async function settle(world: World): Promise<void> {
  const quiet = () =>
    world.sent.every((s) => s.result !== null) &&
    world.peers.every((p) => {
      const s = p.client.status;
      return s.connected && s.pendingChangesets === 0;
    }) &&
    world.server.sessions.every((s) => s.unacknowledged === 0);
  await waitFor(quiet, {
    timeout: BOUND,
    message: () => {
      const lines = world.peers.map((p) => {
        const s = p.client.status;
        return `client ${p.id}: state ${s.state}, pending ${s.pendingChangesets}, sessions ${s.sessions}`;
      });
      const server = world.server.sessions.map((s) => s.unacknowledged).join(', ');
      const open = world.sent.filter((s) => s.result === null).map((s) => `step ${s.step}`);
      return `quiet (every client connected with nothing pending, every session acknowledged).\n${lines.join('\n')}\nunacknowledged per server session: ${server}\nunanswered: ${open.join(', ') || 'none'}`;
    },
  });
  const server = serverPicture(world);
  for (const p of world.peers) {
    const client = clientPicture(p);
    assert.ok(
      client.join('\n') === server.join('\n'),
      `client ${p.id} converged to the server's state: ${diff(server, client)}`,
    );
  }
}

const fragKey = (f: { type: string; uuid: string }) => `${f.type} ${f.uuid}`;

/** The uuids whose fragments must all be accepted for an intent to be acknowledged. */
function needed(world: World, it: Intent): string[] {
  if (it.kind === 'prop') return [it.uuid];
  return it.present ? [world.canvasUuid, it.uuid] : [world.canvasUuid];
}

function holds(it: Intent, props: Record<string, unknown> | undefined): boolean {
  if (it.kind === 'prop') return props !== undefined && props[it.prop] === it.value;
  const shapes = (props?.shapes ?? []) as string[];
  return shapes.includes(it.uuid) === it.present;
}

function touchesAfter(world: World, seq: number, uuid: string, prop: string): boolean {
  for (let i = seq + 1; i < world.log.length; i++) {
    for (const f of world.log[i]!.fragments) if (f.uuid === uuid && prop in f.properties) return true;
  }
  return false;
}

/** Every check of the property after convergence (see the test file's header). */
export function checkAcknowledged(world: World): void {
  const tokens = new Map<string, number>();
  for (const p of world.peers) {
    // Dropped sockets never cost the session: it is resumed with its token (docs/protocol.md §4.4).
    assert.equal(p.client.status.sessions, 1, `client ${p.id} kept its one session`);
    tokens.set(p.client.sessionToken!, p.id);
  }
  for (const e of world.log) {
    assert.ok(e.token !== null && tokens.has(e.token), `log entry ${e.seq} comes from one of the clients`);
  }

  const finalState = stateMap(world.scope);
  for (const p of world.peers) {
    const mine = world.log.filter((e) => e.token === p.client.sessionToken);
    const sent = world.sent.filter((s) => s.client === p.id && s.result!.fragments.length > 0);
    const acceptedSets = sent.filter((s) => s.result!.fragments.some((f) => !f.error));
    world.stats.changesets += sent.length;
    world.stats.accepted += acceptedSets.length;
    for (const s of sent) world.stats.rejectedFragments += s.result!.errors.length;
    world.stats.sockets += p.sockets.length;

    // Acknowledged ⇔ applied, once, in the client's order.
    assert.deepEqual(
      mine.map((e) => e.fragments.map(fragKey).sort()),
      acceptedSets.map((s) =>
        s
          .result!.fragments.filter((f) => !f.error)
          .map(fragKey)
          .sort(),
      ),
      `client ${p.id}: the server applied exactly the fragments it acknowledged, each changeset once, in order`,
    );

    for (const s of world.sent) {
      if (s.client !== p.id) continue;
      const outcome = new Map(s.result!.fragments.map((f) => [f.uuid, f]));
      const entry = mine[acceptedSets.indexOf(s)];
      for (const it of s.intents) {
        const frags = needed(world, it).map((u) => outcome.get(u));
        assert.ok(
          frags.every((f) => f !== undefined),
          `client ${p.id} step ${s.step}: every edit was sent (${JSON.stringify(it)}; sent ${JSON.stringify(s.result!.fragments)})`,
        );
        const what = `client ${p.id} step ${s.step} ${JSON.stringify(it)}`;
        if (frags.some((f) => f!.error)) {
          // A rejected edit never reached the server's state.
          if (it.kind === 'prop') {
            const leaked = world.log.some((e) =>
              e.fragments.some((f) => f.uuid === it.uuid && f.properties[it.prop] === it.value),
            );
            assert.ok(!leaked, `${what}: rejected, yet applied by the server`);
          }
          continue;
        }
        assert.ok(entry, `${what}: acknowledged, so in the server's log`);
        const applied = entry.fragments.find(
          (f) => f.uuid === (it.kind === 'prop' ? it.uuid : world.canvasUuid),
        );
        assert.ok(applied && holds(it, applied.properties), `${what}: applied as sent`);
        // Still in the final state, unless a later accepted changeset overwrote that property.
        const uuid = it.kind === 'prop' ? it.uuid : world.canvasUuid;
        const prop = it.kind === 'prop' ? it.prop : 'shapes';
        const props = finalState.get(uuid);
        if (props === undefined) {
          // The object left the scope: only a later change of the canvas's list can do that.
          assert.ok(touchesAfter(world, entry.seq, world.canvasUuid, 'shapes'), `${what}: object lost`);
        } else if (!holds(it, props)) {
          assert.ok(
            touchesAfter(world, entry.seq, uuid, prop),
            `${what}: acknowledged at seq ${entry.seq} and lost (final ${JSON.stringify(props[prop])})`,
          );
        }
      }
    }
  }

  // The server's state is the last accepted value of every property, in server order.
  const replay = new Map<string, Record<string, unknown>>();
  for (const [uuid, props] of world.initial) replay.set(uuid, { ...props });
  for (const e of world.log) {
    for (const f of e.fragments) {
      const target = replay.get(f.uuid) ?? {};
      replay.set(f.uuid, Object.assign(target, f.properties));
    }
  }
  for (const [uuid, props] of finalState) {
    const expected = replay.get(uuid);
    assert.ok(expected, `object ${uuid} of the final state was added by a logged changeset`);
    for (const [name, value] of Object.entries(props)) {
      assert.deepEqual(value, expected[name], `${uuid}.${name} is the last value the log gave it`);
    }
  }
}
