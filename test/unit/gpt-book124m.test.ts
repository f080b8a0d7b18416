// The book's acceptance check of its untrained GPT (section 4.7): GPT_CONFIG_124M with qkv_bias
// False, torch.manual_seed(123), GPTModel(cfg), then generate_text_simple greedily for 6 tokens
// from "Hello, I am" with the gpt2 tokenizer. The book prints
//   "Hello, I am Featureiman Byeswickattribute argue".
// Seeding draws 163M weights (650 MB of float32); the test holds one model and lets it go at the end.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gptWeightCount } from '../../src/engine/config';
import { checkTokenizerFits, GPT_CONFIG_124M } from '../../src/engine/gpt/config';
import { generate } from '../../src/engine/gpt/generate';
import { createSeededGpt } from '../../src/engine/gpt/init';
import type { GptModel } from '../../src/engine/gpt/types';
import { createTokenizer } from '../../src/engine/tokenizer';

test("the book's 124M model seeded with 123 continues 'Hello, I am' as in section 4.7, with and without the cache", () => {
  let model: GptModel | undefined = createSeededGpt(GPT_CONFIG_124M, 123);
  assert.equal(gptWeightCount(GPT_CONFIG_124M), 163_009_536); // the book's "Total number of parameters"
  const tokenizer = createTokenizer({ kind: 'gpt2' });
  const prompt = tokenizer.encode('Hello, I am').map((token) => token.id);
  assert.deepEqual(prompt, [15496, 11, 314, 716]); // the book's encoded: [15496, 11, 314, 716]
  const cached = generate(model, prompt, { maxNewTokens: 6 });
  assert.deepEqual(cached, [27018, 24086, 47843, 30961, 42348, 7267]); // the book's out tensor
  assert.equal(tokenizer.decode([...prompt, ...cached]), 'Hello, I am Featureiman Byeswickattribute argue');
  assert.deepEqual(generate(model, prompt, { maxNewTokens: 6, cache: false }), cached);
  model = undefined; // 650 MB for the collector
});

test('a tokenizer whose vocabulary is not the model\'s is refused, naming both sizes', () => {
  assert.doesNotThrow(() => checkTokenizerFits(GPT_CONFIG_124M, { kind: 'gpt2', vocabSize: 50257 }));
  assert.throws(
    () => checkTokenizerFits(GPT_CONFIG_124M, { kind: 'word', vocabSize: 1130 }),
    { message: "the word tokenizer has a vocabulary of 1130 but the model's is 50257; use the gpt2 tokenizer", setting: 'tokenizer' },
  );
});
