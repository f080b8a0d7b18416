// The kernels (src/engine/kernels/): the matrix product against a plain float32 loop that sums
// in the order the kernel promises (Σ_t fl(a·b) in float32, increasing t), for odd sizes around
// the 5×8 block; softmax against Math.exp in double (within float32 rounding); the threaded paths against the single-thread
// ones, bit for bit; and the checked-in WebAssembly against its .wat source.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { kernelThreads, matmulInto, helperChunkCount, readyHelpers, setKernelThreads, setWaitForHelper, softmaxRowsInto, splitProductCount, warmUpKernel, type MatmulOptions } from '../../src/engine/kernels';
import { KERNELS_WAT_SHA256 } from '../../src/engine/kernels/wasm';
import { TorchGenerator } from '../../src/engine/rng';
import { runTrace } from '../../src/engine/trace';
import type { Matrix } from '../../src/engine/types';
import { seededStages } from './engine-fixtures';
import { assertClose } from './assertClose';
import { tokensFromIds } from './engine-fixtures';

function randomValues(count: number, seed: number): Float32Array {
  return new TorchGenerator(seed).normal_(new Float32Array(count));
}

/** out (n, m) the plain way: one element at a time, float32 product and float32 sum per step. */
function plainProduct(a: Float32Array, b: Float32Array, n: number, m: number, k: number, options: MatmulOptions): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < (options.lowerOutput ? Math.min(i + 1, m) : m); j++) {
      let sum = 0;
      for (let t = 0; t < k; t++) {
        const bValue = options.bTransposed ? b[j * k + t]! : b[t * m + j]!;
        sum = f(sum + f(a[i * k + t]! * bValue));
      }
      out[i * m + j] = sum;
    }
  }
  return out;
}

function lowerTriangular(values: Float32Array, n: number, k: number): Float32Array {
  for (let i = 0; i < n; i++) for (let t = i + 1; t < k; t++) values[i * k + t] = 0;
  return values;
}

const SIZES = [1, 3, 17, 65];

test('matmulInto equals the plain float32 loop exactly for 1, 3, 17, 65 rows/cols/depth', () => {
  let cases = 0;
  for (const n of SIZES) {
    for (const m of SIZES) {
      for (const k of [1, 3, 17, 65, 130]) {
        for (const bTransposed of [true, false]) {
          const a = randomValues(n * k, n * 1000 + k);
          const b = randomValues(m * k, m * 7 + k);
          const options = { bTransposed };
          const out = new Float32Array(n * m).fill(NaN);
          matmulInto(out, a, b, n, m, k, options);
          assert.deepEqual(out, plainProduct(a, b, n, m, k, options), `(${n}, ${k})·(${k}, ${m}) bTransposed ${bTransposed}`);
          cases++;
        }
      }
    }
  }
  assert.equal(cases, 160);
});

test('causal products: lowerOutput leaves j > i untouched, lowerInput skips only zero terms', () => {
  for (const n of [1, 3, 7, 17, 65]) {
    for (const k of [1, 5, 64]) {
      // Q·Kᵀ: (n, k)·(n, k)ᵀ, only j <= i written; the rest keeps its sentinel
      const q = randomValues(n * k, n + k);
      const keys = randomValues(n * k, n * k + 1);
      const scores = new Float32Array(n * n).fill(7);
      matmulInto(scores, q, keys, n, n, k, { bTransposed: true, lowerOutput: true });
      const full = plainProduct(q, keys, n, n, k, { bTransposed: true });
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) assert.equal(scores[i * n + j], j <= i ? full[i * n + j] : 7, `Q·Kᵀ [${i}][${j}] of ${n}`);
      }
    }
    // weights·V: (n, n) lower-triangular · (n, m)
    for (const m of [1, 8, 17, 64]) {
      const weights = lowerTriangular(randomValues(n * n, n), n, n);
      const values = randomValues(n * m, m);
      const out = new Float32Array(n * m);
      matmulInto(out, weights, values, n, m, n, { bTransposed: false, lowerInput: true });
      // the skipped terms are 0·v = ±0, which leave a float32 sum as it is
      assertClose(out, plainProduct(weights, values, n, m, n, { bTransposed: false }), { atol: 0, label: `weights·V ${n}×${m}` });
    }
  }
});

