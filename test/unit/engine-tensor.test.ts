// The float32 matrix ops against plain, obviously-correct loops and against Math.exp.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  add,
  applyDropout,
  causalMask_,
  concatColumns,
  linear,
  matmul,
  matmulTransposed,
  matrixFrom,
  rowMean,
  rowVariance,
  sliceColumns,
  softmaxRows,
  takeRows,
  transpose,
} from '../../src/engine/tensor';
import { TorchGenerator } from '../../src/engine/rng';
import type { Matrix } from '../../src/engine/types';
import { assertClose } from './assertClose';

function randomMatrix(rows: number, cols: number, seed: number): Matrix {
  const m = matrixFrom(rows, cols, new Array<number>(rows * cols).fill(0));
  new TorchGenerator(seed).normal_(m.data);
  return m;
}

/** The textbook triple loop, in double, rounded once. */
function naiveProduct(a: Matrix, b: Matrix): Matrix {
  const out = new Array<number>(a.rows * b.cols).fill(0);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.cols; j++) {
      let sum = 0;
      for (let t = 0; t < a.cols; t++) sum += a.data[i * a.cols + t]! * b.data[t * b.cols + j]!;
      out[i * b.cols + j] = sum;
    }
  }
  return matrixFrom(a.rows, b.cols, out);
}

test('matmul and matmulTransposed equal the triple loop for odd shapes', () => {
  for (const [n, k, m] of [
    [1, 1, 1],
    [3, 5, 2],
    [7, 4, 9],
    [13, 28, 6],
    [5, 3, 17],
  ] as const) {
    const a = randomMatrix(n, k, n * 100 + k);
    const b = randomMatrix(k, m, m * 7 + 1);
    assertClose(matmul(a, b), naiveProduct(a, b), { atol: 1e-6, label: `matmul ${n}x${k}x${m}` });
    assertClose(matmulTransposed(a, transpose(b)), naiveProduct(a, b), { atol: 1e-6, label: `matmulT ${n}x${k}x${m}` });
  }
});

test('x·xᵀ is computed once per pair and mirrored exactly', () => {
  const x = randomMatrix(11, 6, 3);
  const scores = matmulTransposed(x, x);
  assertClose(scores, naiveProduct(x, transpose(x)), { atol: 1e-6, label: 'x·xᵀ' });
  for (let i = 0; i < 11; i++) for (let j = 0; j < 11; j++) assert.equal(scores.data[i * 11 + j], scores.data[j * 11 + i]);
});

test('causal products: only j <= i is computed; a lower-triangular left operand skips its zeros', () => {
  const q = randomMatrix(9, 5, 4);
  const k = randomMatrix(9, 5, 5);
  const full = matmulTransposed(q, k);
  const lower = matmulTransposed(q, k, { causal: true });
  for (let i = 0; i < 9; i++) {
    for (let j = 0; j < 9; j++) assert.equal(lower.data[i * 9 + j], j <= i ? full.data[i * 9 + j] : 0);
  }
  const weights = causalMask_(randomMatrix(9, 9, 6));
  for (let i = 0; i < weights.data.length; i++) if (weights.data[i] === -Infinity) weights.data[i] = 0;
  const v = randomMatrix(9, 3, 7);
  assert.deepEqual(matmul(weights, v, { causal: true }).data, matmul(weights, v).data);
});

test('linear is x·Wᵀ + b', () => {
  const x = randomMatrix(4, 3, 8);
  const weight = randomMatrix(5, 3, 9);
  const bias = Float32Array.from([1, -2, 3, 0.5, 0]);
  const y = linear(x, { weight, bias });
  const expected = naiveProduct(x, transpose(weight));
  for (let t = 0; t < 4; t++) for (let o = 0; o < 5; o++) expected.data[t * 5 + o]! += bias[o]!;
  assertClose(y, expected, { atol: 1e-6, label: 'linear' });
  assertClose(linear(x, { weight }), naiveProduct(x, transpose(weight)), { atol: 1e-6, label: 'linear without bias' });
  assert.throws(() => linear(x, { weight: randomMatrix(5, 4, 1) }), /input has 3 features/);
});

