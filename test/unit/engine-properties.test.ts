// Properties every trace must have, whatever the weights: checked on seeded random models.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/engine/config';
import { initWeights } from '../../src/engine/init';
import { TorchGenerator } from '../../src/engine/rng';
import { applyDropout, createMatrix } from '../../src/engine/tensor';
import { runTrace } from '../../src/engine/trace';
import type { EngineConfig, Matrix, Trace } from '../../src/engine/types';
import { maxAbsDiff } from './assertClose';
import { tokensFromIds } from './engine-fixtures';

const config: EngineConfig = { ...DEFAULT_CONFIG, vocabSize: 97, contextLength: 64 };
const weights = initWeights(config);
const ids = Array.from({ length: 40 }, (_, i) => (i * 31 + 7) % config.vocabSize);
const trace = runTrace(tokensFromIds(ids), config, weights);

function everyWeightMatrix(t: Trace): [string, Matrix][] {
  return [
    ['simple.weights', t.simple.weights],
    ['selfAttention.weights', t.selfAttention.weights],
    ['causal.weights', t.causal.weights],
    ...t.multiHead.heads.map((head, h): [string, Matrix] => [`multiHead.heads.${h}.weights`, head.weights]),
  ];
}

function causalPairs(t: Trace): [string, Matrix, Matrix][] {
  return [
    ['causal', t.causal.weights, t.causal.droppedWeights],
    ...t.multiHead.heads.map((head, h): [string, Matrix, Matrix] => [`head ${h}`, head.weights, head.droppedWeights]),
  ];
}

test('softmax rows sum to 1 in every attention stage', () => {
  for (const [name, w] of everyWeightMatrix(trace)) {
    for (let i = 0; i < w.rows; i++) {
      let sum = 0;
      for (let j = 0; j < w.cols; j++) sum += w.data[i * w.cols + j]!;
      assert.ok(Math.abs(sum - 1) < 1e-5, `${name} row ${i} sums to ${sum}`);
    }
  }
});

test('causal weights are exactly 0 above the diagonal, and so are the dropped weights', () => {
  for (const [name, w, dropped] of causalPairs(trace)) {
    for (let i = 0; i < w.rows; i++) {
      for (let j = i + 1; j < w.cols; j++) {
        assert.equal(w.data[i * w.cols + j], 0, `${name} weights [${i}][${j}]`);
        assert.equal(dropped.data[i * w.cols + j], 0, `${name} dropped [${i}][${j}]`);
      }
      assert.ok(w.data[i * w.cols]! > 0, `${name} row ${i} attends to the first token`);
    }
  }
});

test('masked scores are −∞ exactly above the diagonal', () => {
  const m = trace.causal.maskedScores;
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) assert.equal(m.data[i * m.cols + j] === -Infinity, j > i, `[${i}][${j}]`);
  }
});

test('dropped weights are 0 or weight/(1 − p) (as nn.Dropout rounds it)', () => {
  const scale = Math.fround(1 / Math.fround(1 - config.dropout));
  let kept = 0;
  let dropped = 0;
  for (const [name, w, d] of causalPairs(trace)) {
    for (let i = 0; i < w.data.length; i++) {
      const value = d.data[i]!;
      if (value === 0) {
        if (w.data[i] !== 0) dropped++;
      } else {
        kept++;
        assert.equal(value, Math.fround(w.data[i]! * scale), `${name} entry ${i}`);
        assert.ok(Math.abs(value - w.data[i]! / (1 - config.dropout)) < 1e-6);
      }
    }
  }
  assert.ok(kept > 0 && dropped > 0, `some kept (${kept}) and some dropped (${dropped})`);
});

