// GPT-2's tokenizer through js-tiktoken. Vectors: tiktoken's own output and Raschka, "Build a Large Language
// Model (From Scratch)", chapter 2, as printed in rasbt/LLMs-from-scratch
// ch02/01_main-chapter-code/ch02.ipynb (tiktoken 0.7.0, encoding "gpt2").
// Fixture: test/fixtures/the-verdict.txt, the book's copy of "The Verdict" (Edith Wharton, 1908).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import * as esbuild from 'esbuild';
import { EngineError } from '../../src/engine/config';
import { GPT2_END_OF_TEXT_ID, createGpt2Tokenizer } from '../../src/engine/tokenizer/gpt2';
import type { Tokenizer } from '../../src/engine/types';
import { assertCover, randomText, seededRandom, wholeCharacterTokens } from './tokenizer-random';

const ranksLoaded = (): boolean => Object.keys(require.cache).some((file) => /ranks[\\/]gpt2\.c?js$/.test(file));

// Checked before any test creates a tokenizer: importing gpt2.ts must not load the ranks.
const loadedAtImport = ranksLoaded();
let cached: Tokenizer | undefined;
const gpt2 = (): Tokenizer => (cached ??= createGpt2Tokenizer());
const ids = (text: string): number[] => gpt2().encode(text).map((token) => token.id);

test('the rank table loads only when a GPT-2 tokenizer is created', () => {
  assert.equal(loadedAtImport, false);
  const t0 = performance.now();
  gpt2();
  console.log(`# GPT-2 ranks loaded in ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(ranksLoaded(), true);
  assert.equal(gpt2().vocabSize, 50_257);
});

test('tiktoken vectors: an unknown word, and text around <|endoftext|>', () => {
  assert.deepEqual(ids('Akwirw ier'), [33901, 86, 343, 86, 220, 959]);
  const text = 'Hello, do you like tea? <|endoftext|> In the sunlit terraces of someunknownPlace.';
  const tokens = gpt2().encode(text);
  assert.deepEqual(
    tokens.map((token) => token.id),
    [15496, 11, 466, 345, 588, 8887, 30, 220, 50256, 554, 262, 4252, 18250, 8812, 2114, 286, 617, 34680, 27271, 13],
  );
  assert.deepEqual(
    tokens.map((token) => token.text),
    ['Hello', ',', ' do', ' you', ' like', ' tea', '?', ' ', '<|endoftext|>', ' In', ' the', ' sun', 'lit', ' terr', 'aces', ' of', ' some', 'unknown', 'Place', '.'],
  );
  assert.deepEqual(tokens[8], { id: GPT2_END_OF_TEXT_ID, text: '<|endoftext|>', start: 24, end: 37 });
  assertCover(text, tokens);
  assert.equal(gpt2().decode(tokens.map((token) => token.id)), text);
  assert.equal(gpt2().decode([33901, 86, 343, 86, 220, 959]), 'Akwirw ier');
});

test('book vectors: the notebook example and The Verdict', () => {
  // The notebook's text lacks a space in "terracesof" and so has 1659 where the has 286.
  assert.deepEqual(ids('Hello, do you like tea? <|endoftext|> In the sunlit terracesof someunknownPlace.'), [
    15496, 11, 466, 345, 588, 8887, 30, 220, 50256, 554, 262, 4252, 18250, 8812, 2114, 1659, 617, 34680, 27271, 13,
  ]);
  const verdict = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'the-verdict.txt'), 'utf8');
  const story = gpt2().encode(verdict);
  assert.equal(story.length, 5_145);
  assert.deepEqual(story.slice(0, 6).map((token) => token.id), [40, 367, 2885, 1464, 1807, 3619]);
  assert.deepEqual(story.slice(50, 55).map((token) => token.id), [290, 4920, 2241, 287, 257]);
  assert.deepEqual(story.slice(50, 55).map((token) => token.text), [' and', ' established', ' himself', ' in', ' a']);
  assertCover(verdict, story);
  assert.equal(gpt2().decode(story.map((token) => token.id)), verdict);
});

test('idToToken: text for whole characters, <0xNN> for a piece of one', () => {
  assert.equal(gpt2().idToToken(15496), 'Hello');
  assert.equal(gpt2().idToToken(220), ' ');
  assert.equal(gpt2().idToToken(GPT2_END_OF_TEXT_ID), '<|endoftext|>');
  // An emoji GPT-2 does not know is split into byte tokens that each hold part of it.
  const tokens = gpt2().encode('🦩');
  assert.ok(tokens.length > 1);
  assert.ok(tokens.every((token) => token.start === 0 && token.end === 2 && token.text === '🦩'));
  assert.ok(tokens.some((token) => /<0x[0-9A-F]{2}>/.test(gpt2().idToToken(token.id))));
});

test('bad ids are refused with the range', () => {
  for (const id of [-1, 50_257, 1.5]) {
    assert.throws(() => gpt2().decode([id]), (error: unknown) => error instanceof EngineError && /0 to 50256/.test(error.message));
    assert.throws(() => gpt2().idToToken(id), EngineError);
  }
  assert.deepEqual(gpt2().encode(''), []);
});

test('property: random Unicode round-trips, spans cover the input', () => {
  // Lone surrogates are left out: js-tiktoken turns them into U+FFFD (UTF-8 cannot hold them).
  const random = seededRandom(99);
  for (let round = 0; round < 300; round++) {
    const text = randomText(random, 40, false);
    const tokens = gpt2().encode(text);
    assert.equal(gpt2().decode(tokens.map((token) => token.id)), text, JSON.stringify(text));
    assertCover(text, tokens);
    for (const token of wholeCharacterTokens(tokens)) assert.equal(gpt2().decode([token.id]), token.text);
  }
  // With a lone surrogate the offsets still hold (it is 3 bytes either way).
  const text = 'a\ud800b';
  assertCover(text, gpt2().encode(text));
});

test('esbuild bundles it (ranks included) and the bundle works', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-gpt2-'));
  try {
    const outfile = path.join(dir, 'gpt2.js');
    await esbuild.build({
      entryPoints: [path.join(__dirname, '..', '..', 'src', 'engine', 'tokenizer', 'gpt2.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      outfile,
      logLevel: 'silent',
    });
    const bundled = createRequire(__filename)(outfile) as { createGpt2Tokenizer: () => Tokenizer };
    assert.deepEqual(
      bundled.createGpt2Tokenizer().encode('Akwirw ier').map((token) => token.id),
      [33901, 86, 343, 86, 220, 959],
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