test('softmaxRows: rows sum to 1, −∞ gives 0, huge scores do not overflow, all-masked rows are 0', () => {
  const scores = matrixFrom(3, 4, [1, 2, 3, 4, 1000, 999, -Infinity, 1000, -Infinity, -Infinity, -Infinity, -Infinity]);
  const w = softmaxRows(scores);
  const e = [Math.exp(-3), Math.exp(-2), Math.exp(-1), 1];
  const total = e.reduce((a, b) => a + b);
  assertClose(w.data.subarray(0, 4), e.map((v) => v / total), { atol: 1e-7, label: 'row 0' });
  const big = 1 + 1 + Math.exp(-1);
  assertClose(w.data.subarray(4, 8), [1 / big, Math.exp(-1) / big, 0, 1 / big], { atol: 1e-7, label: 'row 1' });
  assert.deepEqual(Array.from(w.data.subarray(8)), [0, 0, 0, 0]);
  // scaling: softmax(s / 2)
  const halved = softmaxRows(matrixFrom(1, 2, [0, 2]), 2);
  assertClose(halved, [1 / (1 + Math.E), Math.E / (1 + Math.E)], { atol: 1e-7, label: 'divisor' });
});

test('causalMask_ puts −∞ above the diagonal only', () => {
  const m = causalMask_(matrixFrom(3, 3, [1, 2, 3, 4, 5, 6, 7, 8, 9]));
  assert.deepEqual(Array.from(m.data), [1, -Infinity, -Infinity, 4, 5, -Infinity, 7, 8, 9]);
});

test('applyDropout with causal computes j <= i only and equals the full one on causal weights', () => {
  const n = 7;
  const w = matrixFrom(n, n, Array.from({ length: n * n }, (_, at) => (at % n <= Math.floor(at / n) ? 0.1 + at / 100 : 0)));
  const keep = Uint8Array.from({ length: n * n }, (_, at) => (at * 5) % 3 === 0 ? 0 : 1);
  assert.deepEqual(applyDropout(w, keep, 0.4, { causal: true }).data, applyDropout(w, keep, 0.4).data);
});

test('applyDropout keeps w·fround(1/fround(1−p)) or 0', () => {
  const w = matrixFrom(1, 4, [0.5, 0.25, 1, 0.3]);
  const out = applyDropout(w, Uint8Array.from([1, 0, 1, 1]), 0.15);
  const scale = Math.fround(1 / Math.fround(0.85));
  assert.deepEqual(Array.from(out.data), [0.5, 0, 1, 0.3].map((v, i) => (i === 1 ? 0 : Math.fround(Math.fround(v) * scale))));
  assert.throws(() => applyDropout(w, new Uint8Array(3), 0.5), /mask of 3/);
});

test('takeRows, add, transpose, sliceColumns and concatColumns', () => {
  const table = matrixFrom(3, 2, [0, 1, 10, 11, 20, 21]);
  assert.deepEqual(Array.from(takeRows(table, [2, 0, 2]).data), [20, 21, 0, 1, 20, 21]);
  assert.throws(() => takeRows(table, [3]), /row 3 is outside 0..2/);
  assert.deepEqual(Array.from(add(table, table).data), [0, 2, 20, 22, 40, 42]);
  assert.throws(() => add(table, transpose(table)), /shapes \(3, 2\) and \(2, 3\) differ/);
  assert.deepEqual(Array.from(transpose(table).data), [0, 10, 20, 1, 11, 21]);
  const wide = matrixFrom(2, 5, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const parts = [sliceColumns(wide, 0, 2), sliceColumns(wide, 2, 1), sliceColumns(wide, 3, 2)];
  assert.deepEqual(Array.from(parts[1]!.data), [2, 7]);
  assert.deepEqual(concatColumns(parts).data, wide.data);
});

test('rowMean and rowVariance (biased)', () => {
  const m = matrixFrom(2, 4, [1, 2, 3, 4, -1, -1, -1, -1]);
  assert.deepEqual(Array.from(rowMean(m)), [2.5, -1]);
  assert.deepEqual(Array.from(rowVariance(m)), [1.25, 0]);
});
