// The client codec stays TypeBox-free (the browser bundle's size depends on it), and its
// hand-written envelope checks accept exactly what the server → client schemas accept.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { build } from 'esbuild';
import { checkServerMessage } from '../../src/protocol/client-codec.js';
import {
  PingSchema,
  ScopeFetchReplySchema,
  ScopeStateSchema,
  ScopeSyncReplySchema,
  type ServerMessageType,
  ServerScopeSyncSchema,
  SessionCreateReplySchema,
} from '../../src/protocol/messages.js';
import { UUID_A } from './helpers.js';

const root = join(__dirname, '..', '..');

describe('client bundle', () => {
  test('the client SDK module graph has no TypeBox', async () => {
    const result = await build({
      absWorkingDir: root,
      entryPoints: ['src/client/index.ts'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    // Guards against a vacuous pass: the graph must be the one that decodes server frames.
    assert.ok(inputs.includes('src/protocol/client-codec.ts'), inputs.join('\n'));
    assert.deepEqual(
      inputs.filter((p) => p.includes('@sinclair/typebox')),
      [],
    );
    // messages.ts builds the schemas at load: importing it at runtime is how TypeBox comes back.
    assert.deepEqual(
      inputs.filter((p) => p.endsWith('src/protocol/messages.ts')),
      [],
    );
  });
});

const schemas: Record<ServerMessageType, TSchema> = {
  SessionCreateReply: SessionCreateReplySchema,
  ScopeFetchReply: ScopeFetchReplySchema,
  ScopeState: ScopeStateSchema,
  ScopeSync: ServerScopeSyncSchema,
  ScopeSyncReply: ScopeSyncReplySchema,
  Ping: PingSchema,
};

const bases: Record<ServerMessageType, Record<string, unknown>> = {
  SessionCreateReply: { type: 'SessionCreateReply', index: 0, sessionToken: 't', error: { message: 'm' } },
  ScopeFetchReply: { type: 'ScopeFetchReply', index: 1, replyTo: 1, scopeIndex: 0, error: { message: 'm' } },
  ScopeState: { type: 'ScopeState', index: 2, scopeIndex: 0, rootUUID: UUID_A, fragments: [] },
  ScopeSync: { type: 'ScopeSync', index: 3, scopeIndex: 0, fragments: [] },
  ScopeSyncReply: {
    type: 'ScopeSyncReply',
    index: 4,
    replyTo: 2,
    fragmentReplies: [{}, { error: { message: 'no', type: 'x' }, modifications: { a: 1 } }],
  },
  Ping: { type: 'Ping', index: 0, ack: 1, resendMissing: true },
};

const ABSENT = Symbol('absent');
const candidates: unknown[] = [
  ABSENT,
  undefined,
  null,
  -1,
  1.5,
  0,
  7,
  2 ** 53,
  Number.NaN,
  'x',
  true,
  [],
  {},
  { message: 'm' },
  { message: 'm', type: 't' },
  { message: 1 },
  { message: 'm', type: 2 },
  [{}],
  [null],
  [1],
  [[]],
  [{ error: { message: 'x' } }],
  [{ error: {} }],
  [{ error: [] }],
  [{ modifications: { a: 1 } }],
  [{ modifications: [] }],
  [{ modifications: null }],
];

function withField(base: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const out = { ...base };
  if (value === ABSENT) delete out[field];
  else out[field] = value;
  return out;
}

/** Hand-written check vs the schema: same verdict, and the same first field blamed. */
function compare(type: ServerMessageType, value: Record<string, unknown>): void {
  const schema = schemas[type];
  const failure = checkServerMessage(type, value);
  const label = JSON.stringify(value);
  assert.equal(failure === undefined, Value.Check(schema, value), `${type} ${label}: ${failure}`);
  if (failure === undefined) return;
  const first = Value.Errors(schema, value).First();
  assert.ok(first !== undefined);
  const slash = first.path.indexOf('/', 1);
  const field = first.path.slice(1, slash === -1 ? undefined : slash);
  const verb = value[field] === undefined ? 'Requires' : 'Invalid';
  assert.match(failure, new RegExp(`^${verb} ${field}\\b`), `${type} ${label}`);
}

describe('hand-written server message checks match the schemas', () => {
  for (const type of Object.keys(schemas) as ServerMessageType[]) {
    test(type, () => {
      const base = bases[type];
      compare(type, base);
      const fields = Object.keys(base).filter((f) => f !== 'type');
      for (const field of fields) {
        for (const value of candidates) compare(type, withField(base, field, value));
      }
      // Two wrong fields at once: the first one reported follows TypeBox's order (every
      // missing required field first, then fields in schema order).
      const few = [ABSENT, -1, 'x', [], { message: 1 }];
      for (const a of fields) {
        for (const b of fields) {
          if (a === b) continue;
          for (const va of few) {
            for (const vb of few) compare(type, withField(withField(base, a, va), b, vb));
          }
        }
      }
    });
  }

  test('a missing required field is reported before an earlier invalid one', () => {
    assert.equal(checkServerMessage('Ping', { type: 'Ping', index: -1 }), 'Requires ack');
    assert.equal(
      checkServerMessage('ScopeSyncReply', { type: 'ScopeSyncReply', index: 0, fragmentReplies: 3 }),
      'Requires replyTo',
    );
  });
});
