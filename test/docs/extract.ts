// Writes the documentation's checked blocks into a scratch project (scratch.ts), type-checks
// them all in one TypeScript program under `strict`, and runs the `run` blocks.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import ts from 'typescript';
import { type Block, extensionOf, roleOf } from './blocks.js';
import { declarations, MODELS_MODULE } from './contexts.js';

/** A block written as a file of the scratch project. */
export interface Extracted {
  block: Block;
  /** Absolute path of the file. */
  file: string;
  /** Lines prepended to the block (its `with=` declarations). */
  offset: number;
}

/** `README.md` → `README`, `docs/client.md` → `client`: one folder per document. */
function folderOf(doc: string): string {
  return basename(doc, '.md');
}

/** The blocks that are compiled: checked ones, and TypeScript/JavaScript repository files. */
export function compiledBlocks(blocks: Block[]): Block[] {
  return blocks.filter((b) => {
    const role = roleOf(b);
    return role.kind === 'check' || (role.kind === 'file' && (b.lang === 'ts' || b.lang === 'js'));
  });
}

/** Writes each compiled block into `<dir>/<document>/`, and a models.js where none is shown. */
export function writeBlocks(dir: string, blocks: Block[]): Extracted[] {
  const out: Extracted[] = [];
  const docs = new Map<string, Block[]>();
  for (const b of compiledBlocks(blocks)) docs.set(b.doc, [...(docs.get(b.doc) ?? []), b]);
  for (const [doc, docBlocks] of docs) {
    const folder = join(dir, folderOf(doc));
    mkdirSync(folder, { recursive: true });
    const names = new Set<string>();
    for (const block of docBlocks) {
      const role = roleOf(block);
      const name =
        block.attrs.get('name') ??
        (role.kind === 'file' ? basename(role.path) : `L${block.line}${extensionOf(block)}`);
      if (names.has(name)) throw new Error(`${doc}:${block.line}: a second block named ${name}`);
      names.add(name);
      const withNames = block.attrs.get('with')?.split(',').filter(Boolean) ?? [];
      const prelude = declarations(withNames, name.endsWith('.ts'));
      const file = join(folder, name);
      writeFileSync(file, prelude.length ? `${prelude.join('\n')}\n${block.code}` : block.code);
      out.push({ block, file, offset: prelude.length });
    }
    if (!names.has('models.ts')) writeFileSync(join(folder, 'models.ts'), MODELS_MODULE);
  }
  return out;
}

/**
 * The compiler options a user's strict project would have, for Node with ES modules. JavaScript
 * is checked under `strict` too, except `noImplicitAny`: JavaScript has no annotations, so a
 * parameter that nothing types is `any` there by design.
 */
function compilerOptions(dir: string, javascript: boolean): ts.CompilerOptions {
  return {
    strict: true,
    ...(javascript ? { noImplicitAny: false } : {}),
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    moduleDetection: ts.ModuleDetectionKind.Force,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    types: ['node'],
    typeRoots: [join(dir, 'node_modules', '@types')],
    allowJs: true,
    checkJs: true,
    skipLibCheck: true,
  };
}

export interface Problem {
  /** `docs/server.md:205` for a block's line, or the file's path for anything else. */
  where: string;
  message: string;
}

/**
 * Type-checks every extracted block, TypeScript and JavaScript blocks in a program each; the
 * problems of each block, and of anything else (the models module, the package's types).
 */
export function typecheck(
  dir: string,
  extracted: Extracted[],
): { byBlock: Map<Extracted, Problem[]>; other: Problem[] } {
  const byFile = new Map(extracted.map((e) => [e.file, e]));
  const byBlock = new Map<Extracted, Problem[]>(extracted.map((e) => [e, []]));
  const other: Problem[] = [];
  const diagnostics = new Map<string, ts.Diagnostic>();
  for (const javascript of [false, true]) {
    const files = extracted.filter((e) => !e.file.endsWith('.ts') === javascript).map((e) => e.file);
    if (files.length === 0) continue;
    const program = ts.createProgram(files, compilerOptions(dir, javascript));
    // A file both programs check (the models module) reports its problems once.
    for (const d of ts.getPreEmitDiagnostics(program))
      diagnostics.set(`${d.file?.fileName}:${d.start}:${d.code}`, d);
  }
  for (const d of diagnostics.values()) {
    const message = `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    const e = d.file ? byFile.get(d.file.fileName) : undefined;
    if (!d.file || !e) {
      other.push({ where: d.file?.fileName ?? '(program)', message });
      continue;
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    const docLine = e.block.line + 1 + line - e.offset;
    byBlock.get(e)!.push({ where: `${e.block.doc}:${docLine}`, message });
  }
  return { byBlock, other };
}

/** Runs a block's file with Node (through tsx for TypeScript) in its folder. */
export function runBlock(e: Extracted): { status: number | null; stdout: string; stderr: string } {
  const args = e.file.endsWith('.ts') ? ['--import', 'tsx', e.file] : [e.file];
  const r = spawnSync(process.execPath, args, {
    cwd: join(e.file, '..'),
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NODE_ENV: 'test' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Whether `actual` output is what an output block shows: line for line, where `…` stands for
 * any text on its line and `<uuid>` for a uuid. Trailing whitespace is ignored.
 */
export function outputMatches(expected: string, actual: string): boolean {
  const pattern = expected
    .trimEnd()
    .split('\n')
    .map((line) =>
      line
        .trimEnd()
        .split(/(…|<uuid>)/)
        .map((part) =>
          part === '…'
            ? '[^\\n]*?'
            : part === '<uuid>'
              ? '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
              : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        )
        .join(''),
    )
    .join('\\n');
  return new RegExp(`^${pattern}$`).test(
    actual
      .trimEnd()
      .split('\n')
      .map((l) => l.trimEnd())
      .join('\n'),
  );
}
