// A progress line on a terminal, for the CLI's long transfers: nothing when the stream is not a
// TTY (a pipe or a log file gets no carriage-return noise).
import type { Writable } from 'node:stream';

export interface Progress {
  /** `done` of `total` units are through. */
  update(done: number): void;
  /** Clears the line. */
  end(): void;
}

/** A progress bar on `out` when it is a terminal, redrawn at most every 100 ms; else a no-op. */
export function progress(
  out: Writable & { isTTY?: boolean },
  label: string,
  total: number,
  unit: string,
): Progress {
  if (!out.isTTY || total <= 0) return { update() {}, end() {} };
  let last = 0;
  const draw = (done: number) => {
    const share = Math.min(1, done / total);
    const width = 30;
    const filled = Math.round(share * width);
    out.write(
      `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(share * 100)}% (${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${unit})`,
    );
  };
  return {
    update(done) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      draw(done);
    },
    end() {
      draw(total);
      out.write('\n');
    },
  };
}
