// The error catalogue: one stable code per failure, all in src/errors.ts, each documented in
// docs/errors.md, and each error class carrying its code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { JetstreamClientError } from '../src/client/client.js';
import {
  DefinitionError,
  ErrorCode,
  ErrorType,
  JetstreamError,
  QueryError,
  ScopeError,
  SyncError,
  ValidationError,
} from '../src/errors.js';
import { ExpressionError } from '../src/procedures/expression.js';
import { DownstreamError } from '../src/procedures/http.js';
import { StoreConflictError, StoreError } from '../src/store/errors.js';

const docs = readFileSync(join(__dirname, '..', 'docs', 'errors.md'), 'utf8');

describe('error codes', () => {
  test('every code is unique, JS_ERR_-prefixed and documented in docs/errors.md', () => {
    const codes = Object.values(ErrorCode);
    assert.equal(new Set(codes).size, codes.length);
    for (const code of codes) {
      assert.match(code, /^JS_ERR_[A-Z_]+$/);
      assert.ok(docs.includes(`| \`${code}\` |`), `${code} is in the table of docs/errors.md`);
    }
    const documented = [...docs.matchAll(/\| `(JS_ERR_[A-Z_]+)` \|/g)].map((m) => m[1]);
    assert.deepEqual(documented.sort(), [...codes].sort(), 'the table lists exactly the codes');
  });

  test('every wire type is documented', () => {
    for (const type of Object.values(ErrorType)) assert.ok(docs.includes(`| \`${type}\` |`), type);
  });

  test('each error class carries its own code and wire type', () => {
    const cases: [JetstreamError, string, string | undefined][] = [
      [new DefinitionError('x'), ErrorCode.DEFINITION, undefined],
      [new ValidationError('x'), ErrorCode.INVALID_VALUE, ErrorType.invalidFragment],
      [new ScopeError('x'), ErrorCode.SCOPE, undefined],
      [new ScopeError('x', ErrorCode.NO_ROOT), ErrorCode.NO_ROOT, undefined],
      [new QueryError('x'), ErrorCode.QUERY, undefined],
      [new SyncError('x'), ErrorCode.SYNC, ErrorType.couldNotApplySyncMessage],
      [
        new SyncError('x', ErrorCode.PROCEDURE_NOT_FOUND),
        ErrorCode.PROCEDURE_NOT_FOUND,
        ErrorType.couldNotApplySyncMessage,
      ],
      [
        new DownstreamError('x', {}, ErrorCode.DOWNSTREAM_TIMEOUT),
        ErrorCode.DOWNSTREAM_TIMEOUT,
        ErrorType.couldNotApplySyncMessage,
      ],
      [new ExpressionError('$scope.x', 'y'), ErrorCode.EXPRESSION, undefined],
      [new StoreError('x'), ErrorCode.STORE, ErrorType.storeFailed],
      [new StoreConflictError('s', 2, 3), ErrorCode.STORE_CONFLICT, ErrorType.storeFailed],
      [
        new JetstreamClientError({ message: 'no', type: 'rejected' }, ErrorCode.CLIENT_SESSION_DENIED),
        ErrorCode.CLIENT_SESSION_DENIED,
        ErrorType.rejected,
      ],
    ];
    for (const [err, code, type] of cases) {
      assert.ok(err instanceof JetstreamError);
      assert.equal(err.code, code, err.name);
      assert.equal(err.type, type, err.name);
    }
  });

  test('what crosses the wire is {message, type} and never a detail of a downstream', () => {
    const err = new DownstreamError('Downstream service refused the connection', {
      url: 'http://10.0.0.1/x',
    });
    assert.deepEqual(err.toWire(), {
      message: 'Could not apply SyncMessage: Downstream service refused the connection',
      type: 'could-not-apply-sync-message',
    });
    assert.deepEqual(new StoreError('disk /var/x full').toWire(), {
      message: 'The change could not be stored',
      type: 'store-failed',
    });
  });
});
