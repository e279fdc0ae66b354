// Calling application hooks. A hook may answer through a node-style callback or a returned
// promise (or both: the first answer wins). A hook that throws, rejects or never answers
// (within `timeout`) denies the request; it never crashes the process.
import { JetstreamError } from '../errors.js';

/** The outcome of a hook: accepted with a value, or denied with a reason. */
export type HookAnswer<T> = { ok: true; value: T | undefined } | { ok: false; error: unknown };

export function callHook<T>(
  invoke: (callback: (err?: unknown, value?: T) => void) => unknown,
  timeout: number,
): Promise<HookAnswer<T>> {
  return new Promise((resolve) => {
    let done = false;
    const timer = setTimeout(
      () => finish({ ok: false, error: new Error('The application did not answer in time') }),
      timeout,
    );
    timer.unref?.();
    function finish(answer: HookAnswer<T>): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(answer);
    }
    const callback = (err?: unknown, value?: T) => {
      if (err) finish({ ok: false, error: err });
      else finish({ ok: true, value });
    };
    try {
      const result = invoke(callback);
      if (result && typeof (result as Promise<T>).then === 'function') {
        (result as Promise<T>).then(
          (value) => finish({ ok: true, value }),
          (error) => finish({ ok: false, error: error ?? new Error('Denied') }),
        );
      }
    } catch (error) {
      finish({ ok: false, error });
    }
  });
}

/**
 * A short, client-safe message for a denial reason. The application's own denials reach the
 * client: a string, a plain `Error`, a JetstreamError, or any error marked `expose: true`. A
 * TypeError, RangeError or other built-in failure is a bug in a hook, and its message may hold
 * internal details (docs/protocol.md §8, §11: no internals on the wire): the client gets `fallback`.
 */
export function reasonMessage(error: unknown, fallback: string): string {
  if (typeof error === 'string' && error) return error;
  if (error instanceof Error && error.message && isIntended(error)) return error.message;
  return fallback;
}

function isIntended(error: Error): boolean {
  if ((error as { expose?: unknown }).expose === true) return true;
  if (error instanceof JetstreamError) return true;
  const proto = Object.getPrototypeOf(error);
  // new Error(...) or an application's own subclass; not the engine's built-in error types.
  return proto === Error.prototype || !BUILTIN.has(proto);
}

const BUILTIN = new Set<object>([
  TypeError.prototype,
  RangeError.prototype,
  ReferenceError.prototype,
  SyntaxError.prototype,
  EvalError.prototype,
  URIError.prototype,
  AggregateError.prototype,
]);
