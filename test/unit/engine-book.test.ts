// The book's chapter 3 example reproduced by the engine. Printed values are copied from the
// outputs of ch03/01_main-chapter-code/ch03.ipynb in github.com/rasbt/LLMs-from-scratch
// (commit 28c65cdfbc3338e2e040016eea4b7fdf556e4d57, torch 2.4.0); "exec N" names the cell.
// The book prints 4 decimals, so agreement means a difference of at most 5e-5.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { journeyExample } from '../../src/engine/examples';
import { runTrace } from '../../src/engine/trace';
import type { Linear, Matrix } from '../../src/engine/types';
import { assertClose } from './assertClose';
import { loadCase } from './engine-fixtures';

const PRINTED = { atol: 5e-5 + 1e-7 };

/** Only the entries at or below the diagonal (the ones the book shows as numbers). */
function lowerTriangle(m: Matrix): number[] {
  const values: number[] = [];
  for (let i = 0; i < m.rows; i++) for (let j = 0; j <= i; j++) values.push(m.data[i * m.cols + j]!);
  return values;
}

const book = journeyExample();
const trace = runTrace(book.tokens, book.source, book.run);

test('tokens are the six words with offsets into the text', () => {
  assert.equal(book.text, 'Your journey starts with one step');
  assert.deepEqual(
    book.tokens.map((t) => [t.id, t.text, book.text.slice(t.start, t.end)]),
    ['Your', 'journey', 'starts', 'with', 'one', 'step'].map((w, i) => [i, w, w]),
  );
  assert.deepEqual(trace.config, {
    stages: 'book chapter 3',
    tokenizer: 'word',
    vocabSize: 6,
    dim: 3,
    attnDim: 2,
    heads: 2,
    headDim: 1,
    dropout: 0,
    seed: 123,
    contextLength: 6,
    qkvBias: false,
  });
});

test('3.3.1 simple attention: attn_scores = inputs @ inputs.T (exec 10)', () => {
  assertClose(
    trace.simple.scores,
    [
      [0.9995, 0.9544, 0.9422, 0.4753, 0.4576, 0.631],
      [0.9544, 1.495, 1.4754, 0.8434, 0.707, 1.0865],
      [0.9422, 1.4754, 1.457, 0.8296, 0.7154, 1.0605],
      [0.4753, 0.8434, 0.8296, 0.4937, 0.3474, 0.6565],
      [0.4576, 0.707, 0.7154, 0.3474, 0.6654, 0.2935],
      [0.631, 1.0865, 1.0605, 0.6565, 0.2935, 0.945],
    ],
    { ...PRINTED, label: 'simple.scores' },
  );
});

test('3.3.2 simple attention weights and context vectors (exec 11, exec 13)', () => {
  assertClose(
    trace.simple.weights,
    [
      [0.2098, 0.2006, 0.1981, 0.1242, 0.122, 0.1452],
      [0.1385, 0.2379, 0.2333, 0.124, 0.1082, 0.1581],
      [0.139, 0.2369, 0.2326, 0.1242, 0.1108, 0.1565],
      [0.1435, 0.2074, 0.2046, 0.1462, 0.1263, 0.172],
      [0.1526, 0.1958, 0.1975, 0.1367, 0.1879, 0.1295],
      [0.1385, 0.2184, 0.2128, 0.142, 0.0988, 0.1896],
    ],
    { ...PRINTED, label: 'simple.weights' },
  );
  assertClose(
    trace.simple.context,
    [
      [0.4421, 0.5931, 0.579],
      [0.4419, 0.6515, 0.5683],
      [0.4431, 0.6496, 0.5671],
      [0.4304, 0.6298, 0.551],
      [0.4671, 0.591, 0.5266],
      [0.4177, 0.6503, 0.5645],
    ],
    { ...PRINTED, label: 'simple.context' },
  );
});

test('3.4.2 SelfAttention_v2 after torch.manual_seed(789): context vectors (exec 24)', () => {
  assertClose(
    trace.selfAttention.context,
    [
      [-0.0739, 0.0713],
      [-0.0748, 0.0703],
      [-0.0749, 0.0702],
      [-0.076, 0.0685],
      [-0.0763, 0.0679],
      [-0.0754, 0.0693],
    ],
    { ...PRINTED, label: 'selfAttention.context' },
  );
  assertClose(
    trace.selfAttention.weights,
    [
      [0.1921, 0.1646, 0.1652, 0.155, 0.1721, 0.151],
      [0.2041, 0.1659, 0.1662, 0.1496, 0.1665, 0.1477],
      [0.2036, 0.1659, 0.1662, 0.1498, 0.1664, 0.148],
      [0.1869, 0.1667, 0.1668, 0.1571, 0.1661, 0.1564],
      [0.183, 0.1669, 0.167, 0.1588, 0.1658, 0.1585],
      [0.1935, 0.1663, 0.1666, 0.1542, 0.1666, 0.1529],
    ],
    { ...PRINTED, label: 'selfAttention.weights (exec 25)' },
  );
});

