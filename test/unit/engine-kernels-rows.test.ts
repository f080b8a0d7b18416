// The layers' elementwise work in the kernel (kernels/rows.wat through rows.ts) against the
// JavaScript it replaced, written out here: GELU and its backward, the bias added to a product and
// a bias's gradient bit for bit, on one thread and on two with the helper made to take a chunk;
// AdamW's update bit for bit; layer norm's backward within double rounding (its row sums are split
// over two lanes).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  adamwInto,
  addInto,
  columnSumsInto,
  geluBackwardInto,
  geluRowsInto,
  helperChunkCount,
  kernelThreads,
  layerNormBackwardInto,
  layerNormRowsInto,
  matmulInto,
  matmulPackedInto,
  packMatrix,
  releasePacked,
  setKernelThreads,
  setWaitForHelper,
  transposeInto,
  warmUpKernel,
} from '../../src/engine/kernels';
import { GELU_CUBIC, SQRT_2_OVER_PI, fastTanh, geluScalar } from '../../src/engine/layers/gelu';
import { TorchGenerator } from '../../src/engine/rng';
import { rowMean, rowVariance } from '../../src/engine/tensor';
import { assertClose } from './assertClose';

function randomValues(count: number, seed: number, scale = 1): Float32Array {
  return new TorchGenerator(seed).normal_(new Float32Array(count)).map((v) => v * scale);
}

/** Runs body on `threads` threads; on two, the helper must take a chunk of every split job. */
function onThreads(threads: number, body: () => void): void {
  const previous = kernelThreads();
  setKernelThreads(threads);
  try {
    if (threads === 2) assert.equal(warmUpKernel(30_000), 1, 'the helper thread starts');
    setWaitForHelper(threads === 2);
    const before = helperChunkCount();
    body();
    if (threads === 2) assert.ok(helperChunkCount() > before, 'the helper computed a chunk');
  } finally {
    setWaitForHelper(false);
    setKernelThreads(previous);
  }
}

/** Pre-activations that reach every branch: fastTanh's polynomial, Math.tanh past |u| = 7.9, ±∞, NaN, ±0. */
function geluInputs(n: number): Float32Array {
  const x = randomValues(n, 5, 3);
  const special = [0, -0, 4.6, -4.6, 4.9, -4.9, 20, -20, Infinity, -Infinity, NaN, 1e-30, -3.5e38];
  special.forEach((v, i) => (x[(i * 997) % n] = v));
  return x;
}

test('geluRowsInto is geluScalar bit for bit and keeps fastTanh(u), for odd widths, on one thread and on two', () => {
  for (const [rows, cols] of [
    [1, 1],
    [3, 7],
    [64, 1025],
  ] as const) {
    const n = rows * cols;
    const x = geluInputs(n);
    const expected = x.map((v) => geluScalar(v));
    const expectedTanh = x.map((v) => fastTanh(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v)));
    for (const threads of rows * cols >= 65_536 ? [1, 2] : [1]) {
      onThreads(threads, () => {
        const out = new Float32Array(n).fill(7);
        const tanhU = new Float32Array(n).fill(7);
        geluRowsInto(out, tanhU, x, rows, cols);
        assert.deepEqual(out, expected, `(${rows}, ${cols}) on ${threads} thread(s)`);
        assert.deepEqual(tanhU, expectedTanh);
        const inPlace = x.slice();
        geluRowsInto(inPlace, undefined, inPlace, rows, cols);
        assert.deepEqual(inPlace, expected);
      });
    }
  }
  assert.throws(() => geluRowsInto(new Float32Array(5), undefined, new Float32Array(6), 2, 3), /geluRowsInto: 6, 5 and no floats for \(2, 3\)/);
});

