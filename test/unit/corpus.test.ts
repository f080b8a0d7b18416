// Loading the corpus: one file or a folder of .txt files, and every bad input with its fix.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { EngineError } from '../../src/engine/config';
import { DEFAULT_CORPUS_DIR, MAX_CORPUS_BYTES, defaultCorpusPath, loadCorpus, resolveCorpusPath } from '../../src/engine/corpus';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-corpus-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** Writes `files` (name -> content) into a new folder under the scratch folder. */
function folder(name: string, files: Record<string, string | Uint8Array>): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), content);
  return dir;
}

/** Asserts that loading `corpusPath` throws an EngineError whose message matches every pattern. */
function assertRefused(corpusPath: string, ...patterns: RegExp[]): void {
  assert.throws(
    () => loadCorpus(corpusPath),
    (error: unknown) => {
      assert.ok(error instanceof EngineError, `expected an EngineError, got ${String(error)}`);
      for (const pattern of patterns) assert.match(error.message, pattern);
      return true;
    },
  );
}

test('a single file is read as it is; a UTF-8 byte order mark is dropped', () => {
  const dir = folder('single', { 'poem.txt': 'one line\nsecond line\n', 'bom.txt': '\ufeffwith bom' });
  assert.equal(loadCorpus(path.join(dir, 'poem.txt')), 'one line\nsecond line\n');
  assert.equal(loadCorpus(path.join(dir, 'bom.txt')), 'with bom');
});

test('a folder: its .txt files in name order, joined with a newline; other files ignored', () => {
  const dir = folder('many', { 'b.txt': 'bee', 'a.txt': 'ay', 'c.TXT': 'sea', 'notes.md': 'not me', 'data.json': '{}' });
  fs.mkdirSync(path.join(dir, 'sub.txt')); // a folder named like a text file is skipped
  fs.writeFileSync(path.join(dir, 'sub.txt', 'deep.txt'), 'too deep');
  assert.equal(loadCorpus(dir), 'ay\nbee\nsea');
});

test('a missing path names the setting to fix', () => {
  assertRefused(path.join(scratch, 'no-such-file.txt'), /does not exist/, /point the corpus at a UTF-8 \.txt file/);
  assert.throws(() => loadCorpus(path.join(scratch, 'no-such-file.txt')), { setting: 'corpusPath' });
  assertRefused(path.join(scratch, 'no-such-folder', 'x.txt'), /does not exist/);
});

test('an empty corpus is refused', () => {
  const dir = folder('empty', { 'empty.txt': '', 'blank.txt': ' \n\t\n' });
  assertRefused(path.join(dir, 'empty.txt'), /is empty/);
  assertRefused(path.join(dir, 'blank.txt'), /is empty/);
  assertRefused(dir, /is empty/);
});

test('a folder without .txt files is refused', () => {
  const dir = folder('no-text', { 'readme.md': '# hi', 'poem.text': 'almost' });
  assertRefused(dir, /has no \.txt files/, /point the corpus at/);
  assertRefused(folder('nothing', {}), /has no \.txt files/);
});

test('a binary file (NUL bytes) is refused, also inside a folder', () => {
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d]);
  const dir = folder('binary', { 'a.txt': 'fine text', 'b.txt': png });
  assertRefused(path.join(dir, 'b.txt'), /looks binary/, /offset 8/);
  assertRefused(dir, /b\.txt looks binary/);
});

test('invalid UTF-8 is refused, with the file named', () => {
  const latin1 = Uint8Array.from(Buffer.from('caf\xe9 cr\xe8me', 'latin1')); // é as the single byte 0xE9
  const dir = folder('latin1', { 'latin1.txt': latin1, 'truncated.txt': Uint8Array.from([0x61, 0xe2, 0x82]) });
  assertRefused(path.join(dir, 'latin1.txt'), /latin1\.txt is not valid UTF-8/, /save it as UTF-8/);
  assertRefused(path.join(dir, 'truncated.txt'), /not valid UTF-8/);
  // A lone surrogate written as WTF-8 bytes is not UTF-8 either.
  assertRefused(folder('wtf8', { 'x.txt': Uint8Array.from([0xed, 0xa0, 0x80]) }), /not valid UTF-8/);
});

test('a corpus over the size cap is refused before it is read, naming the cap', () => {
  const dir = folder('huge', {});
  const file = path.join(dir, 'huge.txt');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, MAX_CORPUS_BYTES + 1); // sparse: no real 64 MiB written
  assertRefused(file, /over the 64\.0 MiB limit/);
  assertRefused(dir, /over the 64\.0 MiB limit/);
});

test('default and configured corpus paths', () => {
  const root = path.join(scratch, 'extension');
  assert.equal(DEFAULT_CORPUS_DIR, path.join('media', 'corpus'));
  assert.equal(defaultCorpusPath(root), path.join(root, 'media', 'corpus'));
  assert.equal(resolveCorpusPath(root), defaultCorpusPath(root));
  assert.equal(resolveCorpusPath(root, '   '), defaultCorpusPath(root));
  assert.equal(resolveCorpusPath(root, '/data/poems.txt'), path.resolve('/data/poems.txt'));
  assert.equal(resolveCorpusPath(root, 'texts', '/workspace'), path.resolve('/workspace/texts'));
  assert.equal(resolveCorpusPath(root, '~/texts'), path.join(os.homedir(), 'texts'));
});

test('the bundled poems load', () => {
  const packageRoot = path.join(__dirname, '..', '..');
  const poems = defaultCorpusPath(packageRoot);
  const text = loadCorpus(poems);
  const words = text.split(/\s+/).filter(Boolean).length;
  console.log(`# bundled corpus: ${fs.readdirSync(poems).filter((name) => name.endsWith('.txt')).length} files, ${words} words, ${Buffer.byteLength(text)} bytes`);
  assert.ok(words >= 2_000, `the bundled corpus has ${words} words, the issue asks for at least 2,000`);
  assert.ok(!text.includes('# Bundled corpus'), 'the README is not part of the corpus');
});
