// traceToJson: the CLI's JSON shape, float32-faithful numbers, null only for masked scores.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineError } from '../../src/engine/config';
import { journeyExample } from '../../src/engine/examples';
import { float32ToJson, traceToJson } from '../../src/engine/serialize';
import { runTrace } from '../../src/engine/trace';

const example = journeyExample({ dropout: 0.5, seed: 123 });
const trace = runTrace(example.tokens, example.source, example.run);
const json = traceToJson(trace);
const text = JSON.stringify(json);

test('top-level keys and config are exactly the documented ones', () => {
  assert.deepEqual(Object.keys(json), ['config', 'tokens', 'embeddings', 'simple', 'selfAttention', 'causal', 'multiHead', 'layerNorm']);
  assert.deepEqual(json.config, {
    stages: 'book chapter 3',
    tokenizer: 'word',
    vocabSize: 6,
    dim: 3,
    attnDim: 2,
    heads: 2,
    headDim: 1,
    dropout: 0.5,
    seed: 123,
    contextLength: 6,
    qkvBias: false,
  });
  assert.deepEqual(Object.keys(json.causal), ['maskedScores', 'weights', 'droppedWeights', 'context']);
  assert.deepEqual(Object.keys(json.multiHead.heads[0]!), ['queries', 'keys', 'values', 'scores', 'weights', 'droppedWeights', 'context']);
  assert.deepEqual(Object.keys(json.layerNorm), ['input', 'mean', 'variance', 'output', 'outputMean', 'outputVariance']);
  assert.deepEqual(json.tokens[1], { text: 'journey', id: 1, start: 5, end: 12 });
});

test('matrices are nested arrays, one row per token', () => {
  assert.equal(json.embeddings.input.length, 6);
  assert.deepEqual(json.embeddings.input[0], [0.43, 0.15, 0.89]);
  assert.equal(json.simple.scores[5]!.length, 6);
  assert.equal(json.selfAttention.context[0]!.length, 2);
  assert.equal(json.layerNorm.mean.length, 6);
});

test('masked scores are null above the diagonal and numbers elsewhere; nothing else is null', () => {
  json.causal.maskedScores.forEach((row, i) =>
    row.forEach((value, j) => assert.equal(value === null, j > i, `[${i}][${j}]`)),
  );
  json.multiHead.heads.forEach((head, h) =>
    head.scores.forEach((row, i) => row.forEach((value, j) => assert.equal(value === null, j > i, `head ${h} [${i}][${j}]`))),
  );
  const nulls = text.match(/null/g)?.length ?? 0;
  assert.equal(nulls, 15 * 3); // the 6·5/2 masked entries of the causal map and of each of the two heads
  assert.ok(!/NaN|Infinity/.test(text));
});

test('numbers are the shortest decimals that read back as the same float32', () => {
  assert.equal(float32ToJson(Math.fround(0.1)), 0.1);
  assert.equal(float32ToJson(Math.fround(1 / 3)), 0.33333334);
  assert.equal(float32ToJson(0), 0);
  assert.equal(float32ToJson(Math.fround(-2.5e-7)), -2.5e-7);
  for (const value of [Math.fround(Math.PI), Math.fround(1e-30), Math.fround(123456.789), Math.fround(-0.0001234)]) {
    const written = float32ToJson(value);
    assert.equal(Math.fround(written), value);
    assert.ok(String(written).replace(/^-|\.|e.*$/g, '').replace(/^0+/, '').length <= 9);
  }
  const roundTrip = JSON.parse(text) as typeof json;
  const context = trace.multiHead.output.data;
  roundTrip.multiHead.output.flat().forEach((v, i) => assert.equal(Math.fround(v), context[i]));
});

test('a non-finite number outside the mask is an error that names where it is', () => {
  const broken = runTrace(example.tokens, example.source, example.run);
  broken.simple.weights.data[7] = Number.NaN;
  assert.throws(() => traceToJson(broken), (err: unknown) => err instanceof EngineError && /simple\.weights\[1\]\[1\] is NaN/.test(err.message));
});

test('every head keeps its scores and the config keeps qkvBias (what the JSON export once dropped)', () => {
  const withBias = journeyExample();
  const bias = (n: number) => Float32Array.from({ length: n }, (_, i) => 0.01 * (i + 1));
  const weights = structuredClone(withBias.source.weights);
  for (const layer of [weights.selfAttn.query, weights.selfAttn.key, weights.selfAttn.value, weights.mha.query, weights.mha.key, weights.mha.value]) {
    layer.bias = bias(layer.weight.rows);
  }
  const biased = { ...withBias.source, weights };
  const out = traceToJson(runTrace(withBias.tokens, biased, withBias.run));
  assert.equal(out.config.qkvBias, true);
  const head = runTrace(withBias.tokens, biased, withBias.run).multiHead.heads[1]!;
  assert.equal(out.multiHead.heads[1]!.scores[3]![2], float32ToJson(head.scores.data[3 * 6 + 2]!));
});
