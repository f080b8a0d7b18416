// The book's word tokenizer. Vectors from Raschka, "Build a Large Language Model (From Scratch)",
// chapter 2, as printed in rasbt/LLMs-from-scratch ch02/01_main-chapter-code/ch02.ipynb.
// Fixture: test/fixtures/the-verdict.txt is "The Verdict" (Edith Wharton, 1908, public domain),
// byte for byte the copy in rasbt/LLMs-from-scratch ch02/01_main-chapter-code/the-verdict.txt
// (20,479 characters).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { EngineError } from '../../src/engine/config';
import { END_OF_TEXT, UNKNOWN, buildWordVocab, createWordTokenizer, splitWords } from '../../src/engine/tokenizer/word';
import { assertSpans, randomText, seededRandom } from './tokenizer-random';

const verdict = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'the-verdict.txt'), 'utf8');
const tokenizer = createWordTokenizer(verdict);
const ids = (text: string): number[] => tokenizer.encode(text).map((token) => token.id);

test('the fixture is the book copy of The Verdict', () => {
  assert.equal(verdict.length, 20_479); // ch02.ipynb: "Total number of character: 20479"
  assert.ok(verdict.startsWith('I HAD always thought Jack Gisburn rather a cheap genius--though a good fellow enough--so it was no '));
});

test('splitting follows the book', () => {
  const pieces = (text: string): string[] => splitWords(text).map((piece) => piece.text);
  assert.deepEqual(pieces('Hello, world. This, is a test.'), ['Hello', ',', 'world', '.', 'This', ',', 'is', 'a', 'test', '.']);
  assert.deepEqual(pieces('Hello, world. Is this-- a test?'), ['Hello', ',', 'world', '.', 'Is', 'this', '--', 'a', 'test', '?']);
  const story = pieces(verdict);
  assert.equal(story.length, 4_690);
  assert.deepEqual(story.slice(0, 30), [
    'I', 'HAD', 'always', 'thought', 'Jack', 'Gisburn', 'rather', 'a', 'cheap', 'genius', '--', 'though', 'a',
    'good', 'fellow', 'enough', '--', 'so', 'it', 'was', 'no', 'great', 'surprise', 'to', 'me', 'to', 'hear',
    'that', ',', 'in',
  ]);
});

test('the vocabulary of The Verdict has 1,130 words + 2 specials, in the book order', () => {
  const vocab = buildWordVocab(verdict);
  assert.equal(vocab.length, 1_132);
  assert.equal(tokenizer.vocabSize, 1_132);
  const first = ['!', '"', "'", '(', ')', ',', '--', '.', ':', ';', '?', 'A', 'Ah', 'Among', 'And', 'Are', 'Arrt'];
  assert.deepEqual(vocab.slice(0, first.length), first);
  assert.equal(vocab[44], 'HAD');
  assert.equal(vocab[50], 'Hermia');
  assert.deepEqual(vocab.slice(-5), ['younger', 'your', 'yourself', END_OF_TEXT, UNKNOWN]);
  assert.equal(tokenizer.idToToken(1_130), '<|endoftext|>');
  assert.equal(tokenizer.idToToken(1_131), '<|unk|>');
});

test('SimpleTokenizerV1 example: known words encode and decode as in the book', () => {
  const text = '"It\'s the last he painted, you know," \n           Mrs. Gisburn said with pardonable pride.';
  assert.deepEqual(ids(text), [1, 56, 2, 850, 988, 602, 533, 746, 5, 1126, 596, 5, 1, 67, 7, 38, 851, 1108, 754, 793, 7]);
  assert.equal(tokenizer.decode(ids(text)), '" It\' s the last he painted, you know," Mrs. Gisburn said with pardonable pride.');
});

test('SimpleTokenizerV2 example: unknown words and <|endoftext|>', () => {
  const text = 'Hello, do you like tea? <|endoftext|> In the sunlit terraces of the palace.';
  const tokens = tokenizer.encode(text);
  assert.deepEqual(
    tokens.map((token) => token.id),
    [1131, 5, 355, 1126, 628, 975, 10, 1130, 55, 988, 956, 984, 722, 988, 1131, 7],
  );
  assert.equal(
    tokenizer.decode(tokens.map((token) => token.id)),
    '<|unk|>, do you like tea? <|endoftext|> In the sunlit terraces of the <|unk|>.',
  );
  // Unknown words keep their surface form and offsets.
  assert.deepEqual(tokens[0], { id: 1131, text: 'Hello', start: 0, end: 5 });
  assert.deepEqual(tokens[7], { id: 1130, text: '<|endoftext|>', start: 24, end: 37 });
  assert.deepEqual(tokens[14], { id: 1131, text: 'palace', start: 68, end: 74 });
  assertSpans(text, tokens);
});

