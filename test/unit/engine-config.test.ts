// Bad input at the engine's boundary: every check names the problem and the fix.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CancelledError,
  DEFAULT_CONFIG,
  EngineError,
  LAYER_NORM_EPS,
  MAX_WEIGHTS,
  checkTokens,
  checkTraceSize,
  divisors,
  validateGptConfig,
  validateSettings,
  type EngineSettings,
} from '../../src/engine/config';
import { journeyExample } from '../../src/engine/examples';
import type { GptConfig } from '../../src/engine/gpt/types';
import { STAGES, checkBookChapter3Weights, runTrace, type BookChapter3Weights } from '../../src/engine/trace';
import { tokensFromIds } from './engine-fixtures';

const good: EngineSettings = { ...DEFAULT_CONFIG };

/** The settings with `change` are refused with `message`, and the error names `setting`. */
function rejects(change: Partial<Record<keyof EngineSettings, unknown>>, message: RegExp, setting?: string): void {
  const settings = { ...good, ...change } as EngineSettings;
  assert.throws(
    () => validateSettings(settings),
    (err: unknown) => err instanceof EngineError && message.test(err.message) && (setting === undefined || err.setting === setting),
    `${JSON.stringify(change)} should fail with ${message}${setting ? ` naming ${setting}` : ''}`,
  );
}

test('the defaults are valid and are the ones the product documents', () => {
  validateSettings(good);
  assert.deepEqual(DEFAULT_CONFIG, {
    tokenizer: 'word',
    dim: 28,
    heads: 7,
    dropout: 0.4,
    seed: 123,
    contextLength: 2048,
    qkvBias: false,
  });
  assert.ok(Object.isFrozen(DEFAULT_CONFIG));
});

test('heads must divide dim; the message lists the valid head counts and the error names the setting', () => {
  rejects({ heads: 5 }, /^heads \(5\) must divide dim \(28\); valid head counts: 1, 2, 4, 7, 14, 28$/, 'heads');
  rejects({ heads: 4, dim: 6 }, /valid head counts: 1, 2, 3, 6$/, 'heads');
  assert.deepEqual(divisors(12), [1, 2, 3, 4, 6, 12]);
  validateSettings({ ...good, heads: 14 });
});

test('sizes must be positive whole numbers', () => {
  for (const field of ['dim', 'heads', 'contextLength'] as const) {
    for (const bad of [0, -3, 2.5, Number.NaN, Infinity, '8']) {
      rejects({ [field]: bad }, new RegExp(`^${field} must be a positive whole number, got `), field);
    }
  }
  rejects({ dim: -3 }, /got -3$/);
  for (const bad of [0, 49, 2.5]) rejects({ layers: bad }, new RegExp(`^layers must be a whole number from 1 to 48, got ${bad}$`), 'layers');
});

test('dropout must be in [0, 1)', () => {
  rejects({ dropout: 1 }, /^dropout must be at least 0 and below 1 .*got 1$/, 'dropout');
  rejects({ dropout: -0.1 }, /got -0.1$/);
  rejects({ dropout: Number.NaN }, /got NaN$/);
  validateSettings({ ...good, dropout: 0 });
  validateSettings({ ...good, dropout: 0.999 });
});

test('seed must be a whole number >= 0', () => {
  rejects({ seed: -1 }, /^seed must be a whole number >= 0, got -1$/, 'seed');
  rejects({ seed: 1.5 }, /got 1.5$/);
  validateSettings({ ...good, seed: 2 ** 40 });
});

test('unknown tokenizer names the valid ones', () => {
  rejects({ tokenizer: 'sentencepiece' }, /^unknown tokenizer "sentencepiece"; use one of word, bpe, gpt2$/, 'tokenizer');
});

test('qkvBias must be a boolean', () => {
  rejects({ qkvBias: 'yes' }, /^qkvBias must be true or false/, 'qkvBias');
});

test('with a checkpoint only heads and layers of the sizes are the settings’', () => {
  validateSettings({ ...good, dim: 0, heads: 5 }, { sizesFromWeights: true });
  assert.throws(() => validateSettings({ ...good, heads: 0 }, { sizesFromWeights: true }), /^EngineError: heads must be a positive whole number, got 0$/);
});

test('one limit for every model: too large is refused with the sizes to lower, GPT-2 medium fits', () => {
  const model = (change: Partial<GptConfig>): GptConfig => ({
    vocabSize: 50257, contextLength: 1024, dim: 1024, heads: 16, layers: 24, qkvBias: true, layerNormEps: LAYER_NORM_EPS, ...change,
  });
  validateGptConfig(model({})); // GPT-2 medium
  assert.throws(() => validateGptConfig(model({ dim: 1280, heads: 20, layers: 36 })), /^EngineError: the model would have 838,\d{3},\d{3} weights, above the 536,870,912 .*fewer layers, a smaller dim/);
  assert.equal(MAX_WEIGHTS, 2 ** 29);
  // the settings are checked against the same limit before the tokenizer is built
  rejects({ dim: 8192, heads: 8, contextLength: 65536 }, /^the model would have \d{1,3}(,\d{3})+ weights, above the 536,870,912/);
});

