// The demo page: the shapes canvas and the chat room, on the Jetstream client SDK. Bundled by
// esbuild for the browser (see serve.ts); uses the same model module as the server.
import {
  Client,
  type ClientScope,
  type ModelObject,
  type PresencePeer,
  type SyncStatus,
} from '../../src/client/index.js';
import { Canvas, ChatRoom, Message, Shape, User } from '../models.js';

interface ShapeObj extends ModelObject {
  x: number;
  y: number;
  width: number;
  height: number;
  type: number | null;
}
interface List<T> {
  toArray(): T[];
  push(...items: T[]): number;
  remove(item: T): number;
  includes(item: T): boolean;
  length: number;
}
interface CanvasObj extends ModelObject {
  shapes: List<ShapeObj>;
}
interface UserObj extends ModelObject {
  username: string | null;
  color: number | null;
  lastActive: Date | null;
}
interface MessageObj extends ModelObject {
  author: UserObj | null;
  postedAt: Date | null;
  text: string | null;
}
interface RoomObj extends ModelObject {
  name: string | null;
  attributes: (ModelObject & { topic: string | null }) | null;
  users: List<UserObj>;
  messages: List<MessageObj>;
}

const COLOURS = ['#3366ff', '#ef4444', '#f59e0b', '#10b981', '#8b5cf6', '#ec4899'];
/** A shape's size when the model has none. */
const DEFAULT_SIZE = 80;
/** The smallest width and height a resize leaves (still large enough to grab). */
const MIN_SIZE = 24;

/** Who this page is, in both scopes' presence: the chat's name field, else a guest name. */
interface Identity {
  name: string;
  /** An index into COLOURS, from the name. */
  color: number;
}
/** This page's presence on the canvas: its pointer and selected shape (docs/client.md, "Presence"). */
interface CanvasPresence extends Identity {
  cursor: { x: number; y: number } | null;
  selection: string | null;
}
type ChatPresence = Identity;