test('both orders of the tiles (rows that fit in 192 KB panel by panel, more rows block by block): every block, each tail, both causal forms', () => {
  // at k = 700, 70 rows fit (kernels.wat): 67 rows go panel by panel over 13 blocks and a 2-row
  // tail, 152 rows block by block with a 2-row tail; the causal forms skip different panels per block
  const k = 700;
  for (const n of [67, 152]) {
    for (const m of [9, n]) {
      const a = randomValues(n * k, m + n);
      const b = randomValues(m * k, m + 1);
      const out = new Float32Array(n * m).fill(7);
      matmulInto(out, a, b, n, m, k, { bTransposed: true });
      assert.deepEqual(out, plainProduct(a, b, n, m, k, { bTransposed: true }), `(${n}, ${k})·(${k}, ${m})ᵀ`);
    }
    const q = randomValues(n * k, 3);
    const keys = randomValues(n * k, 4);
    const scores = new Float32Array(n * n).fill(7);
    matmulInto(scores, q, keys, n, n, k, { bTransposed: true, lowerOutput: true });
    const full = plainProduct(q, keys, n, n, k, { bTransposed: true });
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) assert.equal(scores[i * n + j], j <= i ? full[i * n + j] : 7, `Q·Kᵀ [${i}][${j}] of ${n}`);
  }
  // weights·V: 700 rows of depth 700 (block by block), each row's sum stopping at its block's end
  const weights = lowerTriangular(randomValues(k * k, 5), k, k);
  const values = randomValues(k * 24, 6);
  const mixed = new Float32Array(k * 24);
  matmulInto(mixed, weights, values, k, 24, k, { bTransposed: false, lowerInput: true });
  assertClose(mixed, plainProduct(weights, values, k, 24, k, { bTransposed: false }), { atol: 0, label: 'weights·V 700×24' });
});

test('matmulInto refuses buffers that do not fit the sizes', () => {
  assert.throws(() => matmulInto(new Float32Array(5), new Float32Array(6), new Float32Array(6), 2, 2, 3, { bTransposed: true }), /buffers of 6, 6, 5 floats for \(2, 3\)·\(3, 2\)/);
  assert.throws(() => matmulInto(new Float32Array(4), new Float32Array(5), new Float32Array(6), 2, 2, 3, { bTransposed: true }), RangeError);
});

test('two threads give bit-for-bit the single-thread product (plain and causal, T not a multiple of 5), its large B packed and its transposed A transposed by both threads', () => {
  const previous = kernelThreads();
  try {
    setKernelThreads(2);
    assert.equal(warmUpKernel(30_000), 1, 'the helper thread starts');
    // [n, m, k, options, jobs split: the transpose of A, the pack of B (2¹⁶ floats or more), the product]
    const shapes: [number, number, number, MatmulOptions, number][] = [
      [301, 257, 129, { bTransposed: true }, 1], // x·Wᵀ
      [299, 131, 300, { bTransposed: false }, 1], // (299, 300)·(300, 131)
      [517, 517, 64, { bTransposed: true, lowerOutput: true }, 1], // Q·Kᵀ
      [517, 64, 517, { bTransposed: false, lowerInput: true }, 1], // weights·V
      [7, 301, 300, { bTransposed: true }, 1], // a weight (out, in) packed transposed; 7 rows are not split
      [7, 299, 301, { bTransposed: false }, 1], // B (k, m), widths not a multiple of 8
      [67, 300, 1030, { bTransposed: false, aTransposed: true }, 3], // a weight's gradient dyᵀ·x, dy (1030, 67)
    ];
    for (const [n, m, k, options, jobs] of shapes) {
      const a = options.lowerInput ? lowerTriangular(randomValues(n * k, n), n, k) : randomValues(n * k, n);
      const b = randomValues(m * k, m);
      setKernelThreads(1);
      const single = new Float32Array(n * m);
      matmulInto(single, a, b, n, m, k, options);
      setKernelThreads(2);
      // The caller waits until the helper has taken a chunk: the split is certain, not a race.
      const helperBefore = helperChunkCount();
      const splitBefore = splitProductCount();
      const split = new Float32Array(n * m);
      setWaitForHelper(true);
      try {
        matmulInto(split, a, b, n, m, k, options);
      } finally {
        setWaitForHelper(false);
      }
      assert.equal(splitProductCount() - splitBefore, jobs, 'posted to the helper');
      assert.deepEqual(split, single, `(${n}, ${k})·(${k}, ${m}) ${JSON.stringify(options)}`);
      assert.ok(helperChunkCount() - helperBefore >= jobs, 'the helper took part in each job');
    }
    assert.equal(readyHelpers(), 1);
  } finally {
    setKernelThreads(previous);
  }
});

test('a whole trace is the same on one thread and on two', () => {
  const { source, run } = seededStages({ vocabSize: 50, dim: 96, heads: 4, contextLength: 400, qkvBias: true }, { dropout: 0.2, seed: 3 });
  const tokens = tokensFromIds(Array.from({ length: 397 }, (_, i) => (i * 7) % 50));
  const previous = kernelThreads();
  try {
    setKernelThreads(2);
    warmUpKernel(30_000);
    const two = runTrace(tokens, source, run);
    setKernelThreads(1);
    const one = runTrace(tokens, source, run);
    const matrices = (trace: typeof one): Matrix[] => [
      trace.simple.scores, trace.simple.context, trace.selfAttention.queries, trace.selfAttention.scores, trace.selfAttention.context,
      trace.causal.maskedScores, trace.causal.context, ...trace.multiHead.heads.flatMap((h) => [h.scores, h.weights, h.context]),
      trace.multiHead.output, trace.layerNorm.output,
    ];
    const ours = matrices(two);
    matrices(one).forEach((m, i) => assert.deepEqual(ours[i]!.data, m.data, `matrix ${i}`));
  } finally {
    setKernelThreads(previous);
  }
});