test('<|endoftext|> is the special token even when it touches words', () => {
  assert.deepEqual(ids('tea?<|endoftext|>In'), [975, 10, 1130, 55]);
  assert.deepEqual(ids('<|endoftext|><|endoftext|>'), [1130, 1130]);
  // A near miss is an ordinary (unknown) word.
  assert.deepEqual(ids('<|endoftext|'), [1131]);
});

test('decode removes the space before , . : ; ? ! " ( ) \' but not before --', () => {
  const wordIds = ids('I HAD always thought Jack Gisburn rather a cheap genius--though; he: was "no" (painting)!');
  assert.equal(tokenizer.decode(wordIds), 'I HAD always thought Jack Gisburn rather a cheap genius -- though; he: was" no"( painting)!');
  assert.equal(tokenizer.decode([]), '');
});

test('a corpus that spells out the specials does not duplicate them', () => {
  const vocab = buildWordVocab('b a <|endoftext|> a <|unk|> c');
  assert.deepEqual(vocab, ['a', 'b', 'c', END_OF_TEXT, UNKNOWN]);
  const small = createWordTokenizer('b a <|endoftext|> a <|unk|> c');
  assert.deepEqual(small.encode('<|unk|> c z').map((token) => token.id), [4, 2, 4]);
});

test('the vocabulary is sorted by code point, like Python', () => {
  // JS's default sort would put the emoji (surrogates 0xD83D...) before U+FFFD.
  assert.deepEqual(buildWordVocab('\ufffd 😀 b a é'), ['a', 'b', 'é', '\ufffd', '😀', END_OF_TEXT, UNKNOWN]);
});

test('bad input: a corpus without words, ids outside the vocabulary', () => {
  for (const corpus of ['', '   \n\t ']) {
    assert.throws(() => createWordTokenizer(corpus), (error: unknown) => error instanceof EngineError && /corpus has no words/.test(error.message));
  }
  for (const id of [-1, 1_132, 1.5, Number.NaN]) {
    assert.throws(() => tokenizer.decode([5, id]), (error: unknown) => error instanceof EngineError && /0 to 1131/.test(error.message));
    assert.throws(() => tokenizer.idToToken(id), EngineError);
  }
  assert.deepEqual(tokenizer.encode(''), []);
  assert.deepEqual(tokenizer.encode(' \n\t '), []);
});

test('property: random text gives correct, ordered spans, and only whitespace is dropped', () => {
  const random = seededRandom(20_240_501);
  for (let round = 0; round < 300; round++) {
    const text = randomText(random, 40, true);
    const tokens = tokenizer.encode(text);
    assertSpans(text, tokens);
    for (let i = 1; i < tokens.length; i++) {
      assert.ok((tokens[i]?.start ?? 0) >= (tokens[i - 1]?.end ?? 0), `tokens overlap in ${JSON.stringify(text)}`);
    }
    // What lies between tokens is whitespace only.
    let covered = 0;
    for (const token of [...tokens, { start: text.length, end: text.length }]) {
      assert.match(text.slice(covered, token.start), /^\s*$/, `non-space dropped in ${JSON.stringify(text)}`);
      covered = token.end;
    }
    // Any ids the tokenizer produced decode.
    assert.equal(typeof tokenizer.decode(tokens.map((token) => token.id)), 'string');
  }
});

test('round trip on the story itself: every word is known', () => {
  const tokens = tokenizer.encode(verdict);
  assert.equal(tokens.length, 4_690);
  assert.ok(tokens.every((token) => token.id !== 1_131));
  assertSpans(verdict, tokens);
  // Re-encoding the decoded story gives the same ids: decode only moves spaces.
  const storyIds = tokens.map((token) => token.id);
  assert.deepEqual(ids(tokenizer.decode(storyIds)), storyIds);
});