test("geluBackwardInto is train/layers.ts's formula in double bit for bit, in place too, on one thread and on two", () => {
  for (const n of [1, 2, 3, 4, 5, 131_075]) {
    const x = geluInputs(Math.max(n, 13)).subarray(0, n);
    const tanhU = x.map((v) => fastTanh(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v)));
    const dy = randomValues(n, 6);
    const cubic3 = 3 * GELU_CUBIC;
    const expected = dy.map((g, i) => {
      const [v, th] = [x[i]!, tanhU[i]!];
      return g * (0.5 * (1 + th) + 0.5 * v * (1 - th * th) * SQRT_2_OVER_PI * (1 + cubic3 * v * v));
    });
    for (const threads of n >= 65_536 ? [1, 2] : [1]) {
      onThreads(threads, () => {
        const dx = new Float32Array(n).fill(7);
        geluBackwardInto(dx, dy, x, tanhU);
        assert.deepEqual(dx, expected, `${n} elements on ${threads} thread(s)`);
        const inPlace = dy.slice();
        geluBackwardInto(inPlace, inPlace, x, tanhU);
        assert.deepEqual(inPlace, expected);
      });
    }
  }
});

test("a product's bias is added in float32 bit for bit as a loop adds it, by matmulInto and matmulPackedInto", () => {
  for (const [n, m, k] of [
    [1, 1, 1],
    [7, 13, 5],
    [41, 66, 17],
  ] as const) {
    const a = randomValues(n * k, 1);
    const w = randomValues(m * k, 2);
    const bias = randomValues(m, 3);
    const plain = new Float32Array(n * m);
    matmulInto(plain, a, w, n, m, k, { bTransposed: true });
    const expected = plain.map((v, i) => v + bias[i % m]!);
    const out = new Float32Array(n * m);
    matmulInto(out, a, w, n, m, k, { bTransposed: true, bias });
    assert.deepEqual(out, expected, `(${n}, ${k})·(${k}, ${m})`);
    const packed = packMatrix(w, m, k);
    try {
      out.fill(0);
      matmulPackedInto(out, a, n, packed, bias);
      assert.deepEqual(out, expected);
    } finally {
      releasePacked(packed);
    }
  }
  assert.throws(() => matmulInto(new Float32Array(4), new Float32Array(2), new Float32Array(4), 2, 2, 1, { bTransposed: true, bias: new Float32Array(3) }), /bias 3/);
});

test('columnSumsInto sums each column in double in increasing row, rounded once', () => {
  for (const [rows, cols] of [
    [1, 1],
    [5, 3],
    [300, 257],
  ] as const) {
    const src = randomValues(rows * cols, 4, 100);
    const expected = new Float32Array(cols);
    for (let c = 0; c < cols; c++) {
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += src[r * cols + c]!;
      expected[c] = sum;
    }
    const sums = new Float32Array(cols).fill(7);
    columnSumsInto(sums, src, rows, cols);
    assert.deepEqual(sums, expected, `(${rows}, ${cols})`);
  }
});

