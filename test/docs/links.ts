// What the documentation refers to, found in its prose (fenced blocks are code, not prose): links,
// `§N` section references, and files named in passing. links.test.ts checks that each resolves.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { ROOT } from './blocks.js';

/** One line of prose: the document, the line's number, its text (fenced blocks are left out). */
export interface ProseLine {
  doc: string;
  line: number;
  text: string;
}

export function proseLines(doc: string, markdown: string): ProseLine[] {
  const out: ProseLine[] = [];
  let fence: string | null = null;
  markdown.split('\n').forEach((text, i) => {
    const marker = /^ *(```+|~~~+)/.exec(text)?.[1];
    if (fence === null && marker) fence = marker;
    else if (fence !== null && marker && text.trim() === fence[0]!.repeat(text.trim().length)) fence = null;
    else if (fence === null) out.push({ doc, line: i + 1, text });
  });
  return out;
}

/**
 * GitHub's anchor for a heading: inline markup dropped, lowercased, punctuation removed (letters,
 * digits, `_` and `-` stay), each space a hyphen.
 */
export function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, '')
    .replace(/ /g, '-');
}

export interface Heading {
  text: string;
  anchor: string;
}

/** The headings of a markdown document, with their anchors (`-1`, `-2` on repeats, as GitHub). */
export function headings(markdown: string): Heading[] {
  const seen = new Map<string, number>();
  const out: Heading[] = [];
  for (const { text } of proseLines('', markdown)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.push({ text: m[1]!, anchor: n === 0 ? base : `${base}-${n}` });
  }
  return out;
}

/** Anchors of a document: its headings', and explicit `<a id=…>`/`name=…` ones. */
export function anchorsOf(path: string): Set<string> {
  const markdown = readFileSync(path, 'utf8');
  const anchors = new Set(headings(markdown).map((h) => h.anchor));
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]!);
  return anchors;
}

/** The sections of a numbered document (protocol.md): `7` for "## 7. …", `3.4` for "### 3.4 …". */
export function sectionsOf(path: string): Map<string, string> {
  const sections = new Map<string, string>();
  for (const h of headings(readFileSync(path, 'utf8'))) {
    const m = /^(\d+(?:\.\d+)?)\.?\s/.exec(h.text);
    if (m) sections.set(m[1]!, h.anchor);
  }
  return sections;
}

export interface Link {
  where: string;
  text: string;
  target: string;
}

/** The inline links of a line, `[text](target)`, images included; code spans are not links. */
export function linksOf(line: ProseLine): Link[] {
  const text = line.text.replace(/`[^`]*`/g, (code) => ' '.repeat(code.length));
  const out: Link[] = [];
  for (const m of text.matchAll(/!?\[((?:[^\]`]|`[^`]*`)*)\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) {
    // The link text as written (code spans included), from the original line.
    out.push({
      where: `${line.doc}:${line.line}`,
      text: line.text.slice(m.index! + 1, m.index! + 1 + m[1]!.length),
      target: m[2]!,
    });
  }
  return out;
}

export const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** The file a relative link target names, from the document that holds it. */
export function resolveTarget(doc: string, target: string): { path: string; anchor: string | null } {
  const hash = target.indexOf('#');
  const file = hash === -1 ? target : target.slice(0, hash);
  const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
  const path = file === '' ? join(ROOT, doc) : normalize(join(ROOT, dirname(doc), decodeURIComponent(file)));
  return { path, anchor };
}

export const isFile = (path: string) => existsSync(path) && statSync(path).isFile();

const rel = (path: string) => relative(ROOT, path);

/** Relative links whose file or anchor does not exist; `checked` counts the relative links. */
export function brokenLinks(lines: ProseLine[]): { broken: string[]; checked: number } {
  const broken: string[] = [];
  let checked = 0;
  for (const link of lines.flatMap(linksOf)) {
    if (isExternal(link.target)) continue;
    checked++;
    const doc = link.where.split(':')[0]!;
    const { path, anchor } = resolveTarget(doc, link.target);
    const shown = `${link.where}: [${link.text}](${link.target})`;
    if (!existsSync(path)) broken.push(`${shown}: no ${rel(path)}`);
    else if (anchor === null) continue;
    else if (!path.endsWith('.md') || !isFile(path))
      broken.push(`${shown}: an anchor into something that is not markdown`);
    else if (!anchorsOf(path).has(anchor)) broken.push(`${shown}: ${rel(path)} has no heading #${anchor}`);
  }
  return { broken, checked };
}

/** The markdown files a name may mean from a document: beside it, at the root, in docs/. */
function candidates(doc: string, named: string): string[] {
  return [join(ROOT, doc, '..', named), join(ROOT, named), join(ROOT, 'docs', named)];
}

/**
 * `§N` references that do not resolve. The document is the link's when the § is in a link's
 * text (whose anchor must then be that section's), else the last `x.md` named before it on the
 * line, else the document itself when it is protocol.md (whose sections the others cite).
 */
export function brokenSections(lines: ProseLine[]): { broken: string[]; checked: number } {
  const protocol = join(ROOT, 'docs', 'protocol.md');
  const broken: string[] = [];
  let checked = 0;
  for (const line of lines) {
    const links = linksOf(line);
    for (const m of line.text.matchAll(/§\s?(\d+(?:\.\d+)?)/g)) {
      checked++;
      const where = `${line.doc}:${line.line}`;
      const section = m[1]!;
      const link = links.find(
        (l) => !isExternal(l.target) && l.text.replace('§ ', '§').includes(`§${section}`),
      );
      let target: string | null;
      let anchor: string | null = null;
      if (link) {
        ({ path: target, anchor } = resolveTarget(line.doc, link.target));
      } else {
        const named = [...line.text.slice(0, m.index).matchAll(/([\w./-]+\.md)\b/g)].at(-1)?.[1];
        if (named) target = candidates(line.doc, named).find(isFile) ?? null;
        else target = join(ROOT, line.doc) === protocol ? protocol : null;
        if (target === null) {
          broken.push(
            named
              ? `${where}: §${section} of ${named}, which does not exist`
              : `${where}: §${section} does not say which document (write "protocol.md §${section}")`,
          );
          continue;
        }
      }
      if (!isFile(target)) continue; // a missing file: brokenLinks reports it
      const sectionAnchor = sectionsOf(target).get(section);
      if (sectionAnchor === undefined)
        broken.push(`${where}: §${section}: ${rel(target)} has no section ${section}`);
      else if (anchor !== null && anchor !== sectionAnchor)
        broken.push(`${where}: §${section} links to #${anchor}, but that section is #${sectionAnchor}`);
    }
  }
  return { broken, checked };
}

/** Files named in the prose, outside links, that do not exist: `x.md`, and `src/…`, `test/…` paths. */
export function missingFiles(lines: ProseLine[]): string[] {
  const missing: string[] = [];
  for (const line of lines) {
    const where = `${line.doc}:${line.line}`;
    const text = line.text.replace(/\]\([^)]*\)/g, ']'); // link targets: brokenLinks
    for (const m of text.matchAll(/(?<![\w/.:-])([\w-][\w./-]*\.md)\b/g)) {
      if (!candidates(line.doc, m[1]!).some(existsSync)) missing.push(`${where}: ${m[1]}`);
    }
    for (const m of text.matchAll(/(?<![\w/.:-])((?:src|test|demo|bench|scripts|docs|bin)\/[\w./-]*)/g)) {
      const path = m[1]!.replace(/[.:,]+$/, '');
      if (!existsSync(join(ROOT, path))) missing.push(`${where}: ${path}`);
    }
  }
  return missing;
}