const colourOf = (name: string) =>
  [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % COLOURS.length;

const guest = `Guest ${Math.floor(100 + Math.random() * 900)}`;

function identity(): Identity {
  const typed = document.querySelector<HTMLInputElement>('#chat-name')?.value.trim();
  const name = (typed || localStorage.getItem('jetstream-demo-name') || guest).slice(0, 32);
  return { name, color: colourOf(name) };
}

/** A peer's colour, checked: presence states come from other pages, unverified. */
function peerColour(state: { color?: unknown }): string {
  return COLOURS[typeof state.color === 'number' ? Math.abs(state.color | 0) % COLOURS.length : 0]!;
}

function peerName(state: { name?: unknown }): string {
  return typeof state.name === 'string' ? state.name.slice(0, 32) : '?';
}

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector(sel) as T;

/** Runs `fn` at most once per animation frame. */
function perFrame(fn: () => void): () => void {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}

// ---- connection badge ---------------------------------------------------------------------------

function showStatus(s: SyncStatus): void {
  const badge = $('#status');
  let cls: string = s.state;
  let text =
    s.state === 'connecting' ? 'Connecting…' : s.state === 'reconnecting' ? 'Reconnecting…' : 'Offline';
  if (s.connected) {
    cls = s.pendingChangesets > 0 ? 'saving' : 'synced';
    text = s.pendingChangesets > 0 ? `Saving ${s.pendingChangesets}…` : 'Connected · saved';
  } else if (s.pendingChangesets > 0) {
    text += ` (${s.pendingChangesets} unsaved)`;
  }
  badge.className = `badge ${cls}`;
  badge.textContent = text;
  badge.dataset.state = s.state;
  badge.dataset.pending = String(s.pendingChangesets);
}

// ---- shapes canvas ------------------------------------------------------------------------------

function setupCanvas(scope: ClientScope<CanvasObj, CanvasPresence>): void {
  const root = scope.root!;
  // `area` holds the shapes and is their coordinate space; `viewport` scrolls it (style.css).
  const area = $('#canvas');
  const viewport = $('#canvas-viewport');
  const nodes = new Map<ShapeObj, HTMLElement>();
  let selected: ShapeObj | null = null;
  scope.presence.set({ ...identity(), cursor: null, selection: null });

  const render = perFrame(() => {
    const shapes = root.shapes.toArray();
    if (selected && !shapes.includes(selected)) selected = null;
    for (const [s, node] of nodes) {
      if (!shapes.includes(s)) {
        node.remove();
        nodes.delete(s);
      }
    }
    // z-order = list order, after the presence layer. A node is moved only when out of place:
    // moving one (even to where it was) takes it out of the document for a moment, which ends its
    // pointer capture and with it a drag or resize in progress.
    let previous: Element = $('#cursors');
    for (const s of shapes) {
      let node = nodes.get(s);
      if (!node) {
        node = document.createElement('div');
        node.className = 'shape';
        node.dataset.uuid = s.uuid;
        makeDraggable(node, s);
        makeResizable(node, s);
        nodes.set(s, node);
      }
      if (node.previousElementSibling !== previous || node.parentElement !== area) previous.after(node);
      previous = node;
      node.style.left = `${s.x ?? 0}px`;
      node.style.top = `${s.y ?? 0}px`;
      node.style.width = `${s.width ?? DEFAULT_SIZE}px`;
      node.style.height = `${s.height ?? DEFAULT_SIZE}px`;
      node.style.background = COLOURS[(s.type ?? 0) % COLOURS.length]!;
      node.dataset.x = String(s.x);
      node.dataset.y = String(s.y);
      node.classList.toggle('selected', s === selected);
    }
    // The canvas is at least as large as its farthest shape: a shape placed on a wider screen is
    // scrolled to on a narrower one instead of being cut off.
    area.style.minWidth = `${Math.max(0, ...shapes.map((s) => (s.x ?? 0) + (s.width ?? DEFAULT_SIZE)))}px`;
    area.style.minHeight = `${Math.max(0, ...shapes.map((s) => (s.y ?? 0) + (s.height ?? DEFAULT_SIZE)))}px`;
    const selection = selected?.uuid ?? null;
    if (scope.presence.state?.selection !== selection) scope.presence.update({ selection });
    renderOthers();
    ($('#delete-shape') as HTMLButtonElement).disabled = selected === null;
    for (const sw of Array.from(document.querySelectorAll<HTMLElement>('.swatch'))) {
      sw.setAttribute(
        'aria-pressed',
        String(selected !== null && Number(sw.dataset.type) === (selected.type ?? 0)),
      );
    }
  });

  function makeDraggable(node: HTMLElement, s: ShapeObj): void {
    // The bounds are taken when the drag starts: the canvas grows with its farthest shape, so
    // bounds read on every move would let a shape push the canvas (and itself) out indefinitely.
    let start: { px: number; py: number; x: number; y: number; maxX: number; maxY: number } | null = null;
    let next: { x: number; y: number } | null = null;
    const apply = perFrame(() => {
      if (next && s.scope) {
        s.x = next.x;
        s.y = next.y;
      }
    });
    node.addEventListener('pointerdown', (e) => {
      selected = s;
      start = {
        px: e.clientX,
        py: e.clientY,
        x: s.x ?? 0,
        y: s.y ?? 0,
        maxX: area.clientWidth - (s.width ?? DEFAULT_SIZE),
        maxY: area.clientHeight - (s.height ?? DEFAULT_SIZE),
      };
      node.setPointerCapture(e.pointerId);
      node.classList.add('dragging');
      render();
    });
    node.addEventListener('pointermove', (e) => {
      if (!start) return;
      next = {
        x: Math.round(Math.max(0, Math.min(start.maxX, start.x + e.clientX - start.px))),
        y: Math.round(Math.max(0, Math.min(start.maxY, start.y + e.clientY - start.py))),
      };
      apply();
    });
    const end = () => {
      start = null;
      node.classList.remove('dragging');
    };
    node.addEventListener('pointerup', end);
    node.addEventListener('pointercancel', end);
  }

  /**
   * The handle in a shape's bottom-right corner (shown while it is selected): dragging it with a
   * mouse, pen or finger (pointer events) sets the shape's width and height, sent like any other
   * change, at most once per frame. The size stays within the canvas as it was when the resize began.
   */
  function makeResizable(node: HTMLElement, s: ShapeObj): void {
    const handle = document.createElement('span');
    handle.className = 'resize-handle';
    handle.title = 'Drag to resize';
    node.append(handle);
    let start: { px: number; py: number; w: number; h: number; maxW: number; maxH: number } | null = null;
    let next: { width: number; height: number } | null = null;
    const apply = perFrame(() => {
      if (next && s.scope) {
        s.width = next.width;
        s.height = next.height;
      }
    });
    handle.addEventListener('pointerdown', (e) => {
      e.stopPropagation(); // a resize, not a drag of the shape
      selected = s;
      start = {
        px: e.clientX,
        py: e.clientY,
        w: s.width ?? DEFAULT_SIZE,
        h: s.height ?? DEFAULT_SIZE,
        maxW: Math.max(MIN_SIZE, area.clientWidth - (s.x ?? 0)),
        maxH: Math.max(MIN_SIZE, area.clientHeight - (s.y ?? 0)),
      };
      handle.setPointerCapture(e.pointerId);
      node.classList.add('resizing');
      render();
    });
    handle.addEventListener('pointermove', (e) => {
      if (!start) return;
      next = {
        width: Math.round(Math.max(MIN_SIZE, Math.min(start.maxW, start.w + e.clientX - start.px))),
        height: Math.round(Math.max(MIN_SIZE, Math.min(start.maxH, start.h + e.clientY - start.py))),
      };
      apply();
    });
    const end = () => {
      start = null;
      node.classList.remove('resizing');
    };
    handle.addEventListener('pointerup', end);
    handle.addEventListener('pointercancel', end);
  }

  // Other pages' pointers and selections, in their name and colour.
  const layer = $('#cursors');
  const cursors = new Map<string, HTMLElement>();
  const renderOthers = perFrame(() => {
    const others = scope.presence.others;
    const seen = new Set<string>();
    const selectedBy = new Map<string, PresencePeer<CanvasPresence>[]>();
    for (const peer of others) {
      const { state } = peer;
      if (typeof state.selection === 'string') {
        const list = selectedBy.get(state.selection) ?? [];
        list.push(peer);
        selectedBy.set(state.selection, list);
      }
      const at = state.cursor;
      if (!at || typeof at.x !== 'number' || typeof at.y !== 'number') continue;
      seen.add(peer.sessionId);
      let node = cursors.get(peer.sessionId);
      if (!node) {
        node = document.createElement('div');
        node.className = 'cursor';
        node.dataset.session = peer.sessionId;
        node.innerHTML =
          '<svg viewBox="0 0 16 16" aria-hidden="true"><path d="M1 1l5.5 14 2-6 6-2z"/></svg><span class="cursor-label"></span>';
        layer.append(node);
        cursors.set(peer.sessionId, node);
      }
      node.style.left = `${at.x}px`;
      node.style.top = `${at.y}px`;
      node.style.setProperty('--peer', peerColour(state));
      node.querySelector('.cursor-label')!.textContent = peerName(state);
    }
    for (const [id, node] of cursors) {
      if (seen.has(id)) continue;
      node.remove();
      cursors.delete(id);
    }
    for (const [s, node] of nodes) {
      const by = selectedBy.get(s.uuid);
      let label = node.querySelector<HTMLElement>('.selection-label');
      if (!by) {
        node.classList.remove('remote-selected');
        label?.remove();
        continue;
      }
      node.classList.add('remote-selected');
      node.style.setProperty('--peer', peerColour(by[0]!.state));
      if (!label) {
        label = document.createElement('span');
        label.className = 'selection-label';
        node.append(label);
      }
      label.textContent = by.map((p) => peerName(p.state)).join(', ');
    }
  });
  scope.presence.on('change', renderOthers);

  // This page's pointer, relative to the canvas; gone when it leaves the canvas.
  area.addEventListener('pointermove', (e) => {
    const box = area.getBoundingClientRect();
    scope.presence.update({
      cursor: { x: Math.round(e.clientX - box.left), y: Math.round(e.clientY - box.top) },
    });
  });
  area.addEventListener('pointerleave', () => scope.presence.update({ cursor: null }));
  $('#chat-name').addEventListener('input', () => scope.presence.update(identity()));

  $('#add-shape').addEventListener('click', () => {
    const size = 60 + Math.round(Math.random() * 40);
    // Somewhere in the part of the canvas in view (it may be scrolled).
    const s = new Shape({
      x: Math.round(viewport.scrollLeft + Math.random() * Math.max(0, viewport.clientWidth - size)),
      y: Math.round(viewport.scrollTop + Math.random() * Math.max(0, viewport.clientHeight - size)),
      width: size,
      height: size,
      type: Math.floor(Math.random() * COLOURS.length),
    }) as ShapeObj;
    root.shapes.push(s);
    selected = s;
    render();
  });
  $('#delete-shape').addEventListener('click', () => {
    if (selected) root.shapes.remove(selected);
    selected = null;
    render();
  });
  const palette = $('#palette');
  COLOURS.forEach((colour, i) => {
    const sw = document.createElement('button');
    sw.type = 'button';
    sw.className = 'swatch';
    sw.style.background = colour;
    sw.dataset.type = String(i);
    sw.title = `Colour ${i + 1}`;
    sw.addEventListener('click', () => {
      if (selected) selected.type = i;
    });
    palette.append(sw);
  });
  // A click (or tap) on the empty canvas deselects. Not on pointerdown: on a touch screen that
  // also starts a pan of the canvas, which should keep the selection. The press must have begun
  // on the canvas too: a drag released over empty canvas also ends in a click there.
  let pressedOnCanvas = false;
  area.addEventListener('pointerdown', (e) => {
    pressedOnCanvas = e.target === area;
  });
  area.addEventListener('click', (e) => {
    if (e.target === area && pressedOnCanvas) {
      selected = null;
      render();
    }
  });

  scope.on('change', render);
  scope.on('add', render);
  scope.on('remove', render);
  render();
}

// ---- chat room ----------------------------------------------------------------------------------

function setupChat(scope: ClientScope<RoomObj, ChatPresence>): void {
  const room = scope.root!;
  const nameInput = $<HTMLInputElement>('#chat-name');
  const textInput = $<HTMLInputElement>('#chat-text');
  const errorBox = $('#chat-error');
  nameInput.value = localStorage.getItem('jetstream-demo-name') ?? '';
  // Until the server defines ChatRoom.postMessage, messages are posted as plain changes.
  let useProcedure = true;
  // Who is online now: this page and every other page's presence in the room.
  scope.presence.set(identity());
  nameInput.addEventListener('input', () => scope.presence.set(identity()));

  const renderUsers = perFrame(() => {
    const me = identity();
    const online = [
      { sessionId: 'me', name: me.name, colour: COLOURS[me.color]! },
      ...scope.presence.others
        .map((p) => ({ sessionId: p.sessionId, name: peerName(p.state), colour: peerColour(p.state) }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    ];
    $('#users').replaceChildren(
      ...online.map((u) => {
        const li = document.createElement('li');
        li.dataset.session = u.sessionId;
        li.classList.toggle('me', u.sessionId === 'me');
        const dot = document.createElement('span');
        dot.className = 'dot';
        dot.style.background = u.colour;
        const name = document.createElement('span');
        name.className = 'name';
        name.textContent = u.name;
        li.append(dot, name);
        return li;
      }),
    );
  });
  scope.presence.on('change', renderUsers);
  nameInput.addEventListener('input', renderUsers);
  renderUsers();

  const render = perFrame(() => {
    $('#topic').textContent =
      `${room.name ?? 'Chat'}${room.attributes?.topic ? ` — ${room.attributes.topic}` : ''}`;
    const list = $('#messages');
    const messages = room.messages.toArray();
    // The placeholder stands in for the list while the room is empty.
    $('#chat-empty').hidden = messages.length > 0;
    list.hidden = messages.length === 0;
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.replaceChildren(
      ...messages.map((m) => {
        const li = document.createElement('li');
        li.className = 'message';
        li.dataset.uuid = m.uuid;
        const who = document.createElement('span');
        who.className = 'author';
        who.textContent = m.author?.username ?? '?';
        who.style.color = COLOURS[(m.author?.color ?? 0) % COLOURS.length]!;
        const time = document.createElement('time');
        time.textContent = m.postedAt
          ? m.postedAt.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
          : '';
        const text = document.createElement('span');
        text.className = 'text';
        text.textContent = m.text ?? '';
        li.append(who, text, time);
        return li;
      }),
    );
    if (atBottom) list.scrollTop = list.scrollHeight;
  });

  function me(name: string): UserObj {
    const existing = room.users.toArray().find((u) => u.username === name);
    if (existing) return existing;
    const user = new User({ username: name, color: colourOf(name), lastActive: new Date() }) as UserObj;
    // Joining is its own changeset: the postMessage procedure only accepts the message.
    void scope.transaction(() => room.users.push(user));
    return user;
  }

  async function post(text: string, author: UserObj): Promise<void> {
    const message = new Message({ author, postedAt: new Date(), text }) as MessageObj;
    const send = () =>
      scope.transaction(
        () => room.messages.push(message),
        useProcedure ? { procedure: 'ChatRoom.postMessage' } : {},
      );
    let result = await send();
    if (!result.ok && useProcedure && /No such procedure/i.test(result.errors[0]?.message ?? '')) {
      useProcedure = false;
      result = await send();
    }
    errorBox.textContent = result.ok ? '' : `Not posted: ${result.errors[0]?.message ?? 'rejected'}`;
  }

  $('#chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = nameInput.value.trim();
    const text = textInput.value.trim();
    if (!name || !text) return;
    localStorage.setItem('jetstream-demo-name', name);
    textInput.value = '';
    void post(text, me(name));
  });

  scope.on('change', render);
  scope.on('add', render);
  scope.on('remove', render);
  render();
}

// ---- tabs and start-up --------------------------------------------------------------------------

function setupTabs(): void {
  const show = (view: string) => {
    for (const tab of Array.from(document.querySelectorAll<HTMLElement>('.tab'))) {
      tab.setAttribute('aria-selected', String(tab.dataset.view === view));
    }
    for (const v of Array.from(document.querySelectorAll<HTMLElement>('.view')))
      v.hidden = v.id !== `view-${view}`;
    history.replaceState(null, '', `#${view}`);
  };
  for (const tab of Array.from(document.querySelectorAll<HTMLElement>('.tab'))) {
    tab.addEventListener('click', () => show(tab.dataset.view!));
  }
  show(location.hash === '#chat' ? 'chat' : 'canvas');
}

async function main(): Promise<void> {
  setupTabs();
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
  const client = new Client(url);
  client.on('status', showStatus);
  showStatus(client.status);
  await client.ready;
  const [canvas, chat] = await Promise.all([
    client.fetch('Canvas', Canvas as never) as Promise<ClientScope<CanvasObj, CanvasPresence>>,
    client.fetch('ChatRoom', ChatRoom as never) as Promise<ClientScope<RoomObj, ChatPresence>>,
  ]);
  setupCanvas(canvas);
  setupChat(chat);
  document.body.dataset.ready = 'true';
  (window as unknown as { jetstream: unknown }).jetstream = { client, canvas, chat };
}

main().catch((err) => {
  $('#status').textContent = `Error: ${(err as Error).message}`;
  console.error(err);
});
