// Readings from /proc: a process's CPU time and memory, and the machine's idle share. Linux only;
// elsewhere every reading is NaN so the suite still runs (without those columns).
import { readdirSync, readFileSync } from 'node:fs';

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

export interface CpuTotals {
  idle: number;
  total: number;
}

/** The machine's idle and total CPU ticks since boot (/proc/stat), null off Linux. */
export function machineTotals(): CpuTotals | null {
  const stat = read('/proc/stat');
  const line = stat?.split('\n', 1)[0];
  if (!line?.startsWith('cpu ')) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { idle: (v[3] ?? 0) + (v[4] ?? 0), total };
}

/** Share of all cores idle between two readings of `machineTotals` (NaN when unknown). */
export function idleBetween(a: CpuTotals | null, b: CpuTotals | null): number {
  if (!a || !b || b.total === a.total) return Number.NaN;
  return (b.idle - a.idle) / (b.total - a.total);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Share of all cores idle during the next `ms` (1 = fully idle); NaN off Linux. */
export async function idleShare(ms: number): Promise<number> {
  const a = machineTotals();
  await sleep(ms);
  return idleBetween(a, machineTotals());
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

/**
 * CPU seconds (utime + stime) of every process whose command name (`/proc/<pid>/comm`) is one of
 * `names`, by pid: the PostgreSQL and Redis servers, which share the cores with the targets in
 * the cluster scenarios. Compare two readings with `cpuSecondsSince`.
 */
export function cpuSecondsByName(names: readonly string[]): Map<number, { name: string; sec: number }> {
  const out = new Map<number, { name: string; sec: number }>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    const name = read(`/proc/${pid}/comm`)?.trim();
    if (name === undefined || !names.includes(name)) continue;
    const sec = cpuSeconds(Number(pid));
    if (!Number.isNaN(sec)) out.set(Number(pid), { name, sec });
  }
  return out;
}

/**
 * CPU seconds used between two readings of `cpuSecondsByName`, by name. A process that ended in
 * between is left out (its last share with it), one that started counts from zero: so the sum
 * is never negative, and is a lower bound when processes come and go.
 */
export function cpuSecondsSince(
  before: Map<number, { name: string; sec: number }>,
  after: Map<number, { name: string; sec: number }>,
  names: readonly string[],
): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const [pid, { name, sec }] of after) out[name] = (out[name] ?? 0) + sec - (before.get(pid)?.sec ?? 0);
  return out;
}
