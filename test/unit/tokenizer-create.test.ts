// createTokenizer: one entry point for word, bpe and gpt2, and its error messages.
// Fixture: test/fixtures/the-verdict.txt, the book's copy of "The Verdict" (Edith Wharton, 1908),
// from rasbt/LLMs-from-scratch ch02/01_main-chapter-code/the-verdict.txt.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CancelledError, EngineError } from '../../src/engine/config';
import { clearBpeCache, createTokenizer } from '../../src/engine/tokenizer';
import type { TokenizerKind } from '../../src/engine/types';

const verdict = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'the-verdict.txt'), 'utf8');

test('word: the book vector through createTokenizer', () => {
  const tokenizer = createTokenizer({ kind: 'word', corpus: verdict, vocabSize: 999 /* ignored */ });
  assert.equal(tokenizer.kind, 'word');
  assert.equal(tokenizer.vocabSize, 1_132);
  assert.deepEqual(
    tokenizer.encode('Hello, do you like tea? <|endoftext|> In the sunlit terraces of the palace.').map((token) => token.id),
    [1131, 5, 355, 1126, 628, 975, 10, 1130, 55, 988, 956, 984, 722, 988, 1131, 7],
  );
});

test('bpe: trains on the corpus, defaults to 512, and is cached', () => {
  clearBpeCache();
  const small = createTokenizer({ kind: 'bpe', corpus: 'aaabdaaabac', vocabSize: 259 });
  assert.equal(small.kind, 'bpe');
  assert.deepEqual(small.encode('aaabdaaabac').map((token) => token.id), [258, 100, 258, 97, 99]);

  const progress: number[] = [];
  const tokenizer = createTokenizer({ kind: 'bpe', corpus: verdict, onProgress: (fraction) => progress.push(fraction) });
  assert.equal(tokenizer.vocabSize, 512);
  assert.ok(progress.length > 2 && progress.at(-1) === 1);
  // The second time the model comes from the cache: no training, even with an aborted signal.
  const aborted = new AbortController();
  aborted.abort();
  const again = createTokenizer({ kind: 'bpe', corpus: verdict, signal: aborted.signal });
  assert.equal(again.vocabSize, 512);
  // A size not trained yet does train, and honours the signal.
  assert.throws(() => createTokenizer({ kind: 'bpe', corpus: verdict, vocabSize: 300, signal: aborted.signal }), CancelledError);
});

test('gpt2: ignores the corpus', () => {
  const tokenizer = createTokenizer({ kind: 'gpt2', corpus: 'anything' });
  assert.equal(tokenizer.kind, 'gpt2');
  assert.equal(tokenizer.vocabSize, 50_257);
  assert.deepEqual(tokenizer.encode('Akwirw ier').map((token) => token.id), [33901, 86, 343, 86, 220, 959]);
  assert.equal(createTokenizer({ kind: 'gpt2' }).vocabSize, 50_257);
});

test('errors name the fix', () => {
  const refused = (options: Parameters<typeof createTokenizer>[0], ...patterns: RegExp[]): void => {
    assert.throws(
      () => createTokenizer(options),
      (error: unknown) => {
        assert.ok(error instanceof EngineError, String(error));
        for (const pattern of patterns) assert.match(error.message, pattern);
        return true;
      },
    );
  };
  refused({ kind: 'sentencepiece' as TokenizerKind, corpus: verdict }, /unknown tokenizer "sentencepiece"/, /word, bpe, gpt2/);
  refused({ kind: undefined as unknown as TokenizerKind }, /unknown tokenizer/, /word, bpe, gpt2/);
  refused({ kind: 'word' }, /word tokenizer/, /corpus is missing/, /the gpt2 tokenizer$/);
  assert.throws(() => createTokenizer({ kind: 'word' }), { setting: 'corpusPath' });
  refused({ kind: 'bpe', corpus: '  \n' }, /bpe tokenizer/, /corpus is empty/);
  refused({ kind: 'bpe', corpus: verdict, vocabSize: 100 }, /below the minimum 256/);
  refused({ kind: 'bpe', corpus: verdict, vocabSize: 1_000_000 }, /above the maximum 65536/);
  refused({ kind: 'word', corpus: '<|endoftext|> <|unk|>' }, /corpus has no words/); // only the specials
});
