// benchModel runs at small sizes and reports every field (no wall-clock assertions).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchModel, sampleIds } from '../../src/engine/gpt/bench';
import { createSeededGpt } from '../../src/engine/gpt/init';
import { gptForward } from '../../src/engine/layers/gptModel';

test('benchModel times the forward per length and generation with the cache', () => {
  const config = { vocabSize: 61, contextLength: 24, dim: 16, heads: 2, layers: 2, qkvBias: false, layerNormEps: 1e-5 };
  const result = benchModel({ config, seqs: [8, 40], reps: 2, promptTokens: 10, newTokens: 5 });
  assert.deepEqual(result.forward.map((f) => f.seq), [8, 24]); // cropped to the context
  assert.ok(result.forward.every((f) => f.samplesMs.length === 2 && f.ms >= 0 && f.unpackedMs >= 0 && f.lastLogits === undefined));
  assert.ok(result.packMs >= 0);
  assert.equal(result.generation.promptTokens, 10);
  assert.equal(result.generation.newTokens, 5);
  assert.equal(result.generation.ids.length, 5);
  assert.ok(result.generation.tokensPerSecond > 0);
});

test('benchModel keeps the last-row logits when asked: those of the forward', () => {
  const config = { vocabSize: 61, contextLength: 24, dim: 16, heads: 2, layers: 2, qkvBias: false, layerNormEps: 1e-5 };
  const model = createSeededGpt(config, 5);
  const result = benchModel({ model, seqs: [9], reps: 1, promptTokens: 4, newTokens: 2, keepLogits: true });
  assert.deepEqual(result.forward[0]!.lastLogits, gptForward(model, sampleIds(9, 61), { logits: 'last' }).logits!.data);
});
