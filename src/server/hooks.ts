// Calling application hooks. A hook may answer through a node-style callback or a returned
// promise (or both: the first answer wins). A hook that throws, rejects or never answers
// (within `timeout`) denies the request; it never crashes the process.

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

/** A short, client-safe message for a denial reason. */
export function reasonMessage(error: unknown, fallback: string): string {
  if (typeof error === 'string' && error) return error;
  if (error instanceof Error && error.message) return error.message;
  return fallback;
}