test('the share dropped is near p on a large matrix', () => {
  for (const p of [0.1, 0.4, 0.75]) {
    const keep = new TorchGenerator(2024).dropoutMask(new Uint8Array(512 * 512), p);
    const share = 1 - keep.reduce((a, b) => a + b, 0) / keep.length;
    // 262,144 draws: the standard error is below 0.001
    assert.ok(Math.abs(share - p) < 0.005, `p ${p}: dropped share ${share}`);
    const ones = createMatrix(512, 512);
    ones.data.fill(1);
    const out = applyDropout(ones, keep, p);
    const mean = out.data.reduce((a, b) => a + b, 0) / out.data.length;
    assert.ok(Math.abs(mean - 1) < 0.02, `p ${p}: inverted dropout keeps the mean (${mean})`);
  }
});

test('layer norm output has mean ≈ 0 and variance ≈ 1 per token (scale 1, shift 0)', () => {
  const { output, outputMean, outputVariance, variance } = trace.layerNorm;
  for (let t = 0; t < output.rows; t++) {
    assert.ok(Math.abs(outputMean[t]!) < 1e-5, `token ${t} mean ${outputMean[t]}`);
    // var/(var + eps) is the exact variance after normalising with eps = 1e-5
    const expected = variance[t]! / (variance[t]! + 1e-5);
    assert.ok(Math.abs(outputVariance[t]! - expected) < 1e-4, `token ${t} variance ${outputVariance[t]}`);
    assert.ok(Math.abs(outputVariance[t]! - 1) < 1e-2, `token ${t} variance ${outputVariance[t]} near 1`);
  }
});

test('the same inputs and seed give a byte-identical trace', () => {
  const again = runTrace(tokensFromIds(ids), config, initWeights(config));
  const bytes = (t: Trace): Buffer[] =>
    [
      t.embeddings.input,
      t.simple.context,
      t.selfAttention.context,
      t.causal.droppedWeights,
      t.causal.context,
      ...t.multiHead.heads.map((h) => h.droppedWeights),
      t.multiHead.output,
      t.layerNorm.output,
    ].map((m) => Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
  const first = bytes(trace);
  bytes(again).forEach((b, i) => assert.ok(b.equals(first[i]!), `matrix ${i} differs`));
});

test('another dropout seed draws other masks (weights unchanged)', () => {
  const other = runTrace(tokensFromIds(ids), { ...config, seed: config.seed + 1 }, weights);
  assert.deepEqual(other.causal.weights.data, trace.causal.weights.data);
  assert.ok(maxAbsDiff(other.causal.droppedWeights, trace.causal.droppedWeights).diff > 0, 'causal mask differs');
  assert.ok(maxAbsDiff(other.multiHead.heads[0]!.droppedWeights, trace.multiHead.heads[0]!.droppedWeights).diff > 0);
});

test('every matrix gets its own mask: causal, head 0, head 1 … differ', () => {
  const zeros = (m: Matrix): string =>
    Array.from(m.data, (v, i) => (v === 0 && Math.floor(i / m.cols) >= i % m.cols ? '0' : '1')).join('');
  const patterns = [trace.causal.droppedWeights, ...trace.multiHead.heads.map((h) => h.droppedWeights)].map(zeros);
  assert.equal(new Set(patterns).size, patterns.length);
});

test('dropout 0 leaves the weights unchanged', () => {
  const plain = runTrace(tokensFromIds(ids), { ...config, dropout: 0 }, weights);
  assert.deepEqual(plain.causal.droppedWeights.data, plain.causal.weights.data);
  for (const head of plain.multiHead.heads) assert.deepEqual(head.droppedWeights.data, head.weights.data);
});

test('T = 2048 with dim 28 and 7 heads runs in reasonable time', () => {
  const big = { ...DEFAULT_CONFIG, vocabSize: 50 };
  const bigWeights = initWeights(big);
  const tokens = tokensFromIds(Array.from({ length: 2048 }, (_, i) => i % 50));
  const started = performance.now();
  const result = runTrace(tokens, big, bigWeights);
  const ms = performance.now() - started;
  console.log(`runTrace T=2048 dim=28 heads=7: ${ms.toFixed(0)} ms`);
  assert.equal(result.multiHead.heads.length, 7);
  assert.ok(ms < 20000, `took ${ms} ms`); // a loose bound for shared CI machines; the log shows the number
});
