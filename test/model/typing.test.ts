// Typed models at compile time: the project's TypeScript compiles the fixtures in
// fixtures/typing/ under the project's options (`strict`), and this test compares the errors with
// the ones the fixtures announce. rejected.ts marks each line that must not compile with
// `// @ts-expect-error TSnnnn`; the directives are removed before compiling, so the compiler
// reports those errors, and each must be on its marked line with exactly its code (no more, no
// fewer). accepted.ts must compile with no error at all.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';

const ROOT = resolve(__dirname, '../..');
const FIXTURES = join(ROOT, 'test/model/fixtures/typing');
const REJECTED = join(FIXTURES, 'rejected.ts');
const ACCEPTED = join(FIXTURES, 'accepted.ts');
const DIRECTIVE = /\/\/ @ts-expect-error (TS\d+)\b/;

/** What rejected.ts announces: `line:TSnnnn` for the line after each directive (1-based). */
function announced(text: string): string[] {
  const out: string[] = [];
  text.split('\n').forEach((line, i) => {
    const m = DIRECTIVE.exec(line);
    if (m) out.push(`${i + 2}:${m[1]}`);
  });
  return out;
}

/** The compiler options of tsconfig.json (strict, NodeNext, noUncheckedIndexedAccess…). */
function projectOptions(): ts.CompilerOptions {
  const configPath = join(ROOT, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT, undefined, configPath);
  return { ...parsed.options, noEmit: true };
}

/**
 * Compiles the two fixtures in one program, with rejected.ts's directives neutralised (same
 * line count, so the positions stay). Returns each fixture's errors as `line:TSnnnn — message`.
 */
function compile(): Map<string, string[]> {
  const options = projectOptions();
  assert.equal(options.strict, true, 'the fixtures are checked under strict');
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    if (resolve(fileName) === REJECTED) {
      const text = readFileSync(REJECTED, 'utf8').replaceAll('// @ts-expect-error', '// expected:');
      return ts.createSourceFile(fileName, text, languageVersion, true);
    }
    return getSourceFile(fileName, languageVersion, onError, shouldCreate);
  };
  const program = ts.createProgram([REJECTED, ACCEPTED], options, host);
  const byFile = new Map<string, string[]>([
    [REJECTED, []],
    [ACCEPTED, []],
  ]);
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file ? resolve(d.file.fileName) : '(no file)';
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
    const entry = `${line}:TS${d.code} — ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    const list = byFile.get(file);
    if (list) list.push(entry);
    else byFile.set(file, [entry]);
  }
  return byFile;
}

describe('typed models (tsc on fixtures/typing, strict)', { timeout: 120_000 }, () => {
  let compiled: Map<string, string[]> | null = null;
  const errors = () => (compiled ??= compile());

  test('rejected.ts: exactly the announced errors, each on its line with its code', () => {
    const expected = announced(readFileSync(REJECTED, 'utf8'));
    assert.ok(expected.length >= 15, `the fixture announces ${expected.length} errors`);
    const got = errors().get(REJECTED)!;
    assert.deepEqual(
      got.map((e) => e.split(' — ')[0]),
      expected,
      `compiler errors:\n${got.join('\n')}`,
    );
  });

  test('rejected.ts: the messages name the types involved', () => {
    const got = errors().get(REJECTED)!;
    const message = (line: string) => got.find((e) => e.startsWith(`${line} — `)) ?? '';
    const expected = announced(readFileSync(REJECTED, 'utf8'));
    // The first announced error is `new Shape({ x: 'a' })`.
    assert.match(message(expected[0]!), /Type 'string' is not assignable to type 'number'/);
    // `new Shape({ when: '2020-01-01' })`
    assert.match(message(expected[2]!), /Type 'string' is not assignable to type 'Date'/);
  });

  test('accepted.ts: compiles with no error (typed init, root of a fetched scope without `!`, the DSL)', () => {
    assert.deepEqual(errors().get(ACCEPTED), []);
  });

  test('nothing else in the program has an error (the models module, the sources it imports)', () => {
    const other = [...errors()].filter(([file]) => file !== REJECTED && file !== ACCEPTED);
    assert.deepEqual(other, []);
  });
});
