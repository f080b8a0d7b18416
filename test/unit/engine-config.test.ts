// Bad input at the engine's boundary: every check names the problem and the fix.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CancelledError,
  DEFAULT_CONFIG,
  EngineError,
  checkTokens,
  checkTraceSize,
  divisors,
  validateConfig,
} from '../../src/engine/config';
import { journeyExample } from '../../src/engine/examples';
import { initWeights } from '../../src/engine/init';
import { STAGES, checkWeights, runTrace } from '../../src/engine/trace';
import type { EngineConfig, Weights } from '../../src/engine/types';
import { tokensFromIds } from './engine-fixtures';

const good: EngineConfig = { ...DEFAULT_CONFIG, vocabSize: 1132 };

function rejects(change: Partial<Record<keyof EngineConfig, unknown>>, message: RegExp): void {
  const config = { ...good, ...change } as EngineConfig;
  assert.throws(
    () => validateConfig(config),
    (err: unknown) => err instanceof EngineError && message.test(err.message),
    `${JSON.stringify(change)} should fail with ${message}`,
  );
}

test('the defaults are valid and are the ones the product documents', () => {
  validateConfig(good);
  assert.deepEqual(DEFAULT_CONFIG, {
    tokenizer: 'word',
    dim: 28,
    attnDim: 28,
    heads: 7,
    dropout: 0.4,
    seed: 123,
    contextLength: 2048,
    qkvBias: false,
  });
  assert.ok(Object.isFrozen(DEFAULT_CONFIG));
});

test('heads must divide attnDim; the message lists the valid head counts', () => {
  rejects({ heads: 5 }, /^heads \(5\) must divide attnDim \(28\); valid head counts: 1, 2, 4, 7, 14, 28$/);
  rejects({ heads: 4, attnDim: 6 }, /valid head counts: 1, 2, 3, 6$/);
  assert.deepEqual(divisors(12), [1, 2, 3, 4, 6, 12]);
  validateConfig({ ...good, heads: 14 });
});

test('sizes must be positive whole numbers', () => {
  for (const field of ['vocabSize', 'dim', 'attnDim', 'heads', 'contextLength'] as const) {
    for (const bad of [0, -3, 2.5, Number.NaN, Infinity, '8']) {
      rejects({ [field]: bad }, new RegExp(`^${field} must be a positive whole number, got `));
    }
  }
  rejects({ dim: -3 }, /got -3$/);
});

test('dropout must be in [0, 1)', () => {
  rejects({ dropout: 1 }, /^dropout must be at least 0 and below 1 .*got 1$/);
  rejects({ dropout: -0.1 }, /got -0.1$/);
  rejects({ dropout: Number.NaN }, /got NaN$/);
  validateConfig({ ...good, dropout: 0 });
  validateConfig({ ...good, dropout: 0.999 });
});

test('seed must be a whole number >= 0', () => {
  rejects({ seed: -1 }, /^seed must be a whole number >= 0, got -1$/);
  rejects({ seed: 1.5 }, /got 1.5$/);
  validateConfig({ ...good, seed: 2 ** 40 });
});

test('unknown tokenizer names the valid ones', () => {
  rejects({ tokenizer: 'sentencepiece' }, /^unknown tokenizer "sentencepiece"; use one of word, bpe, gpt2$/);
});

test('qkvBias must be a boolean', () => {
  rejects({ qkvBias: 'yes' }, /^qkvBias must be true or false/);
});

test('a model too large for memory is refused with the sizes to lower', () => {
  rejects({ dim: 8192, contextLength: 65536 }, /^the model would have \d{3},\d{3},\d{3} weights, above the 268,435,456 .*lower dim/);
  validateConfig({ ...good, vocabSize: 50257, dim: 768, attnDim: 768, heads: 12, contextLength: 1024 }); // GPT-2 small sizes
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
      /llm101\.contextLength/.test(err.message) &&
      /--context-length/.test(err.message),
  );
  checkTokens(tokens, 9);
});

test('token ids outside the vocabulary are refused', () => {
  assert.throws(() => checkTokens(tokensFromIds([0, 12]), 8, 12), /id 12, outside the vocabulary of 12/);
});

test('runTrace validates before it computes', () => {
  const { tokens, config, weights } = journeyExample();
  assert.throws(() => runTrace([], config, weights), /the text has no tokens/);
  assert.throws(() => runTrace(tokens, { ...config, heads: 3 }, weights), /heads \(3\) must divide attnDim \(2\); valid head counts: 1, 2/);
  assert.throws(() => runTrace(tokens, { ...config, contextLength: 4 }, weights), /pos_emb\.weight has shape \[6, 3\].*\[4, 3\] is expected/);
});

test('checkWeights names the offending tensor with expected and actual shapes', () => {
  const config: EngineConfig = { ...good, vocabSize: 10, contextLength: 16, dim: 6, attnDim: 4, heads: 2 };
  const weights = initWeights(config);
  checkWeights(config, weights);
  const broken = (edit: (w: Weights) => void): Weights => {
    const copy = initWeights(config);
    edit(copy);
    return copy;
  };
  const cases: [Weights, RegExp][] = [
    [broken((w) => (w.tokEmb = initWeights({ ...config, vocabSize: 11 }).tokEmb)), /weights: tok_emb\.weight has shape \[11, 6\].*but \[10, 6\] is expected/],
    [broken((w) => (w.selfAttn.key.weight = { rows: 4, cols: 5, data: new Float32Array(20) })), /self_attn\.W_key\.weight has shape \[4, 5\]/],
    [broken((w) => (w.mha.outProj.bias = new Float32Array(3))), /mha\.out_proj\.bias has shape \[3\] but \[4\] is expected/],
    [broken((w) => delete w.mha.outProj.bias), /mha\.out_proj\.bias is missing; expected shape \[4\]/],
    [broken((w) => (w.norm.shift = new Float32Array(5))), /norm\.shift has shape \[5\]/],
    [broken((w) => (w.mha.value.bias = new Float32Array(4))), /mha\.W_value\.bias is present but qkvBias is off/],
    [broken((w) => (w.posEmb = { rows: 16, cols: 6, data: new Float32Array(10) })), /pos_emb\.weight has shape \[16, 6\] \(10 values\)/],
  ];
  for (const [weights, message] of cases) assert.throws(() => checkWeights(config, weights), message);
  assert.throws(() => checkWeights({ ...config, qkvBias: true }, weights), /self_attn\.W_query\.bias is missing; expected shape \[4\]/);
});

test('an aborted signal stops the trace between stages with CancelledError', () => {
  const { tokens, config, weights } = journeyExample();
  const seen: string[] = [];
  const controller = new AbortController();
  assert.throws(
    () =>
      runTrace(tokens, config, weights, {
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
  assert.throws(() => runTrace(tokens, config, weights, { signal: aborted.signal }), CancelledError);
});

test('progress is reported once per stage, in order, ending at 1', () => {
  const { tokens, config, weights } = journeyExample();
  const seen: [string, number][] = [];
  runTrace(tokens, config, weights, { onProgress: (stage, fraction) => seen.push([stage, fraction]) });
  assert.deepEqual(seen.map(([stage]) => stage), [...STAGES]);
  assert.equal(seen.at(-1)![1], 1);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]![1] > seen[i - 1]![1]);
});
