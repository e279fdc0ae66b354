// Every reference in README.md and docs/*.md resolves: relative links (the file exists; an
// anchor is one of the target's headings), `§N` references (the section exists in the document
// they name, and a linked `§N` points at that section's anchor), and files named in passing
// (`docs/protocol.md`, `src/server/hooks.ts`): a document cannot send its reader to something
// that is not there.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { documents, ROOT } from './blocks.js';
import {
  brokenLinks,
  brokenSections,
  headings,
  missingFiles,
  type ProseLine,
  proseLines,
  slug,
} from './links.js';

const lines: ProseLine[] = documents().flatMap((doc) =>
  proseLines(doc, readFileSync(join(ROOT, doc), 'utf8')),
);

describe('references in README.md and docs/*.md', () => {
  test('every relative link names a file that exists, and every anchor a heading of it', () => {
    const { broken, checked } = brokenLinks(lines);
    assert.ok(checked > 50, `only ${checked} relative links found: is the parser broken?`);
    assert.deepEqual(broken, []);
  });

  test('every §N names an existing section of the document it refers to', () => {
    const { broken, checked } = brokenSections(lines);
    assert.ok(checked > 20, `only ${checked} § references found: is the parser broken?`);
    assert.deepEqual(broken, []);
  });

  test('every file named in passing exists (*.md, and paths under src/, test/, docs/…)', () => {
    assert.deepEqual(missingFiles(lines), []);
  });
});

describe('the checks catch what they are for', () => {
  const at = (doc: string, text: string): ProseLine[] => [{ doc, line: 1, text }];

  test('a link to a missing file or heading', () => {
    assert.equal(brokenLinks(at('README.md', 'see [it](docs/nothing.md)')).broken.length, 1);
    assert.equal(brokenLinks(at('README.md', 'see [it](docs/client.md#no-such-heading)')).broken.length, 1);
    assert.equal(brokenLinks(at('README.md', 'see [it](docs/client.md#api)')).broken.length, 0);
    assert.equal(brokenLinks(at('README.md', 'see [it](https://example.com/x.md)')).checked, 0);
  });

  test('a § of a file that does not exist, of no document, or linked to another section', () => {
    const broken = (doc: string, text: string) => brokenSections(at(doc, text)).broken.length;
    assert.equal(broken('README.md', 'operators (PROTOCOL.md §10)'), 1);
    assert.equal(broken('docs/procedures.md', 'as in §7'), 1);
    assert.equal(broken('docs/procedures.md', 'see protocol.md §99'), 1);
    assert.equal(broken('docs/procedures.md', '[protocol.md §7](protocol.md#9-procedures)'), 1);
    assert.equal(broken('docs/procedures.md', '[protocol.md §7](protocol.md#7-applying-a-changeset)'), 0);
    assert.equal(broken('README.md', 'operators (docs/protocol.md §10.4)'), 0);
    assert.equal(broken('docs/protocol.md', 'as in §3.4'), 0);
  });

  test('a file named in passing that does not exist', () => {
    assert.deepEqual(missingFiles(at('README.md', "DESIGN.md's cluster/ and `src/nothing.ts`")), [
      'README.md:1: DESIGN.md',
      'README.md:1: src/nothing.ts',
    ]);
    assert.deepEqual(missingFiles(at('docs/client.md', 'errors.md, `src/errors.ts`, test/e2e/.')), []);
  });
});

describe('anchors as GitHub makes them', () => {
  test('punctuation goes, spaces become hyphens, code and links keep their text', () => {
    assert.equal(slug('3. Indices, acknowledgement and resend'), '3-indices-acknowledgement-and-resend');
    assert.equal(slug('SessionCreate (C→S)'), 'sessioncreate-cs');
    assert.equal(slug("`server.on('connection', (connection) => …)`"), 'serveronconnection-connection--');
    assert.equal(slug('The client SDK (`jetstream/client`)'), 'the-client-sdk-jetstreamclient');
    assert.equal(
      slug('Behaviour guarantees (tested in `test/e2e/`)'),
      'behaviour-guarantees-tested-in-teste2e',
    );
    assert.equal(slug('snake_case [link](x.md)'), 'snake_case-link');
  });

  test('a repeated heading gets -1, -2', () => {
    assert.deepEqual(
      headings('# A\n## A\n```\n# not a heading\n```\n### A').map((h) => h.anchor),
      ['a', 'a-1', 'a-2'],
    );
  });
});
