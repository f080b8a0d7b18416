// Small float32 matrix ops over row-major Float32Array, one function per op.
//
// Every matrix product (matmul, matmulTransposed, linear) is one call into kernels/products.ts: a
// WebAssembly SIMD kernel that sums float32 products in float32 as PyTorch's float32 BLAS does,
// skips the masked triangle of causal products and splits large products across threads. The
// other ops are plain loops; reductions (softmax's sum, means, variances) accumulate in double
// and round to float32 once when stored. The fixture tests show every stage agrees with PyTorch
// within 1e-5.

import { matmulInto, matmulPackedInto, softmaxRowsInto, transposeInto, type PackedMatrix } from './kernels';
import type { Linear, Matrix } from './types';

/** A zero matrix. (rows, cols) */
export function createMatrix(rows: number, cols: number): Matrix {
  return { rows, cols, data: new Float32Array(rows * cols) };
}

/** A matrix holding a copy of `values` (row-major, rounded to float32). (rows, cols) */
export function matrixFrom(rows: number, cols: number, values: ArrayLike<number>): Matrix {
  if (values.length !== rows * cols) {
    throw new RangeError(`matrixFrom: ${values.length} values do not fill (${rows}, ${cols})`);
  }
  return { rows, cols, data: Float32Array.from(values) };
}

/** Rows `rowIds` of `table`, in that order: an embedding lookup. (table.rows, C) -> (ids, C) */
export function takeRows(table: Matrix, rowIds: ArrayLike<number>): Matrix {
  const cols = table.cols;
  const out = createMatrix(rowIds.length, cols);
  for (let i = 0; i < rowIds.length; i++) {
    const row = rowIds[i]!;
    if (!Number.isInteger(row) || row < 0 || row >= table.rows) {
      throw new RangeError(`takeRows: row ${row} is outside 0..${table.rows - 1}`);
    }
    out.data.set(table.data.subarray(row * cols, (row + 1) * cols), i * cols);
  }
  return out;
}

/** a + b elementwise. (R, C) + (R, C) -> (R, C) */
export function add(a: Matrix, b: Matrix): Matrix {
  assertSameShape('add', a, b);
  const out = createMatrix(a.rows, a.cols);
  const x = a.data;
  const y = b.data;
  const z = out.data;
  for (let i = 0; i < z.length; i++) z[i] = x[i]! + y[i]!;
  return out;
}

/** (R, C) -> (C, R) */
export function transpose(m: Matrix): Matrix {
  const out = createMatrix(m.cols, m.rows);
  transposeInto(out.data, m.data, m.rows, m.cols);
  return out;
}

/**
 * a · bᵀ for a (n, k) and b (m, k) -> (n, m): attention scores Q·Kᵀ, or x·xᵀ.
 * With `causal`, only j <= i is computed and the rest stays 0 (mask it with `causalMask_`).
 * x·xᵀ comes out exactly symmetric: both halves sum the same products in the same order.
 */
export function matmulTransposed(a: Matrix, b: Matrix, options: { causal?: boolean } = {}): Matrix {
  if (a.cols !== b.cols) {
    throw new RangeError(`matmulTransposed: (${a.rows}, ${a.cols})·(${b.rows}, ${b.cols})ᵀ do not fit`);
  }
  const out = createMatrix(a.rows, b.rows);
  matmulInto(out.data, a.data, b.data, a.rows, b.rows, a.cols, { bTransposed: true, lowerOutput: options.causal ?? false });
  return out;
}

/**
 * a · b for a (n, k) and b (k, m) -> (n, m): attention weights times values.
 * With `causal`, a is taken as lower-triangular (a[i][t] = 0 for t > i) and those terms are skipped.
 */
export function matmul(a: Matrix, b: Matrix, options: { causal?: boolean } = {}): Matrix {
  if (a.cols !== b.rows) {
    throw new RangeError(`matmul: (${a.rows}, ${a.cols})·(${b.rows}, ${b.cols}) do not fit`);
  }
  const out = createMatrix(a.rows, b.cols);
  matmulInto(out.data, a.data, b.data, a.rows, b.cols, a.cols, { bTransposed: false, lowerInput: options.causal ?? false });
  return out;
}

/**
 * nn.Linear: y = x·Wᵀ + b for x (T, in), W (out, in), b (out) -> (T, out). With `packed`, W's
 * packing (packMatrix), the product skips copying and packing W, with the same numbers; a packing
 * that is released or of another array is not used.
 */
export function linear(x: Matrix, layer: Linear, packed?: PackedMatrix): Matrix {
  const { weight, bias } = layer;
  if (x.cols !== weight.cols) {
    throw new RangeError(`linear: input has ${x.cols} features but the weight is (${weight.rows}, ${weight.cols})`);
  }
  const out = createMatrix(x.rows, weight.rows);
  if (packed?.live && packed.source === weight.data) matmulPackedInto(out.data, x.data, x.rows, packed, bias);
  else matmulInto(out.data, x.data, weight.data, x.rows, weight.rows, x.cols, { bTransposed: true, bias });
  return out;
}

