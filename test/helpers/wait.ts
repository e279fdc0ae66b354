// The one polling helper of the tests: call a check every `interval` ms until it returns a value,
// bounded by `timeout`. For waiting on something that has no event to listen to (a server-side
// state, a database row, a process coming up). A TestClient's own waitFor (messages) is
// event-driven and needs none of this.

export interface WaitOptions {
  /** Upper bound in ms (a failing test, never a timing assertion). Default 5000. */
  timeout?: number;
  /** Pause between two checks, in ms. Default 5. */
  interval?: number;
  /** What is awaited, for the error message: text, or a function called when the time is up. */
  message?: string | (() => string);
}

/** Anything but these counts as "ready": 0 and '' are values. */
type NotReady = undefined | null | false;

const TIMED_OUT = Symbol('timed out');

/**
 * Calls `check` (sync or async; never two calls at once) until it returns something other than
 * undefined, null or false, and resolves with that. Rejects with "waitFor: timed out after N ms
 * waiting for <message>" once `timeout` ms have passed (the check runs once more at the deadline,
 * so a stalled event loop does not fail a condition that holds), also when one call of an async
 * `check` never settles. An exception thrown by `check` rejects at once: a failure, not a "not yet".
 */
export async function waitFor<T>(
  check: () => T | PromiseLike<T>,
  options: WaitOptions = {},
): Promise<Exclude<T, NotReady>> {
  const timeout = options.timeout ?? 5_000;
  const interval = options.interval ?? 5;
  const started = Date.now();
  const deadline = started + timeout;
  const fail = () => {
    const what = typeof options.message === 'function' ? options.message() : options.message;
    return new Error(
      `waitFor: timed out after ${Date.now() - started} ms waiting for ${what ?? 'the condition'}`,
    );
  };
  for (;;) {
    const v = await bounded(check(), deadline);
    if (v === TIMED_OUT) throw fail();
    if (v !== undefined && v !== null && v !== false) return v as Exclude<T, NotReady>;
    const left = deadline - Date.now();
    if (left <= 0) throw fail();
    await new Promise((resolve) => setTimeout(resolve, Math.min(interval, left)));
  }
}

/** `value` itself, or TIMED_OUT when it is a promise still pending at `deadline` (a sync value never times out). */
async function bounded<T>(value: T | PromiseLike<T>, deadline: number): Promise<T | typeof TIMED_OUT> {
  if (!isPromiseLike(value)) return value;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([value, late]);
  } finally {
    clearTimeout(timer);
  }
}

function isPromiseLike<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}
