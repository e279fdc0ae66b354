// The remote `http` procedure (docs/protocol.md §9): before a changeset is applied, call a
// downstream HTTP service with a request bound from expressions; a non-success answer rejects
// the changeset, a successful one may carry `_updates` to apply after it.
//
// Downstream contract:
//   request   method (default GET), url with `:name` placeholders replaced by URL-encoded
//             params, headers (`Content-Type: application/json` unless overridden), and the
//             bound `body` as JSON when there is one.
//   response  a status in successStatusCodes (default [200]); an empty body or a JSON object,
//             optionally with `_updates: [{query?, update, options?}]`.
//   failures  timeout (default 10 s), transport errors, other statuses, non-JSON or malformed
//             bodies: each is a SyncError whose message names the failure, not the downstream
//             address (that goes to the procedure logger).
import { DefinitionError, ErrorCode, SyncError } from '../errors.js';
import type { Scope } from '../scope/scope.js';
import type { Fragment } from '../scope/types.js';
import { bindValues, type ExpressionContext } from './expression.js';
import type { ProcedureResult, ProcedureUpdate, RemoteProcedure, RemoteTypeOptions } from './types.js';

export const HTTP_METHODS = ['GET', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** `remote` of a procedure with `type: 'http'`. Values in params/headers/body may be `expr(…)`. */
export interface HttpRemoteOptions {
  type: 'http';
  /** `http://host/room/:roomUUID`: every `:name` must have a key in `params`. */
  url: string;
  /** Case-insensitive; default GET. */
  method?: HttpMethod | Lowercase<HttpMethod> | (string & {});
  params?: Record<string, unknown>;
  headers?: Record<string, unknown>;
  /** Sent as JSON; nested objects and arrays may hold expressions. Not allowed with GET/HEAD. */
  body?: Record<string, unknown> | unknown[];
  /** Milliseconds; default 10 000. */
  timeout?: number;
  /** Default [200]. */
  successStatusCodes?: number[];
  /** Default `_updates`. */
  updatesResponseKey?: string;
  /** Lookup tables for `$case.<name>(…)`. */
  cases?: Record<string, Record<string, unknown>>;
  /** The fetch implementation; default Node's global `fetch`. */
  fetch?: typeof fetch;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

type DownstreamErrorCode =
  | typeof ErrorCode.DOWNSTREAM_STATUS
  | typeof ErrorCode.DOWNSTREAM_TIMEOUT
  | typeof ErrorCode.DOWNSTREAM_REFUSED
  | typeof ErrorCode.DOWNSTREAM_REQUEST
  | typeof ErrorCode.DOWNSTREAM_RESPONSE;

/** A downstream failure; `details` (address, status) is for logs, never for the wire. */
export class DownstreamError extends SyncError {
  constructor(
    message: string,
    readonly details: Record<string, unknown>,
    code: DownstreamErrorCode = ErrorCode.DOWNSTREAM_REQUEST,
  ) {
    super(message, code);
    this.name = 'DownstreamError';
  }
}

const PLACEHOLDER = /:([A-Za-z_][A-Za-z0-9_]*)/g;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A function given as `fetch` is used as one (what it answers is checked like any response). */
function isFetch(v: unknown): v is typeof fetch {
  return typeof v === 'function';
}

export class RemoteHttpProcedure implements RemoteProcedure {
  readonly name: string;
  readonly url: string;
  readonly method: HttpMethod;
  readonly params: Record<string, unknown>;
  readonly headers: Record<string, unknown>;
  readonly body: Record<string, unknown> | unknown[] | undefined;
  readonly timeout: number;
  readonly successStatusCodes: readonly number[];
  readonly updatesResponseKey: string;
  /** Lookup tables for `$case.<name>(…)`; each table is checked where `$case` reads it. */
  readonly cases: Readonly<Record<string, unknown>> | undefined;
  readonly #fetch: typeof fetch | undefined;
  /** scheme://authority, never templated (so `:8080` is a port, not a placeholder). */
  readonly #origin: string;
  readonly #pathTemplate: string;

  constructor(options: RemoteTypeOptions) {
    const name = options.name;
    // Application code passes the options, unchecked at run time: every field is checked here.
    const remote: { readonly [K in keyof HttpRemoteOptions]?: unknown } = options.remote;
    const fail = (reason: string) => new DefinitionError(`Procedure '${name}': ${reason}`);
    this.name = name;

    if (typeof remote.url !== 'string' || remote.url.length === 0) throw fail('remote http requires url');
    this.url = remote.url;
    const scheme = remote.url.indexOf('://');
    const pathStart = scheme < 0 ? 0 : remote.url.indexOf('/', scheme + 3);
    this.#origin = pathStart < 0 ? remote.url : remote.url.slice(0, pathStart);
    this.#pathTemplate = pathStart < 0 ? '' : remote.url.slice(pathStart);

    const method = remote.method ?? 'GET';
    if (typeof method !== 'string') throw fail('method is required to be a string');
    const upper = method.toUpperCase() as HttpMethod;
    if (!HTTP_METHODS.includes(upper))
      throw fail(`method is not valid, should be one of: ${HTTP_METHODS.join(', ')}`);
    this.method = upper;

    const objectOption = (key: 'params' | 'headers' | 'cases'): Record<string, unknown> | undefined => {
      const value = remote[key];
      if (value !== undefined && !isPlainObject(value))
        throw fail(`${key} are required to be passed by object`);
      return value;
    };
    const params = objectOption('params');
    const headers = objectOption('headers');
    this.cases = objectOption('cases');
    this.params = params ?? {};
    this.headers = headers ?? {};

    const missing: string[] = [];
    for (const m of this.#pathTemplate.matchAll(PLACEHOLDER)) {
      if (!Object.hasOwn(this.params, m[1]!)) missing.push(m[1]!);
    }
    if (missing.length)
      throw fail(`Params is missing some required keys: ${missing.map((k) => `'${k}'`).join(', ')}`);

    const body = remote.body;
    if (body !== undefined && body !== null) {
      if (!Array.isArray(body) && !isPlainObject(body))
        throw fail('body is required to be passed by object or array');
      if (upper === 'GET' || upper === 'HEAD') throw fail(`a ${upper} request cannot have a body`);
      this.body = body;
    }

    const timeout = remote.timeout ?? DEFAULT_TIMEOUT_MS;
    if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout <= 0)
      throw fail('timeout is required to be milliseconds as positive integer');
    this.timeout = timeout;

    const codes = remote.successStatusCodes ?? [200];
    if (
      !Array.isArray(codes) ||
      codes.length === 0 ||
      !codes.every((c) => Number.isInteger(c) && c >= 100 && c <= 599)
    ) {
      throw fail('successStatusCodes is required to be a non-empty array of HTTP status codes');
    }
    this.successStatusCodes = codes.slice();

    const key = remote.updatesResponseKey ?? '_updates';
    if (typeof key !== 'string' || key.length === 0)
      throw fail('updatesResponseKey is required to be a string');
    this.updatesResponseKey = key;

    const fetchOption = remote.fetch;
    if (fetchOption !== undefined && !isFetch(fetchOption)) throw fail('fetch is required to be a function');
    this.#fetch = fetchOption;
  }

  /**
   * Binds the request against the scope's current state (synchronously, before anything
   * awaits), then calls the downstream service.
   */
  execute(scope: Scope, fragments: readonly Fragment[]): Promise<ProcedureResult> {
    let request: { url: string; init: RequestInit };
    try {
      request = this.buildRequest({ scope, fragments, cases: this.cases });
    } catch (e) {
      return Promise.reject(
        new SyncError(
          `Could not bind the request of procedure '${this.name}': ${(e as Error).message}`,
          ErrorCode.PROCEDURE_BINDING,
        ),
      );
    }
    return this.#send(request.url, request.init);
  }

  /** The URL and fetch options this procedure would send for `ctx`; throws if a binding fails. */
  buildRequest(ctx: ExpressionContext): {
    url: string;
    init: RequestInit & { headers: Record<string, string> };
  } {
    const params = bindValues(this.params, ctx) as Record<string, unknown>;
    const path = this.#pathTemplate.replace(PLACEHOLDER, (_m, key: string) => {
      const v = params[key];
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        throw new Error(
          `URL parameter ':${key}' is ${v === null ? 'null' : typeof v}, expected a string or number`,
        );
      }
      return encodeURIComponent(String(v));
    });
    const bound = bindValues(this.headers, ctx) as Record<string, unknown>;
    const headers: Record<string, string> = {};
    if (!Object.keys(bound).some((k) => k.toLowerCase() === 'content-type'))
      headers['Content-Type'] = 'application/json';
    for (const k of Object.keys(bound)) {
      const v = bound[k];
      if (v === null || v === undefined) continue;
      headers[k] = typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
    const init: RequestInit & { headers: Record<string, string> } = { method: this.method, headers };
    if (this.body !== undefined) init.body = JSON.stringify(bindValues(this.body, ctx));
    return { url: this.#origin + path, init };
  }

  async #send(url: string, init: RequestInit): Promise<ProcedureResult> {
    const details: Record<string, unknown> = { procedure: this.name, method: this.method, url };
    const failure = (code: DownstreamErrorCode, message: string, extra?: Record<string, unknown>) =>
      new DownstreamError(message, { ...details, ...extra }, code);
    const doFetch = this.#fetch ?? fetch;
    let status: number;
    let text: string;
    try {
      const response = await doFetch(url, { ...init, signal: AbortSignal.timeout(this.timeout) });
      status = response.status;
      if (!this.successStatusCodes.includes(status)) {
        await response.body?.cancel().catch(() => {});
        throw failure(
          ErrorCode.DOWNSTREAM_STATUS,
          `Expected response ${this.successStatusCodes.join(', ')} status code, received ${status} status code`,
          { status },
        );
      }
      text = await response.text();
    } catch (e) {
      if (e instanceof DownstreamError) throw e;
      const name = (e as Error)?.name;
      if (name === 'TimeoutError' || name === 'AbortError') {
        throw failure(
          ErrorCode.DOWNSTREAM_TIMEOUT,
          `Downstream service did not answer within ${this.timeout} ms`,
        );
      }
      const code = errorCode(e);
      if (code === 'ECONNREFUSED')
        throw failure(ErrorCode.DOWNSTREAM_REFUSED, 'Downstream service refused the connection', { code });
      throw failure(ErrorCode.DOWNSTREAM_REQUEST, `Downstream request failed${code ? ` (${code})` : ''}`, {
        code,
        error: (e as Error)?.message,
        cause: ((e as Error)?.cause as Error | undefined)?.message,
      });
    }
    return {
      updates: this.#parse(text, (m) =>
        failure(ErrorCode.DOWNSTREAM_RESPONSE, m, { status, body: text.slice(0, 200) }),
      ),
    };
  }

  #parse(text: string, failure: (message: string) => Error): ProcedureUpdate[] {
    if (text.trim() === '') return [];
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw failure('Downstream response is not JSON');
    }
    if (!isPlainObject(body)) {
      throw failure(
        `Downstream response is malformed: expected a JSON object, got ${Array.isArray(body) ? 'an array' : String(body === null ? 'null' : typeof body)}`,
      );
    }
    const key = this.updatesResponseKey;
    const updates = Object.hasOwn(body, key) ? body[key] : undefined;
    if (updates === undefined || updates === null) return [];
    if (!Array.isArray(updates)) throw failure(`Downstream response '${key}' is not an array`);
    for (let i = 0; i < updates.length; i++) {
      const u = updates[i] as Record<string, unknown>;
      const where = `${key}[${i}]`;
      if (!isPlainObject(u)) throw failure(`Downstream response is malformed: '${where}' is not an object`);
      if (!isPlainObject(u.update))
        throw failure(`Downstream response is malformed: '${where}.update' is not an object`);
      if (u.query !== undefined && u.query !== null && !isPlainObject(u.query)) {
        throw failure(`Downstream response is malformed: '${where}.query' is not an object`);
      }
      if (u.options !== undefined && u.options !== null && !isPlainObject(u.options)) {
        throw failure(`Downstream response is malformed: '${where}.options' is not an object`);
      }
    }
    return updates as ProcedureUpdate[];
  }
}

/** The system error code behind a fetch failure (`ECONNREFUSED`, `ENOTFOUND`, …), if any. */
function errorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 4 && cur && typeof cur === 'object'; depth++) {
    const c = cur as { code?: unknown; errors?: unknown[]; cause?: unknown };
    if (typeof c.code === 'string' && c.code.startsWith('E')) return c.code;
    if (Array.isArray(c.errors) && c.errors.length) {
      const inner = errorCode(c.errors[0]);
      if (inner) return inner;
    }
    cur = c.cause;
  }
  return undefined;
}
