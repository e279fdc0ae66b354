// The documentation's code runs as written. Every fenced block of README.md and docs/*.md says
// what it is in its info string (blocks.ts): code is type-checked under `strict` against the
// built package, as a user's project would import it (scratch.ts), and `run` blocks are run and
// their output compared; a block that shows a repository file is that file, verbatim; the rest
// (shell, wire JSON, diagrams, fragments) is listed by this test, so nothing is skipped silently.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { allBlocks, type Block, label, ROOT, roleOf } from './blocks.js';
import { type Extracted, outputMatches, type Problem, runBlock, typecheck, writeBlocks } from './extract.js';
import { assertBuilt, type ScratchProject, scratchProject } from './scratch.js';

const blocks = allBlocks();

/** The scratch project, its blocks and their type-check, made once for every test below. */
let prepared: Promise<{
  extracted: Map<Block, Extracted>;
  problems: Map<Extracted, Problem[]>;
  other: Problem[];
}> | null = null;
let project: ScratchProject | null = null;

function prepare() {
  prepared ??= (async () => {
    assertBuilt();
    project = scratchProject(['ws', 'tsx', '@types']);
    const written = writeBlocks(project.dir, blocks);
    const { byBlock, other } = typecheck(project.dir, written);
    return { extracted: new Map(written.map((e) => [e.block, e])), problems: byBlock, other };
  })();
  return prepared;
}

after(() => project?.remove());

const show = (problems: Problem[]) => problems.map((p) => `${p.where}: ${p.message}`).join('\n');

describe('code blocks of README.md and docs/*.md', { timeout: 180_000 }, () => {
  test('every block says what it is; the ones not checked are listed here', (t) => {
    const errors: string[] = [];
    const unchecked: string[] = [];
    for (const block of blocks) {
      const role = roleOf(block);
      if (role.kind === 'error') errors.push(`${label(block)}: ${role.message}`);
      else if (role.kind === 'fragment')
        unchecked.push(`${block.doc}:${block.line} fragment (${block.lang})`);
      else if (role.kind === 'not-code') unchecked.push(`${block.doc}:${block.line} not code (${role.lang})`);
    }
    for (const [i, block] of blocks.entries()) {
      if (roleOf(block).kind !== 'output') continue;
      const before = blocks[i - 1];
      const runs = before?.doc === block.doc && roleOf(before).kind === 'check' && before.flags.has('run');
      if (!runs) errors.push(`${label(block)}: an output block must follow a \`run\` block`);
    }
    t.diagnostic(`not checked (${unchecked.length} of ${blocks.length}):\n${unchecked.join('\n')}`);
    assert.deepEqual(errors, []);
  });

  test('the scratch project type-checks apart from the blocks (models, package types)', async () => {
    const { other } = await prepare();
    assert.equal(show(other), '');
  });

  for (const [i, block] of blocks.entries()) {
    const role = roleOf(block);
    if (role.kind === 'file') {
      test(`${label(block)}: is the repository file, verbatim`, () => {
        const file = readFileSync(join(ROOT, role.path), 'utf8');
        assert.equal(block.code, file, `${block.doc}:${block.line} differs from ${role.path}`);
      });
    }
    if (role.kind === 'check' || (role.kind === 'file' && (block.lang === 'ts' || block.lang === 'js'))) {
      test(`${label(block)}: type-checks (strict)`, async () => {
        const { extracted, problems } = await prepare();
        assert.equal(show(problems.get(extracted.get(block)!)!), '');
      });
    }
    if (role.kind === 'check' && role.run) {
      test(`${label(block)}: runs`, async () => {
        const { extracted } = await prepare();
        const r = runBlock(extracted.get(block)!);
        assert.equal(r.status, 0, `exit ${r.status}\n${r.stderr}`);
        const next = blocks[i + 1];
        if (next && next.doc === block.doc && roleOf(next).kind === 'output')
          assert.ok(
            outputMatches(next.code, r.stdout),
            `the output differs from ${next.doc}:${next.line}:\n${r.stdout}`,
          );
      });
    }
  }
});

describe('the output pattern of `text output` blocks', () => {
  test('… is any text on its line, <uuid> a uuid, the rest literal', () => {
    assert.ok(outputMatches('a … b\n<uuid> [x]', 'a 1 2 3 b\n0b7c2d0e-6a0c-4a8e-9c2f-4f7e4b1d9a10 [x]\n'));
    assert.ok(!outputMatches('a … b', 'a 1\n2 b'));
    assert.ok(!outputMatches('<uuid>', 'not-a-uuid'));
    assert.ok(!outputMatches('[x]', 'x'));
    assert.ok(!outputMatches('one\ntwo', 'one'));
  });
});
