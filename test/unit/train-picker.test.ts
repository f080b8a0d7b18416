// The training picker describes the corpus it offers from that corpus itself, not from a number
// written once: its poems and words, and how many of them the open folder shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundledCorpusDetail } from '../../src/commands/bundledCorpus';

test('the bundled corpus is described as it is: poems and words counted, the folder\'s share said', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-corpus-'));
  const corpus = path.join(dir, 'corpus');
  const folder = path.join(dir, 'samples');
  fs.mkdirSync(corpus);
  fs.mkdirSync(folder);
  fs.writeFileSync(path.join(corpus, 'a.txt'), 'The tide\n\nthe sea reads the shore');
  fs.writeFileSync(path.join(corpus, 'b.txt'), 'one wave at a time');
  fs.writeFileSync(path.join(corpus, 'c.txt'), 'night');
  fs.writeFileSync(path.join(corpus, 'README.md'), 'not a poem');
  fs.writeFileSync(path.join(folder, 'b.txt'), 'one wave at a time');
  assert.equal(bundledCorpusDetail(corpus, [folder]), 'all 3 poems LLM 101 ships with (13 words); this folder shows 1 of them');
  assert.equal(bundledCorpusDetail(corpus, []), 'all 3 poems LLM 101 ships with (13 words)', 'no folder open');
  fs.cpSync(corpus, folder, { recursive: true });
  assert.equal(bundledCorpusDetail(corpus, [folder]), 'all 3 poems LLM 101 ships with (13 words)', 'a folder with every poem adds nothing');
  fs.rmSync(dir, { recursive: true, force: true });
  // the real corpus: as many poems as media/corpus holds, the playground's samples a few of them
  const root = path.resolve(__dirname, '..', '..');
  const poems = fs.readdirSync(path.join(root, 'media', 'corpus')).filter((f) => f.endsWith('.txt')).length;
  const samples = fs.readdirSync(path.join(root, 'samples')).filter((f) => f.endsWith('.txt')).length;
  assert.match(bundledCorpusDetail(path.join(root, 'media', 'corpus'), [path.join(root, 'samples')]), new RegExp(`^all ${poems} poems .*; this folder shows ${samples} of them$`));
});