test("layerNormBackwardInto is the formula in double (dx accumulated, the parameters' sums overwritten), for odd widths", () => {
  for (const [rows, cols] of [
    [1, 1],
    [3, 7],
    [33, 256],
  ] as const) {
    const n = rows * cols;
    const x = randomValues(n, 7, 2);
    const dy = randomValues(n, 8);
    const dxBefore = randomValues(n, 9);
    const scale = randomValues(cols, 10);
    const eps = 1e-5;
    const mean = new Float32Array(rows);
    const variance = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const row = x.subarray(r * cols, (r + 1) * cols);
      mean[r] = row.reduce((sum, v) => sum + v, 0) / cols;
      variance[r] = row.reduce((sum, v) => sum + (v - mean[r]!) ** 2, 0) / cols;
    }
    // the formula of train/layers.ts, one running sum per row
    const expectedDx = new Float64Array(n);
    const expectedScale = new Float64Array(cols);
    const expectedShift = new Float64Array(cols);
    for (let r = 0; r < rows; r++) {
      const rstd = 1 / Math.sqrt(variance[r]! + Math.fround(eps));
      const normed = (c: number) => (x[r * cols + c]! - mean[r]!) * rstd;
      let [meanD, meanDN] = [0, 0];
      for (let c = 0; c < cols; c++) {
        const g = dy[r * cols + c]!;
        meanD += g * scale[c]!;
        meanDN += g * scale[c]! * normed(c);
        expectedScale[c]! += g * normed(c);
        expectedShift[c]! += g;
      }
      [meanD, meanDN] = [meanD / cols, meanDN / cols];
      for (let c = 0; c < cols; c++) {
        expectedDx[r * cols + c] = dxBefore[r * cols + c]! + (dy[r * cols + c]! * scale[c]! - meanD - normed(c) * meanDN) * rstd;
      }
    }
    const dx = dxBefore.slice();
    const [dScale, dShift] = [new Float32Array(cols).fill(7), new Float32Array(cols).fill(7)];
    layerNormBackwardInto(dx, dScale, dShift, dy, x, { mean, variance }, scale, eps, rows, cols);
    assertClose(dx, Float32Array.from(expectedDx), { atol: 1e-6, rtol: 1e-6 });
    assert.deepEqual(dScale, Float32Array.from(expectedScale), 'column sums in the same order: the same bits');
    assert.deepEqual(dShift, Float32Array.from(expectedShift));
  }
});

test('matmulInto with a given transposed (k, n) is the product of a as given, bit for bit, around the 4 × 4 blocks', () => {
  for (const [n, m, k] of [
    [1, 1, 1],
    [3, 5, 2],
    [4, 8, 4],
    [9, 11, 13],
    [66, 40, 257],
  ] as const) {
    const a = randomValues(n * k, 11);
    const aT = new Float32Array(k * n);
    for (let i = 0; i < n; i++) for (let t = 0; t < k; t++) aT[t * n + i] = a[i * k + t]!;
    const b = randomValues(k * m, 12);
    const expected = new Float32Array(n * m);
    matmulInto(expected, a, b, n, m, k, { bTransposed: false });
    const out = new Float32Array(n * m).fill(7);
    matmulInto(out, aT, b, n, m, k, { bTransposed: false, aTransposed: true });
    assert.deepEqual(out, expected, `(${k}, ${n})ᵀ·(${k}, ${m})`);
  }
  assert.throws(() => matmulInto(new Float32Array(1), new Float32Array(1), new Float32Array(1), 1, 1, 1, { bTransposed: false, aTransposed: true, lowerInput: true }), /cannot be lowerInput/);
});

test("adamwInto is train/adamw.ts's formula in double bit for bit, on one thread and on two", () => {
  const f = Math.fround;
  const c = { decay: f(1 - 4e-4 * 0.1), beta1: f(0.9), beta2: f(0.999), oneMinusBeta1: f(0.1), oneMinusBeta2: f(1 - 0.999), biasCorrection2Sqrt: f(Math.sqrt(1 - 0.999 ** 3)), negStepSize: f(-(4e-4 / (1 - 0.9 ** 3))), eps: f(1e-8) };
  for (const n of [1, 2, 3, 5, 200_003]) {
    const theta = randomValues(n, 13);
    const g = randomValues(n, 14, 1e-2);
    const m = randomValues(n, 15, 1e-3);
    const v = randomValues(n, 16, 1e-3).map(Math.abs);
    g[0] = 0;
    const [eTheta, eM, eV] = [theta.slice(), m.slice(), v.slice()];
    for (let k = 0; k < n; k++) {
      const gk = g[k]!;
      eM[k] = eM[k]! * c.beta1 + gk * c.oneMinusBeta1;
      eV[k] = eV[k]! * c.beta2 + gk * c.oneMinusBeta2 * gk;
      eTheta[k] = Math.fround(eTheta[k]! * c.decay) + (c.negStepSize * eM[k]!) / (Math.sqrt(eV[k]!) / c.biasCorrection2Sqrt + c.eps);
    }
    for (const threads of n >= 65_536 ? [1, 2] : [1]) {
      onThreads(threads, () => {
        const [t, mm, vv] = [theta.slice(), m.slice(), v.slice()];
        adamwInto(t, g, mm, vv, c);
        assert.deepEqual(t, eTheta, `${n} weights on ${threads} thread(s)`);
        assert.deepEqual(mm, eM);
        assert.deepEqual(vv, eV);
      });
    }
  }
});