test('a trace too large for memory says how many tokens fit', () => {
  checkTraceSize(2048, 7); // the defaults fit
  assert.throws(() => checkTraceSize(8192, 7), /^EngineError: tracing 8192 tokens with 7 heads needs about 7\.1 GiB; select at most 4\d{3} tokens or use fewer heads$/);
});

test('empty input: "the text has no tokens; select some text"', () => {
  assert.throws(() => checkTokens([], 2048), { name: 'EngineError', message: 'the text has no tokens; select some text' });
});

test('too many tokens: the count, the limit and the setting that raises it', () => {
  const tokens = tokensFromIds(new Array<number>(9).fill(0));
  assert.throws(
    () => checkTokens(tokens, 8),
    (err: unknown) =>
      err instanceof EngineError &&
      /has 9 tokens/.test(err.message) &&
      /context length is 8/.test(err.message) &&
      err.setting === 'contextLength',
  );
  checkTokens(tokens, 9);
});

test('token ids outside the vocabulary are refused', () => {
  assert.throws(() => checkTokens(tokensFromIds([0, 12]), 8, 12), /id 12, outside the vocabulary of 12/);
});

test('runTrace validates before it computes', () => {
  const { tokens, source, run } = journeyExample();
  assert.throws(() => runTrace([], source, run), /the text has no tokens/);
  assert.throws(() => runTrace(tokens, { ...source, heads: 3 }, run), /heads \(3\) must divide attnDim \(2\); valid head counts: 1, 2/);
  assert.throws(() => runTrace(tokens, source, { ...run, dropout: 1 }), /dropout must be at least 0 and below 1/);
  assert.throws(() => runTrace(tokens.concat(tokens), source, run), /the text has 12 tokens but the context length is 6/);
});

test("the book's chapter 3 modules: the offending tensor is named with expected and actual shapes", () => {
  const weights = (): BookChapter3Weights => structuredClone(journeyExample().source.weights);
  checkBookChapter3Weights(weights(), 2);
  const broken = (edit: (w: BookChapter3Weights) => void): BookChapter3Weights => {
    const copy = weights();
    edit(copy);
    return copy;
  };
  const cases: [BookChapter3Weights, RegExp][] = [
    [broken((w) => (w.selfAttn.key.weight = { rows: 2, cols: 5, data: new Float32Array(10) })), /self_attn\.W_key\.weight has shape \[2, 5\].*but \[2, 3\] is expected/],
    [broken((w) => (w.mha.outProj.bias = new Float32Array(3))), /mha\.out_proj\.bias has shape \[3\] but \[2\] is expected/],
    [broken((w) => delete w.mha.outProj.bias), /mha\.out_proj\.bias is missing; expected shape \[2\]/],
    [broken((w) => (w.norm.shift = new Float32Array(5))), /norm\.shift has shape \[5\]/],
    [broken((w) => (w.mha.value.bias = new Float32Array(2))), /mha\.W_value\.bias is present but mha\.W_query has none/],
    [broken((w) => (w.posEmb = { rows: 6, cols: 3, data: new Float32Array(10) })), /pos_emb\.weight has shape \[6, 3\] \(10 values\)/],
  ];
  for (const [w, message] of cases) assert.throws(() => checkBookChapter3Weights(w, 2), message);
});

test('an aborted signal stops the trace between stages with CancelledError', () => {
  const { tokens, source, run } = journeyExample();
  const seen: string[] = [];
  const controller = new AbortController();
  assert.throws(
    () =>
      runTrace(tokens, source, run, {
        signal: controller.signal,
        onProgress: (stage) => {
          seen.push(stage);
          if (stage === 'selfAttention') controller.abort();
        },
      }),
    (err: unknown) => err instanceof CancelledError && err instanceof EngineError && err.message === 'cancelled',
  );
  assert.deepEqual(seen, ['tokens', 'embeddings', 'simple', 'selfAttention']);
  const aborted = new AbortController();
  aborted.abort();
  assert.throws(() => runTrace(tokens, source, run, { signal: aborted.signal }), CancelledError);
});

test('progress is reported once per stage, in order, ending at 1', () => {
  const { tokens, source, run } = journeyExample();
  const seen: [string, number][] = [];
  runTrace(tokens, source, run, { onProgress: (stage, fraction) => seen.push([stage, fraction]) });
  assert.deepEqual(seen.map(([stage]) => stage), [...STAGES]);
  assert.equal(seen.at(-1)![1], 1);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]![1] > seen[i - 1]![1]);
});
