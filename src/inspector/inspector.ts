// The inspector (docs/operations.md, "Inspector"): a read-only web page on the server's port that
// shows what the server holds — live scopes, sessions, one scope's object tree, and the latest
// changesets with their accepted and rejected fragments. Everything behind `/inspect` needs the
// admin token, as `?token=` (the URL printed at start-up) or `Authorization: Bearer`; without it
// every path answers 401 with no data. Nothing here can change a scope or a session.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WireError } from '../errors.js';
import type { ChangesetReport } from '../server/events.js';
import type { Server } from '../server/server.js';
import type { Session } from '../server/session.js';
import { INSPECTOR_PAGE } from './page.js';

export interface InspectorOptions {
  /** The admin token. Default: `JETSTREAM_ADMIN_TOKEN`, else a random one (see `token`). */
  token?: string;
  /** Changesets kept for the page. Default 50. */
  recent?: number;
  /** Objects of one scope sent to the tree browser at most. Default 5,000. */
  maxObjects?: number;
}

/** One changeset as the page lists it. */
interface RecentChangeset {
  at: number;
  scope: string;
  session: string;
  procedure?: string;
  atomic: boolean;
  fragments: { type: string; clsName: string; uuid: string; error?: WireError }[];
}

const PREFIX = '/inspect';

export class Inspector {
  /** The token every request must carry. */
  readonly token: string;
  readonly #server: Server;
  readonly #recent: RecentChangeset[] = [];
  readonly #keep: number;
  readonly #maxObjects: number;
  readonly #onChangeset = (report: ChangesetReport) => this.#record(report);

  constructor(server: Server, options: InspectorOptions = {}) {
    const token = options.token ?? process.env.JETSTREAM_ADMIN_TOKEN ?? randomBytes(18).toString('base64url');
    if (token.length < 16) throw new TypeError('The inspector token must be at least 16 characters long');
    this.token = token;
    this.#server = server;
    this.#keep = options.recent ?? 50;
    this.#maxObjects = options.maxObjects ?? 5000;
    server.on('changeset', this.#onChangeset);
  }

  /** The page's address on `base` (e.g. `http://localhost:3000`), token included: print it. */
  url(base: string): string {
    return `${base}${PREFIX}?token=${encodeURIComponent(this.token)}`;
  }

  /** Stops recording changesets. */
  close(): void {
    this.#server.off('changeset', this.#onChangeset);
  }

  /** Answers a request under `/inspect`; returns false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://inspector');
    if (url.pathname !== PREFIX && !url.pathname.startsWith(`${PREFIX}/`)) return false;
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'content-security-policy':
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
      });
      res.end(body);
    };
    if (req.method !== 'GET') {
      send(405, 'text/plain; charset=utf-8', 'The inspector is read-only\n');
      return true;
    }
    if (!this.#authorized(req, url)) {
      send(
        401,
        'text/plain; charset=utf-8',
        'The inspector needs its admin token: ?token=… or Authorization: Bearer …\n',
      );
      return true;
    }
    const json = (body: unknown) => send(200, 'application/json', JSON.stringify(body));
    switch (url.pathname) {
      case PREFIX:
      case `${PREFIX}/`:
        send(200, 'text/html; charset=utf-8', INSPECTOR_PAGE);
        break;
      case `${PREFIX}/api/overview`:
        json(this.overview());
        break;
      case `${PREFIX}/api/scope`: {
        const body = this.scope(url.searchParams.get('name') ?? '');
        if (body === null) send(404, 'application/json', JSON.stringify({ error: 'No such scope' }));
        else json(body);
        break;
      }
      default:
        send(404, 'text/plain; charset=utf-8', 'Not found\n');
    }
    return true;
  }

  #authorized(req: IncomingMessage, url: URL): boolean {
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('token');
    if (!given) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  #record(report: ChangesetReport): void {
    this.#recent.push({
      at: report.at,
      scope: report.scope.name,
      session: report.session.id, // never the token: a secret
      ...(report.procedure === undefined ? {} : { procedure: report.procedure }),
      atomic: report.atomic,
      fragments: report.fragments.map((f, i) => {
        const error = report.results[i];
        return { type: f.type, clsName: f.clsName, uuid: f.uuid, ...(error ? { error } : {}) };
      }),
    });
    if (this.#recent.length > this.#keep) this.#recent.shift();
  }

  /** Scopes, sessions and the latest changesets (newest first). */
  overview() {
    const now = Date.now();
    const sessions = this.#server.sessions.map((s: Session) => {
      return {
        id: s.id,
        address: s.connection?.remoteAddress ?? null,
        connected: s.connection !== null,
        version: s.version,
        scopes: s.scopes.map((scope) => scope.name),
        unacknowledged: s.unacknowledged,
        pendingBytes: s.pendingBytes,
        ageSeconds: Math.round((now - s.createdAt) / 1000),
        lastAckSecondsAgo: s.lastAckAt === null ? null : Math.round((now - s.lastAckAt) / 1000),
      };
    });
    const holders = new Map<string, number>();
    for (const s of sessions) for (const name of s.scopes) holders.set(name, (holders.get(name) ?? 0) + 1);
    const scopes = this.#server.scopes.map((scope) => ({
      name: scope.name,
      version: scope.version,
      objects: scope.size,
      sessions: holders.get(scope.name) ?? 0,
      unstored: this.#server.unstored(scope),
    }));
    return { at: now, scopes, sessions, changesets: [...this.#recent].reverse() };
  }

  /** One scope's objects (root first), for the tree browser; null when not loaded here. */
  scope(name: string) {
    const scope = this.#server.scopes.find((s) => s.name === name);
    if (scope === undefined || scope.root === null) return null;
    const state = scope.getState();
    const objects = state.fragments.slice(0, this.#maxObjects).map((f) => ({
      uuid: f.uuid,
      clsName: f.clsName,
      properties: f.properties,
    }));
    return {
      name,
      version: scope.version,
      rootUUID: state.rootUUID,
      objects,
      truncated: state.fragments.length > objects.length,
    };
  }
}
