// Shared fixtures for the procedure tests: a real HTTP server on loopback that records what it
// receives, fresh chat models (the original's test models) and a populated chat room.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { enumeration, type ModelClass, type ModelObject, model } from '../../src/model/index.js';
import { ChangesetPipeline, type ChangesetRequest } from '../../src/pipeline/index.js';
import { ProcedureRunner } from '../../src/procedures/index.js';
import { Scope } from '../../src/scope/index.js';
import type { AppliedFragment, ChangeContext } from '../../src/scope/types.js';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The raw body text. */
  text: string;
  /** The parsed JSON body, or undefined when there was none. */
  body: unknown;
  receivedAt: number;
}

export interface TestServer {
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export type Handler = (req: RecordedRequest, res: ServerResponse) => void;

/** Answers `status` with `payload` as JSON (a string payload is sent as is). */
export function respond(res: ServerResponse, status: number, payload: unknown, delayMs = 0): void {
  const send = () => {
    if (res.destroyed) return;
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(typeof payload === 'string' ? payload : JSON.stringify(payload));
  };
  if (delayMs > 0) setTimeout(send, delayMs);
  else send();
}

/** A node:http server on 127.0.0.1, port 0. The default handler answers 200 `{}`. */
export function startServer(handler: Handler = (_req, res) => respond(res, 200, {})): Promise<TestServer> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const rec: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        text,
        body: text ? JSON.parse(text) : undefined,
        receivedAt: Date.now(),
      };
      requests.push(rec);
      handler(rec, res);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        requests,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Headers fetch adds by itself, left out when comparing a request's headers exactly. */
const TRANSPORT_HEADERS = new Set([
  'host',
  'connection',
  'accept',
  'accept-language',
  'accept-encoding',
  'sec-fetch-mode',
  'user-agent',
  'content-length',
  'transfer-encoding',
]);

/** The headers the procedure chose to send (names lower-cased by node:http). */
export function procedureHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (!TRANSPORT_HEADERS.has(k)) out[k] = String(v);
  return out;
}

export interface ChatModels {
  ChatRoomStatus: ReturnType<typeof makeStatus>;
  User: ModelClass;
  Message: ModelClass;
  ChatRoomAttributes: ModelClass;
  ChatRoom: ModelClass;
}

function makeStatus() {
  return enumeration('ChatRoomStatus', Number, { Open: 0, Closed: 1 });
}

/** Fresh classes shaped like the original chat demo's (procedures are per class). */
export function makeChatModels(): ChatModels {
  const ChatRoomStatus = makeStatus();
  const User = model('User', function () {
    this.has('username', String);
    this.has('color', Number);
    this.has('lastActive', Date);
  });
  const Message = model('Message', function () {
    this.has('author', User);
    this.has('postedAt', Date);
    this.has('text', String);
  });
  const ChatRoomAttributes = model('ChatRoomAttributes', function () {
    this.has('status', ChatRoomStatus);
    this.has('topic', String);
    this.has('tintColor', Number);
    this.has('locale', String);
  });
  const ChatRoom = model('ChatRoom', function () {
    this.has('name', String);
    this.has('attributes', ChatRoomAttributes);
    this.has('users', [User]);
    this.has('messages', [Message]);
  });
  return { ChatRoomStatus, User, Message, ChatRoomAttributes, ChatRoom };
}

// biome-ignore lint/suspicious/noExplicitAny: fixtures read model properties dynamically
export type Obj = ModelObject & Record<string, any>;

export interface ChatFixture {
  scope: Scope;
  room: Obj;
  users: Obj[];
  messages: Obj[];
  accessToken: string;
  /** Every 'changes' event of the scope, in order. */
  changes: { fragments: AppliedFragment[]; context: ChangeContext }[];
}

let counter = 0;

/** A room with two users, one message by the first, attributes {Open, en_US}, in a new scope. */
export function createChatRoom(
  m: Pick<ChatModels, 'User' | 'Message' | 'ChatRoomAttributes' | 'ChatRoom'>,
  extraParams: Record<string, unknown> = {},
): ChatFixture {
  const users = [0, 1].map((i) => {
    const u = new m.User() as Obj;
    u.username = `chatmonster${++counter}`;
    u.color = i;
    u.lastActive = new Date(1_700_000_000_000 + i * 1000);
    return u;
  });
  const attributes = new m.ChatRoomAttributes() as Obj;
  attributes.status = 0;
  attributes.topic = 'This is a test chat room';
  attributes.locale = 'en_US';
  const message = new m.Message() as Obj;
  message.author = users[0];
  message.postedAt = new Date(1_700_000_100_000);
  message.text = 'Rarr';
  const room = new m.ChatRoom() as Obj;
  room.name = 'TestChatRoom';
  room.attributes = attributes;
  room.users = users;
  room.messages = [message];
  const accessToken = `token-${counter}`;
  const scope = new Scope({ name: 'TestScope', params: { accessToken, ...extraParams } });
  scope.setRoot(room);
  const changes: ChatFixture['changes'] = [];
  scope.on('changes', (fragments, context) => {
    changes.push({ fragments, context });
  });
  return { scope, room, users, messages: [message], accessToken, changes };
}

/** Logged warnings, captured instead of printed. */
export const warnings: { details: Record<string, unknown>; message: string }[] = [];
const logger = {
  debug() {},
  info() {},
  warn(details: unknown, message?: string) {
    warnings.push({ details: details as Record<string, unknown>, message: message ?? '' });
  },
  error(details: unknown, message?: string) {
    warnings.push({ details: details as Record<string, unknown>, message: message ?? '' });
  },
};

/** The server's changeset pipeline with the procedures plugged in, as the server builds it. */
export const pipeline = new ChangesetPipeline({ procedures: new ProcedureRunner(logger), logger });

/** Submits a changeset to the pipeline (strictly ordered per scope, procedures run first). */
export function applySync(scope: Scope, req: ChangesetRequest) {
  return pipeline.submit(scope, req);
}

/** True while a changeset to `scope` waits or is in flight in the pipeline. */
export function isScopeBusy(scope: Scope): boolean {
  return pipeline.isBusy(scope);
}
