// An OfflineStore for Node: one JSON file per key in a directory (docs/client.md, "Offline
// edits"). A save writes a temporary file, flushes it to disk and renames it over the old one,
// so that a load after a crash finds the old record or the new one whole (rename is atomic on
// POSIX file systems).
//
// The client SDK bundles for browsers without Node built-ins, so this module imports none: it
// takes `fs/promises` from the caller, or from `process.getBuiltinModule` (Node ≥ 20.16).
import type * as FsPromises from 'node:fs/promises';
import type { OfflineRecord, OfflineStore } from './offline-store.js';

/** The part of `node:fs/promises` the file store uses. */
export type FileStoreFs = Pick<typeof FsPromises, 'mkdir' | 'open' | 'readFile' | 'rename' | 'rm'>;

export interface FileOfflineStoreOptions {
  /** `node:fs/promises` (or a compatible module). Default: Node's own, through `process.getBuiltinModule`. */
  fs?: FileStoreFs;
}

let tmpCounter = 0;

export class FileOfflineStore implements OfflineStore {
  /** The directory that holds the records (created on the first save). */
  readonly dir: string;
  readonly #fs: FileStoreFs;

  constructor(dir: string, options: FileOfflineStoreOptions = {}) {
    const fs = options.fs ?? builtinFs();
    if (!fs) {
      throw new TypeError(
        'FileOfflineStore needs node:fs/promises: pass it as { fs } (Node < 20.16 has no process.getBuiltinModule)',
      );
    }
    this.dir = dir.replace(/\/+$/, '') || '/';
    this.#fs = fs;
  }

  async load(key: string): Promise<OfflineRecord | null> {
    let text: string;
    try {
      text = await this.#fs.readFile(this.#file(key), 'utf8');
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return null;
      throw err;
    }
    return JSON.parse(text) as OfflineRecord;
  }

  async save(key: string, record: OfflineRecord): Promise<void> {
    const file = this.#file(key);
    // Unique among the processes that may share the directory, so that saves never collide.
    const tmp = `${file}.${(tmpCounter++).toString(36)}${Math.random().toString(36).slice(2, 10)}.tmp`;
    await this.#fs.mkdir(this.dir, { recursive: true });
    const handle = await this.#fs.open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify(record), 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await this.#fs.rename(tmp, file);
    } catch (err) {
      await this.#fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async remove(key: string): Promise<void> {
    await this.#fs.rm(this.#file(key), { force: true });
  }

  /** The file of a key: the key URI-encoded, so any key is one file name. */
  #file(key: string): string {
    return `${this.dir}/${encodeURIComponent(key)}.json`;
  }
}

function builtinFs(): FileStoreFs | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  return proc?.getBuiltinModule?.('node:fs/promises') as FileStoreFs | undefined;
}