test('3.5.1 causal mask: masked scores (exec 29) and causal attention weights (exec 30)', () => {
  assertClose(
    lowerTriangle(trace.causal.maskedScores),
    [0.2899, 0.4656, 0.1723, 0.4594, 0.1703, 0.1731, 0.2642, 0.1024, 0.1036, 0.0186, 0.2183, 0.0874, 0.0882, 0.0177,
      0.0786, 0.3408, 0.127, 0.129, 0.0198, 0.129, 0.0078],
    { ...PRINTED, label: 'causal.maskedScores' },
  );
  for (let i = 0; i < 6; i++) {
    for (let j = i + 1; j < 6; j++) assert.equal(trace.causal.maskedScores.data[i * 6 + j], -Infinity);
  }
  // the book's printed causal attention weights (exec 30)
  const printedCausal = [
    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [0.5517, 0.4483, 0.0, 0.0, 0.0, 0.0],
    [0.38, 0.3097, 0.3103, 0.0, 0.0, 0.0],
    [0.2758, 0.246, 0.2462, 0.2319, 0.0, 0.0],
    [0.2175, 0.1983, 0.1984, 0.1888, 0.1971, 0.0],
    [0.1935, 0.1663, 0.1666, 0.1542, 0.1666, 0.1529],
  ];
  assertClose(trace.causal.weights, printedCausal, { ...PRINTED, label: 'causal.weights' });
  // dropout 0 (the example's default): nothing dropped, so the weights after dropout are the
  // book's printed weights too (checked against the printout, not against causal.weights, which
  // dropout at p = 0 passes through as the same array)
  assertClose(trace.causal.droppedWeights, printedCausal, { ...PRINTED, label: 'causal.droppedWeights at p = 0' });
});

test('3.5.2 with --dropout 0.5 --seed 123: torch.manual_seed(123); dropout(attn_weights) (exec 32)', () => {
  const withDropout = journeyExample({ dropout: 0.5, seed: 123 });
  const dropped = runTrace(withDropout.tokens, withDropout.source, withDropout.run);
  assertClose(
    dropped.causal.droppedWeights,
    [
      [2.0, 0.0, 0.0, 0.0, 0.0, 0.0],
      [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
      [0.7599, 0.6194, 0.6206, 0.0, 0.0, 0.0],
      [0.0, 0.4921, 0.4925, 0.0, 0.0, 0.0],
      [0.0, 0.3966, 0.0, 0.3775, 0.0, 0.0],
      [0.0, 0.3327, 0.3331, 0.3084, 0.3331, 0.0],
    ],
    { ...PRINTED, label: 'causal.droppedWeights' },
  );
});

test('3.6.2 MultiHeadAttention(3, 2, 6, 0.0, num_heads=2) after torch.manual_seed(123): output (exec 36)', () => {
  assertClose(
    trace.multiHead.output,
    [
      [0.319, 0.4858],
      [0.2943, 0.3897],
      [0.2856, 0.3593],
      [0.2693, 0.3873],
      [0.2639, 0.3928],
      [0.2575, 0.4028],
    ],
    { ...PRINTED, label: 'multiHead.output' },
  );
  assert.equal(trace.multiHead.heads.length, 2);
  assert.equal(trace.config.headDim, 1);
});

test('the example weights are exactly those PyTorch creates (journey fixture)', () => {
  const torch = loadCase('journey').source.weights;
  const ours = book.source.weights;
  const same = (a: Matrix | Float32Array, b: Matrix | Float32Array): void => {
    const x = 'data' in a ? a.data : a;
    const y = 'data' in b ? b.data : b;
    assert.deepEqual(Array.from(x), Array.from(y));
  };
  same(ours.tokEmb, torch.tokEmb);
  same(ours.posEmb, torch.posEmb);
  const pairs: [Linear, Linear][] = [
    [ours.selfAttn.query, torch.selfAttn.query],
    [ours.selfAttn.key, torch.selfAttn.key],
    [ours.selfAttn.value, torch.selfAttn.value],
    [ours.mha.query, torch.mha.query],
    [ours.mha.key, torch.mha.key],
    [ours.mha.value, torch.mha.value],
    [ours.mha.outProj, torch.mha.outProj],
  ];
  for (const [mine, theirs] of pairs) {
    same(mine.weight, theirs.weight);
    assert.equal(mine.bias === undefined, theirs.bias === undefined);
    if (mine.bias && theirs.bias) same(mine.bias, theirs.bias);
  }
});