/** In place: every element above the diagonal (j > i) becomes -Infinity. Returns `scores`. (T, T) */
export function causalMask_(scores: Matrix): Matrix {
  const { rows, cols, data } = scores;
  for (let i = 0; i < rows; i++) {
    if (i + 1 < cols) data.fill(-Infinity, i * cols + i + 1, (i + 1) * cols);
  }
  return scores;
}

/**
 * Row-wise softmax of scores / divisor: w[i][j] = exp(s[i][j]/d − max_i) / Σ_j exp(s[i][j]/d − max_i).
 * Subtracting the row maximum keeps exp from overflowing; -Infinity gives exactly 0, and a row
 * that is all -Infinity gives all 0. The divisor is rounded to float32 first and each scaled score
 * is rounded to float32, as PyTorch does when it divides a float32 tensor by a Python float.
 * With `causal`, entries above the diagonal are taken as masked (0) without being read.
 * Exponentials are float32 (a polynomial within a few ulp) of x − max rounded to float32 (as
 * PyTorch rounds it), their sum double, and each weight is fl(e · fl(1 / Σ)): within 4 float32 ulp
 * of the exact softmax plus |x − max|·2^-24 relative for that rounding (kernels.wat).
 */
export function softmaxRows(scores: Matrix, divisor = 1, options: { causal?: boolean } = {}): Matrix {
  const { rows, cols } = scores;
  const out = createMatrix(rows, cols);
  softmaxRowsInto(out.data, scores.data, rows, cols, divisor, options.causal ?? false);
  return out;
}

/** The scale nn.Dropout gives kept values: fround(1 / fround(1 − p)) (checked against torch at p = 0.15). */
export function dropoutScale(p: number): number {
  return Math.fround(1 / Math.fround(1 - p));
}

/**
 * Inverted dropout with a given keep-mask: kept entries become fround(w · dropoutScale(p)), dropped
 * entries 0. With `causal`, the weights are 0 above the diagonal and so is the result: only j <= i
 * is computed (at T = 2048 the upper half is 8 MB of pages never touched). (R, C) with mask (R·C) -> (R, C)
 */
export function applyDropout(weights: Matrix, keep: Uint8Array, p: number, options: { causal?: boolean } = {}): Matrix {
  if (keep.length !== weights.data.length) {
    throw new RangeError(`applyDropout: mask of ${keep.length} for ${weights.data.length} weights`);
  }
  const scale = dropoutScale(p);
  const { rows, cols } = weights;
  const out = createMatrix(rows, cols);
  const w = weights.data;
  const y = out.data;
  for (let r = 0; r < rows; r++) {
    const end = r * cols + (options.causal ? Math.min(r + 1, cols) : cols);
    // w·scale·keep without a branch on the random mask; + 0 turns −0 (negative w dropped) into 0
    for (let i = r * cols; i < end; i++) y[i] = w[i]! * scale * keep[i]! + 0;
  }
  return out;
}

/** Columns start .. start+count−1 of m. (R, C) -> (R, count) */
export function sliceColumns(m: Matrix, start: number, count: number): Matrix {
  if (start < 0 || count < 0 || start + count > m.cols) {
    throw new RangeError(`sliceColumns: ${start}..${start + count - 1} outside ${m.cols} columns`);
  }
  const out = createMatrix(m.rows, count);
  for (let r = 0; r < m.rows; r++) {
    out.data.set(m.data.subarray(r * m.cols + start, r * m.cols + start + count), r * count);
  }
  return out;
}

/** Side by side: [p0 | p1 | ...]. each (R, Ci) -> (R, ΣCi) */
export function concatColumns(parts: readonly Matrix[]): Matrix {
  const first = parts[0];
  if (!first) throw new RangeError('concatColumns: nothing to concatenate');
  const rows = first.rows;
  let cols = 0;
  for (const part of parts) {
    if (part.rows !== rows) throw new RangeError('concatColumns: parts have different row counts');
    cols += part.cols;
  }
  const out = createMatrix(rows, cols);
  let offset = 0;
  for (const part of parts) {
    for (let r = 0; r < rows; r++) {
      out.data.set(part.data.subarray(r * part.cols, (r + 1) * part.cols), r * cols + offset);
    }
    offset += part.cols;
  }
  return out;
}

/** Mean of each row. (R, C) -> (R) */
export function rowMean(m: Matrix): Float32Array {
  const { rows, cols, data } = m;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += data[r * cols + c]!;
    out[r] = sum / cols;
  }
  return out;
}

/**
 * Biased variance of each row, Σ(x − mean)² / C (torch's unbiased=False), taken around the row's
 * own double-precision mean as torch's Welford reduction does. (R, C) -> (R)
 */
export function rowVariance(m: Matrix): Float32Array {
  const { rows, cols, data } = m;
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += data[r * cols + c]!;
    const mean = sum / cols;
    let squares = 0;
    for (let c = 0; c < cols; c++) {
      const centred = data[r * cols + c]! - mean;
      squares += centred * centred;
    }
    out[r] = squares / cols;
  }
  return out;
}

function assertSameShape(op: string, a: Matrix, b: Matrix): void {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new RangeError(`${op}: shapes (${a.rows}, ${a.cols}) and (${b.rows}, ${b.cols}) differ`);
  }
}
