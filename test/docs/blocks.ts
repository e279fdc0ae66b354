// The fenced code blocks of the documentation, and what each one is for. The convention
// (docs/architecture.md, "Conventions") lives in each block's info string:
//
//   ```ts / ```js                 code: type-checked under `strict` against the built package
//   ```ts fragment                code that needs names from the text around it: not checked
//   ```js with=server,session     checked, with those names declared first (contexts.ts)
//   ```ts name=models.ts          checked, and written as models.ts so that the doc's later
//                                 blocks can import it ('./models.js')
//   ```ts file=docs/examples/…    the block is that repository file, verbatim
//   ```ts run                     checked, then run with Node; a ```text output block right
//                                 after it is what it must print
//   ```sh / json / yaml / text    not code: shell commands, wire messages, diagrams, output
//   ```html / css                 must be file=…
//
// A block without an info string is an error: nothing is skipped without saying so.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

/** Languages whose blocks are code to check. */
export const CODE = new Set(['ts', 'js']);
/** Languages whose blocks are not code: shown, never run. */
export const NOT_CODE = new Set(['sh', 'json', 'yaml', 'text']);
/** Languages whose blocks must be a repository file (`file=`). */
export const FILES_ONLY = new Set(['html', 'css']);

export interface Block {
  /** The document, relative to the repository root: `README.md`, `docs/client.md`. */
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  info: string;
  lang: string;
  /** Bare words of the info string after the language (`fragment`, `run`, `output`). */
  flags: Set<string>;
  /** `key=value` words of the info string (`name`, `file`, `with`). */
  attrs: Map<string, string>;
  /** The block's text, without the fences and the fence's indentation, ending in a newline. */
  code: string;
}

/** The documents whose blocks are checked: README.md and every docs/*.md. */
export function documents(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

/** The fenced blocks of one markdown text, in order. */
export function parseBlocks(doc: string, markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)(```+|~~~+)(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, rest] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      const t = l.trim();
      if (t.length >= fence.length && t === t[0]!.repeat(t.length) && t[0] === fence[0]) break;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
    }
    if (j === lines.length) throw new Error(`${doc}:${i + 1}: a code fence that is never closed`);
    const info = rest.trim();
    const words = info.split(/\s+/).filter(Boolean);
    const flags = new Set<string>();
    const attrs = new Map<string, string>();
    for (const w of words.slice(1)) {
      const eq = w.indexOf('=');
      if (eq > 0) attrs.set(w.slice(0, eq), w.slice(eq + 1));
      else flags.add(w);
    }
    blocks.push({
      doc,
      line: i + 1,
      info,
      lang: words[0] ?? '',
      flags,
      attrs,
      code: body.length ? `${body.join('\n')}\n` : '',
    });
    i = j;
  }
  return blocks;
}

/** Every block of every document. */
export function allBlocks(): Block[] {
  return documents().flatMap((doc) => parseBlocks(doc, readFileSync(join(ROOT, doc), 'utf8')));
}

export type Role =
  | { kind: 'check'; run: boolean }
  | { kind: 'fragment' }
  | { kind: 'file'; path: string }
  | { kind: 'not-code'; lang: string }
  | { kind: 'output' }
  | { kind: 'error'; message: string };

const KNOWN_FLAGS = new Set(['fragment', 'run', 'output']);
const KNOWN_ATTRS = new Set(['name', 'file', 'with']);

/** What a block is for, from its info string; `error` when it breaks the convention above. */
export function roleOf(block: Block): Role {
  const { lang, flags, attrs } = block;
  if (lang === '')
    return { kind: 'error', message: 'no info string: say what the block is (```ts, ```sh, ```text, …)' };
  for (const f of flags)
    if (!KNOWN_FLAGS.has(f)) return { kind: 'error', message: `unknown word '${f}' in the info string` };
  for (const a of attrs.keys())
    if (!KNOWN_ATTRS.has(a))
      return { kind: 'error', message: `unknown attribute '${a}=' in the info string` };
  const file = attrs.get('file');
  if (file !== undefined) {
    if (flags.size > 0 || attrs.size > 1)
      return { kind: 'error', message: 'file= stands alone: the file itself is what the tests use' };
    return { kind: 'file', path: file };
  }
  if (FILES_ONLY.has(lang))
    return { kind: 'error', message: `a ${lang} block must be a repository file (file=…)` };
  if (NOT_CODE.has(lang)) {
    if (lang === 'text' && flags.has('output')) return { kind: 'output' };
    if (flags.size > 0 || attrs.size > 0)
      return { kind: 'error', message: `a ${lang} block takes no words after its language` };
    return { kind: 'not-code', lang };
  }
  if (!CODE.has(lang)) return { kind: 'error', message: `unknown language '${lang}'` };
  if (flags.has('output')) return { kind: 'error', message: "'output' belongs on a text block" };
  if (flags.has('fragment')) {
    if (flags.size > 1 || attrs.size > 0)
      return { kind: 'error', message: 'a fragment is not checked: it takes no other words' };
    return { kind: 'fragment' };
  }
  return { kind: 'check', run: flags.has('run') };
}

/** The block's language as a file extension: ts, or js as an ES module (.mjs) or CommonJS (.cjs). */
export function extensionOf(block: Block): '.ts' | '.mjs' | '.cjs' {
  if (block.lang === 'ts') return '.ts';
  return /\brequire\(/.test(block.code) && !/^\s*import\s/m.test(block.code) ? '.cjs' : '.mjs';
}

/** `README.md:34 ts`: how a block is named in test output. */
export function label(block: Block): string {
  return `${block.doc}:${block.line} ${block.info}`;
}
