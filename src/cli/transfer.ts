// `jetstream export` and `jetstream import` (docs/operations.md, "CLI"): a scope moves between
// stores as what the store holds (its latest snapshot and the changes after it), not as a state
// rebuilt with the models, so the CLI needs no model module and the copy is exact: the target
// store loads the very records the source store loaded.
import type { Writable } from 'node:stream';
import type { ChangeRecord, Store, StoredFragment } from '../store/types.js';
import { type Progress, progress } from './progress.js';

export const EXPORT_FORMAT = 'jetstream-scope';

/** The file `jetstream export` writes. */
export interface ScopeExport {
  format: typeof EXPORT_FORMAT;
  formatVersion: 1;
  scope: string;
  /** The scope's latest stored version. */
  version: number;
  snapshot: { version: number; rootUUID: string; fragments: StoredFragment[] } | null;
  /** Every change after the snapshot (or from version 1), in version order. */
  changes: { version: number; fragments: StoredFragment[] }[];
}

/** A mistake of the command's user: printed as one line, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}

type Terminal = Writable & { isTTY?: boolean };

/**
 * Writes scope `name` of `store` to `out` as a ScopeExport, one fragment per line (diffable, and
 * written as it goes: the text of a big scope is never built whole). Progress goes to `tty`.
 */
export async function exportScope(
  store: Store,
  name: string,
  out: Writable,
  tty: Terminal,
): Promise<{ version: number; fragments: number }> {
  const loaded = await store.load(name);
  if (loaded === null) {
    const known = await store.listScopes();
    throw new CliError(
      `No scope named ${JSON.stringify(name)} in the store${known.length > 0 ? ` (it has: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''})` : ' (it is empty)'}`,
    );
  }
  const total =
    (loaded.snapshot?.fragments.length ?? 0) + loaded.changes.reduce((n, c) => n + c.fragments.length, 0);
  const bar = progress(tty, `exporting ${name}`, total, 'fragments');
  let written = 0;
  const write = async (text: string) => {
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  const fragmentList = async (fragments: StoredFragment[], indent: string) => {
    for (let i = 0; i < fragments.length; i++) {
      await write(`${indent}${JSON.stringify(fragments[i])}${i < fragments.length - 1 ? ',' : ''}\n`);
      bar.update(++written);
    }
  };
  await write(
    `{"format":${JSON.stringify(EXPORT_FORMAT)},"formatVersion":1,"scope":${JSON.stringify(name)},"version":${loaded.version},\n"snapshot":`,
  );
  const snapshot = loaded.snapshot;
  if (snapshot === null) await write('null');
  else {
    await write(
      `{"version":${snapshot.version},"rootUUID":${JSON.stringify(snapshot.rootUUID)},"fragments":[\n`,
    );
    await fragmentList(snapshot.fragments, '');
    await write(']}');
  }
  await write(',\n"changes":[\n');
  for (let i = 0; i < loaded.changes.length; i++) {
    const change = loaded.changes[i]!;
    await write(`{"version":${change.version},"fragments":[\n`);
    await fragmentList(change.fragments, ' ');
    await write(`]}${i < loaded.changes.length - 1 ? ',' : ''}\n`);
  }
  await write(']}\n');
  bar.end();
  return { version: loaded.version, fragments: total };
}

/** Parses and checks a ScopeExport; a CliError says what is wrong. */
export function parseExport(text: string, source: string): ScopeExport {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CliError(
      `${source} is not JSON (${(err as Error).message}): expected a file of jetstream export`,
    );
  }
  const d = doc as Partial<ScopeExport> | null;
  if (d === null || typeof d !== 'object' || d.format !== EXPORT_FORMAT)
    throw new CliError(`${source} is not a file of jetstream export (no "format": "${EXPORT_FORMAT}")`);
  if (d.formatVersion !== 1)
    throw new CliError(`${source}: formatVersion ${String(d.formatVersion)} is not supported (1 is)`);
  if (typeof d.scope !== 'string' || d.scope === '') throw new CliError(`${source}: "scope" must be a name`);
  if (!Number.isInteger(d.version) || d.version! < 0)
    throw new CliError(`${source}: "version" must be an integer ≥ 0`);
  if (!Array.isArray(d.changes)) throw new CliError(`${source}: "changes" must be an array`);
  let expected = d.snapshot ? d.snapshot.version + 1 : 1;
  for (const c of d.changes) {
    if (c?.version !== expected || !Array.isArray(c.fragments))
      throw new CliError(
        `${source}: change ${expected} is missing or malformed (changes must follow each other)`,
      );
    expected++;
  }
  if (expected - 1 !== d.version && !(d.changes.length === 0 && d.snapshot?.version === d.version))
    throw new CliError(
      `${source}: its changes end at version ${expected - 1}, not at "version" ${d.version}`,
    );
  if (d.snapshot !== null && (typeof d.snapshot !== 'object' || !Array.isArray(d.snapshot.fragments)))
    throw new CliError(`${source}: "snapshot" must be null or {version, rootUUID, fragments}`);
  return d as ScopeExport;
}

export interface ImportOptions {
  /** Store it under this name instead of the exported one. */
  as?: string;
  /** Replace a scope of that name in the target store (else importing over one is an error). */
  replace?: boolean;
}

/** Changes appended per transaction: big enough to be quick, small enough to show progress. */
const BATCH_FRAGMENTS = 20_000;

/** Writes `doc` to `store`, then checks that the store loads it back at its version. */
export async function importScope(
  store: Store,
  doc: ScopeExport,
  options: ImportOptions,
  tty: Terminal,
): Promise<{ scope: string; version: number }> {
  const name = options.as ?? doc.scope;
  const existing = await store.load(name);
  if (existing !== null) {
    if (!options.replace)
      throw new CliError(
        `The target store already has a scope named ${JSON.stringify(name)} (version ${existing.version}): pass --replace to overwrite it, or --as <name>`,
      );
    await store.deleteScope(name);
  }
  const total = doc.changes.length;
  const bar: Progress = progress(tty, `importing ${name}`, total, 'changes');
  if (doc.snapshot !== null) {
    await store.writeSnapshot({ scope: name, ...doc.snapshot });
  }
  let batch: ChangeRecord[] = [];
  let fragments = 0;
  let done = 0;
  for (const change of doc.changes) {
    batch.push({ scope: name, version: change.version, fragments: change.fragments });
    fragments += change.fragments.length;
    if (fragments >= BATCH_FRAGMENTS) {
      await store.append(batch);
      done += batch.length;
      bar.update(done);
      batch = [];
      fragments = 0;
    }
  }
  await store.append(batch);
  bar.end();
  const loaded = await store.load(name);
  if (loaded?.version !== doc.version)
    throw new CliError(
      `The import of ${name} ended at version ${loaded?.version ?? 'none'}, not ${doc.version}`,
    );
  return { scope: name, version: doc.version };
}
