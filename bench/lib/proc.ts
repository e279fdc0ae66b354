// Readings from /proc: a process's CPU time and memory, and the machine's idle share. Linux only;
// elsewhere every reading is NaN so the suite still runs (without those columns).
import { readFileSync } from 'node:fs';

const TICKS_PER_SEC = 100; // USER_HZ: 100 on every Linux build Node supports

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** utime + stime of `pid`, in seconds (NaN when unreadable). */
export function cpuSeconds(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return Number.NaN;
  // The command name (field 2) may contain spaces; fields after the closing paren are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SEC;
}

/** A `Vm…` line of /proc/<pid>/status, in bytes (NaN when unreadable). */
export function vmBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = read(`/proc/${pid}/status`);
  const m = status?.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

interface CpuTotals {
  idle: number;
  total: number;
}

function machineTotals(): CpuTotals | null {
  const stat = read('/proc/stat');
  const line = stat?.split('\n', 1)[0];
  if (!line?.startsWith('cpu ')) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { idle: (v[3] ?? 0) + (v[4] ?? 0), total };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Share of all cores idle during the next `ms` (1 = fully idle); NaN off Linux. */
export async function idleShare(ms: number): Promise<number> {
  const a = machineTotals();
  await sleep(ms);
  const b = machineTotals();
  if (!a || !b || b.total === a.total) return Number.NaN;
  return (b.idle - a.idle) / (b.total - a.total);
}

/**
 * Waits until the machine was at least `threshold` idle over one second, or `capMs` passed.
 * Returns the last idle share seen and how long it waited.
 */
export async function waitForQuiet(
  threshold: number,
  capMs: number,
): Promise<{ idle: number; waitedMs: number; quiet: boolean }> {
  const t0 = Date.now();
  let idle = Number.NaN;
  do {
    idle = await idleShare(1000);
    if (!(idle < threshold)) return { idle, waitedMs: Date.now() - t0, quiet: true };
  } while (Date.now() - t0 < capMs);
  return { idle, waitedMs: Date.now() - t0, quiet: false };
}
