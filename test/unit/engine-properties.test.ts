// Properties every trace must have, whatever the weights: checked on block 1 of seeded models.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/engine/config';
import { TorchGenerator } from '../../src/engine/rng';
import { applyDropout, createMatrix } from '../../src/engine/tensor';
import { runTrace } from '../../src/engine/trace';
import type { Matrix, Trace } from '../../src/engine/types';
import { assertClose, maxAbsDiff } from './assertClose';
import { seededStages, tokensFromIds } from './engine-fixtures';

const config = { ...DEFAULT_CONFIG, vocabSize: 97, contextLength: 64 };
const { source, run } = seededStages(config, config);
const ids = Array.from({ length: 40 }, (_, i) => (i * 31 + 7) % config.vocabSize);
const trace = runTrace(tokensFromIds(ids), source, run);

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
      assertClose(sum, 1, { atol: 1e-5, label: `${name} row ${i} sum` });
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
        assertClose(value, w.data[i]! / (1 - config.dropout), { atol: 1e-6, label: `${name} entry ${i} kept` });
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
    assertClose(share, p, { atol: 0.005, label: `p ${p}: dropped share` });
    const ones = createMatrix(512, 512);
    ones.data.fill(1);
    const out = applyDropout(ones, keep, p);
    const mean = out.data.reduce((a, b) => a + b, 0) / out.data.length;
    assertClose(mean, 1, { atol: 0.02, label: `p ${p}: mean after inverted dropout` });
  }
});

test('layer norm output has mean ≈ 0 and variance ≈ 1 per token (scale 1, shift 0)', () => {
  const { output, outputMean, outputVariance, variance } = trace.layerNorm;
  for (let t = 0; t < output.rows; t++) {
    assertClose(outputMean[t]!, 0, { atol: 1e-5, label: `token ${t} mean` });
    // var/(var + eps) is the exact variance after normalising with eps = 1e-5
    const expected = variance[t]! / (variance[t]! + 1e-5);
    assertClose(outputVariance[t]!, expected, { atol: 1e-4, label: `token ${t} variance` });
    assertClose(outputVariance[t]!, 1, { atol: 1e-2, label: `token ${t} variance near 1` });
  }
});

test('the same inputs and seed give a byte-identical trace', () => {
  const again = runTrace(tokensFromIds(ids), seededStages(config, config).source, run);
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
  const other = runTrace(tokensFromIds(ids), source, { ...run, seed: run.seed + 1 });
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

/** softmax(scores / √d) row by row in double, −∞ (masked) giving 0: an independent reference. */
function softmaxReference(scores: Matrix, d: number): Float64Array {
  const out = new Float64Array(scores.rows * scores.cols);
  for (let i = 0; i < scores.rows; i++) {
    const row = Array.from(scores.data.subarray(i * scores.cols, (i + 1) * scores.cols), (s) => s / Math.sqrt(d));
    const top = Math.max(...row);
    const exps = row.map((x) => (x === -Infinity ? 0 : Math.exp(x - top)));
    const sum = exps.reduce((a, b) => a + b, 0);
    exps.forEach((e, j) => (out[i * scores.cols + j] = e / sum));
  }
  return out;
}

test('dropout 0 leaves the weights unchanged: after "dropout" they are softmax(scores / √d)', () => {
  const plain = runTrace(tokensFromIds(ids), source, { ...run, dropout: 0 });
  // compared with a softmax computed here, not with .weights (p = 0 passes that very array on)
  assertClose(plain.causal.droppedWeights, softmaxReference(plain.causal.maskedScores, plain.config.attnDim), { atol: 1e-6, label: 'causal at p = 0' });
  plain.multiHead.heads.forEach((head, h) =>
    assertClose(head.droppedWeights, softmaxReference(head.scores, plain.config.headDim), { atol: 1e-6, label: `head ${h} at p = 0` }));
});

test('T = 2048 with dim 28 and 7 heads runs (the time is logged)', () => {
  const big = seededStages({ ...DEFAULT_CONFIG, vocabSize: 50 }, DEFAULT_CONFIG);
  const tokens = tokensFromIds(Array.from({ length: 2048 }, (_, i) => i % 50));
  const started = performance.now();
  const result = runTrace(tokens, big.source, big.run);
  // the time is logged, not asserted (npm run bench measures speed)
  console.log(`runTrace T=2048 dim=28 heads=7: ${(performance.now() - started).toFixed(0)} ms`);
  assert.equal(result.multiHead.heads.length, 7);
  assert.equal(result.multiHead.heads[6]!.weights.rows, 2048);
});
