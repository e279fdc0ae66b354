// The demo page: the shapes canvas and the chat room, on the Jetstream client SDK. Bundled by
// esbuild for the browser (see serve.ts); uses the same model module as the server.
import { Client, type ClientScope, type ModelObject, type SyncStatus } from '../../src/client/index.js';
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

function setupCanvas(scope: ClientScope<CanvasObj>): void {
  const root = scope.root!;
  const area = $('#canvas');
  const nodes = new Map<ShapeObj, HTMLElement>();
  let selected: ShapeObj | null = null;

  const render = perFrame(() => {
    const shapes = root.shapes.toArray();
    if (selected && !shapes.includes(selected)) selected = null;
    for (const [s, node] of nodes) {
      if (!shapes.includes(s)) {
        node.remove();
        nodes.delete(s);
      }
    }
    for (const s of shapes) {
      let node = nodes.get(s);
      if (!node) {
        node = document.createElement('div');
        node.className = 'shape';
        node.dataset.uuid = s.uuid;
        makeDraggable(node, s);
        nodes.set(s, node);
      }
      if (node.parentElement !== area || node !== area.lastElementChild) area.append(node); // z-order = list order
      node.style.left = `${s.x ?? 0}px`;
      node.style.top = `${s.y ?? 0}px`;
      node.style.width = `${s.width ?? 80}px`;
      node.style.height = `${s.height ?? 80}px`;
      node.style.background = COLOURS[(s.type ?? 0) % COLOURS.length]!;
      node.dataset.x = String(s.x);
      node.dataset.y = String(s.y);
      node.classList.toggle('selected', s === selected);
    }
    ($('#delete-shape') as HTMLButtonElement).disabled = selected === null;
    for (const sw of Array.from(document.querySelectorAll<HTMLElement>('.swatch'))) {
      sw.setAttribute(
        'aria-pressed',
        String(selected !== null && Number(sw.dataset.type) === (selected.type ?? 0)),
      );
    }
  });

  function makeDraggable(node: HTMLElement, s: ShapeObj): void {
    let start: { px: number; py: number; x: number; y: number } | null = null;
    let next: { x: number; y: number } | null = null;
    const apply = perFrame(() => {
      if (next && s.scope) {
        s.x = next.x;
        s.y = next.y;
      }
    });
    node.addEventListener('pointerdown', (e) => {
      selected = s;
      start = { px: e.clientX, py: e.clientY, x: s.x ?? 0, y: s.y ?? 0 };
      node.setPointerCapture(e.pointerId);
      node.classList.add('dragging');
      render();
    });
    node.addEventListener('pointermove', (e) => {
      if (!start) return;
      const maxX = area.clientWidth - (s.width ?? 80);
      const maxY = area.clientHeight - (s.height ?? 80);
      next = {
        x: Math.round(Math.max(0, Math.min(maxX, start.x + e.clientX - start.px))),
        y: Math.round(Math.max(0, Math.min(maxY, start.y + e.clientY - start.py))),
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

  $('#add-shape').addEventListener('click', () => {
    const size = 60 + Math.round(Math.random() * 40);
    const s = new Shape({
      x: Math.round(Math.random() * Math.max(0, area.clientWidth - size)),
      y: Math.round(Math.random() * Math.max(0, area.clientHeight - size)),
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
  area.addEventListener('pointerdown', (e) => {
    if (e.target === area) {
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

function setupChat(scope: ClientScope<RoomObj>): void {
  const room = scope.root!;
  const nameInput = $<HTMLInputElement>('#chat-name');
  const textInput = $<HTMLInputElement>('#chat-text');
  const errorBox = $('#chat-error');
  nameInput.value = localStorage.getItem('jetstream-demo-name') ?? '';
  // Until the server defines ChatRoom.postMessage, messages are posted as plain changes.
  let useProcedure = true;

  const colourOf = (name: string) =>
    [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % COLOURS.length;

  const render = perFrame(() => {
    $('#topic').textContent =
      `${room.name ?? 'Chat'}${room.attributes?.topic ? ` — ${room.attributes.topic}` : ''}`;
    const users = $('#users');
    users.replaceChildren(
      ...room.users.toArray().map((u) => {
        const li = document.createElement('li');
        const dot = document.createElement('span');
        dot.className = 'dot';
        dot.style.background = COLOURS[(u.color ?? 0) % COLOURS.length]!;
        li.append(dot, u.username ?? '?');
        return li;
      }),
    );
    const list = $('#messages');
    const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
    list.replaceChildren(
      ...room.messages.toArray().map((m) => {
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
    client.fetch('Canvas', Canvas as never) as Promise<ClientScope<CanvasObj>>,
    client.fetch('ChatRoom', ChatRoom as never) as Promise<ClientScope<RoomObj>>,
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