/**
 * softmax(s / d) per row with Math.exp in double, each result rounded to float32 (the exact
 * softmax), and for each entry the error the kernel may make: 4 float32 ulp (2^-21 relative) for
 * the polynomial and the roundings, plus the rounding of x − max to float32 (PyTorch's CPU
 * softmax rounds it too), which moves e^(x − max) by up to |x − max|·2^-24 relative; e^x below
 * float32's smallest normal (x < −87) may be 0 (2^-126 absolute).
 */
function plainSoftmax(scores: Float32Array, rows: number, cols: number, divisor: number, causal: boolean): { out: Float32Array; tolerance: Float32Array } {
  const out = new Float32Array(rows * cols);
  const tolerance = new Float32Array(rows * cols);
  const d = Math.fround(divisor);
  for (let i = 0; i < rows; i++) {
    const length = causal ? Math.min(i + 1, cols) : cols;
    const scaled = Array.from(scores.subarray(i * cols, i * cols + length), (x) => Math.fround(x / d));
    const max = Math.max(...scaled);
    if (max === -Infinity) continue;
    const exps = scaled.map((x) => Math.exp(x - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    exps.forEach((e, j) => {
      out[i * cols + j] = e / sum;
      tolerance[i * cols + j] = e === 0 ? 2 ** -126 : (e / sum) * (2 ** -21 + Math.abs(scaled[j]! - max) * 2 ** -24) + 2 ** -126;
    });
  }
  return { out, tolerance };
}

test('softmaxRowsInto is within float32 rounding of the Math.exp softmax for odd sizes, causal or not, with −∞ and all-masked rows', () => {
  for (const rows of [1, 3, 17, 65]) {
    for (const cols of [1, 3, 17, 65]) {
      for (const causal of [false, true]) {
        const scores = randomValues(rows * cols, rows * 100 + cols).map((x) => x * 40); // differences up to ~300
        scores[0] = -Infinity; // a masked entry; row 0 of a 1-column matrix is then all −∞
        if (rows > 2) scores.fill(-Infinity, 2 * cols, 3 * cols); // an all-masked row
        const out = new Float32Array(rows * cols).fill(causal ? 5 : NaN);
        softmaxRowsInto(out, scores, rows, cols, 8, causal);
        const { out: expected, tolerance } = plainSoftmax(scores, rows, cols, 8, causal);
        for (let i = 0; i < rows; i++) {
          for (let j = 0; j < cols; j++) {
            const at = i * cols + j;
            if (causal && j > i) assert.equal(out[at], 5, 'above the diagonal is not written');
            else assertClose(out[at]!, expected[at]!, { atol: tolerance[at]!, label: `${rows}×${cols} causal ${causal} [${i}][${j}]` });
          }
        }
      }
    }
  }
});

test('softmax on two threads is bit-for-bit the single-thread one', () => {
  const previous = kernelThreads();
  try {
    setKernelThreads(2);
    warmUpKernel(30_000);
    for (const causal of [false, true]) {
      const n = 397;
      const scores = randomValues(n * n, 5).map((x) => x * 10);
      setKernelThreads(1);
      const one = new Float32Array(n * n);
      softmaxRowsInto(one, scores, n, n, 3, causal);
      setKernelThreads(2);
      const helperBefore = helperChunkCount();
      const two = new Float32Array(n * n);
      setWaitForHelper(true);
      try {
        softmaxRowsInto(two, scores, n, n, 3, causal);
      } finally {
        setWaitForHelper(false);
      }
      assert.deepEqual(two, one);
      assert.ok(helperChunkCount() > helperBefore, 'the helper computed some rows');
    }
  } finally {
    setKernelThreads(previous);
  }
});

test('setKernelThreads takes 1 to 16', () => {
  assert.throws(() => setKernelThreads(0), /from 1 to 16, got 0/);
  assert.throws(() => setKernelThreads(1.5), /from 1 to 16/);
});

test('kernels/wasm.ts was assembled from the current kernels.wat and rows.wat (npm run build:kernels --prefix bench)', () => {
  const hash = createHash('sha256');
  for (const name of ['kernels.wat', 'rows.wat']) hash.update(fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'engine', 'kernels', name)));
  assert.equal(hash.digest('hex'), KERNELS_WAT_SHA256);
});