test('transposeInto moves every element, for shapes around the 4 × 4 blocks and the 16-column strips', () => {
  for (const [rows, cols] of [
    [1, 1],
    [1, 9],
    [7, 1],
    [4, 16],
    [5, 17],
    [33, 50],
  ] as const) {
    const a = Float32Array.from({ length: rows * cols }, (_, i) => i + 0.5);
    const out = new Float32Array(rows * cols).fill(-1);
    transposeInto(out, a, rows, cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) assert.equal(out[j * rows + i], a[i * cols + j], `(${rows}, ${cols}) at [${i}][${j}]`);
  }
});

test('layerNormRowsInto is the float32 chain of layers/layerNorm.ts around rowMean and rowVariance, bit for bit, in place too, on one thread and on two', () => {
  const f = Math.fround;
  for (const [rows, cols] of [
    [1, 1],
    [3, 7],
    [300, 257],
  ] as const) {
    const x = randomValues(rows * cols, 17, 3).map((v, i) => v + (i % cols) * 0.01);
    const scale = randomValues(cols, 18);
    const shift = randomValues(cols, 19);
    const eps = 1e-5;
    const matrix = { rows, cols, data: x };
    const [mean, variance] = [rowMean(matrix), rowVariance(matrix)];
    const expected = new Float32Array(rows * cols);
    for (let t = 0; t < rows; t++) {
      const std = f(Math.sqrt(f(variance[t]! + f(eps))));
      for (let c = 0; c < cols; c++) expected[t * cols + c] = f(scale[c]! * f(f(x[t * cols + c]! - mean[t]!) / std)) + shift[c]!;
    }
    for (const threads of rows * cols >= 65_536 ? [1, 2] : [1]) {
      onThreads(threads, () => {
        const out = new Float32Array(rows * cols).fill(7);
        const stats = layerNormRowsInto(out, x, scale, shift, eps, rows, cols);
        assert.deepEqual(out, expected, `(${rows}, ${cols}) on ${threads} thread(s)`);
        assert.deepEqual(stats, { mean, variance });
        const inPlace = x.slice();
        layerNormRowsInto(inPlace, inPlace, scale, shift, eps, rows, cols);
        assert.deepEqual(inPlace, expected);
      });
    }
  }
});

test('addInto is the float32 sum of each pair bit for bit, in place too, for lengths around the quads, on one thread and on two', () => {
  for (const n of [1, 3, 4, 7, 1 << 17, (1 << 17) + 3]) {
    const a = randomValues(n, n, 1e3);
    const b = randomValues(n, n + 1, 1e-3);
    if (n > 8) [a[0], b[0], a[1], b[1], a[2], b[2]] = [Infinity, -Infinity, NaN, 1, 3.4e38, 3.4e38];
    const expected = new Float32Array(n);
    for (let i = 0; i < n; i++) expected[i] = a[i]! + b[i]!;
    for (const threads of n >= 1 << 16 ? [1, 2] : [1]) {
      onThreads(threads, () => {
        const out = new Float32Array(n);
        addInto(out, a, b);
        assert.deepEqual(out, expected, `n ${n}, ${threads} threads`);
        const inPlace = a.slice();
        addInto(inPlace, inPlace, b);
        assert.deepEqual(inPlace, expected, `n ${n} in place, ${threads} threads`);
      });
    }
  }
});
