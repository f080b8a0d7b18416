// The first two principal components of a set of row vectors, for the embedding scatter plot.
// Power iteration with deflation on the covariance (d×d) or, when there are fewer rows than
// columns, on the Gram matrix (T×T): both give the same projections, the smaller is cheaper.
import type { Matrix } from './types';
import { matmulInto, matmulPackedInto, packMatrix, releasePacked, transposeInto } from './kernels';
import { createMatrix } from './tensor';

/** (T, d) -> (T, 2): coordinates of each centred row on PC 1 and PC 2 (zeros when undefined). */
export function pca2(x: Matrix): Matrix {
  const { rows: T, cols: d } = x;
  const out = createMatrix(T, 2);
  if (T < 2) return out;
  // centred in double, rounded to float32 (the product's operand and the projection's rows)
  const rows = new Float32Array(T * d); // (T, d)
  // row by row (the matrix's order), the column means summed in double
  const means = new Float64Array(d);
  const data = x.data;
  for (let r = 0; r < T; r++) for (let c = 0; c < d; c++) means[c]! += data[r * d + c]!;
  for (let c = 0; c < d; c++) means[c]! /= T;
  for (let r = 0; r < T; r++) for (let c = 0; c < d; c++) rows[r * d + c] = data[r * d + c]! - means[c]!;
  const useGram = T <= d;
  const n = useGram ? T : d;
  // Gram (T, T) = X·Xᵀ or covariance (d, d) = Xᵀ·X, through the engine's kernel: at thousands of
  // tokens and dim 768 plain double loops were a third of an analysis. A float32 product is
  // plenty for a scatter plot's axes.
  const product = new Float32Array(n * n);
  if (useGram) {
    matmulInto(product, rows, rows, T, T, d, { bTransposed: true });
  } else {
    const columns = new Float32Array(d * T); // (d, T): the covariance's operand
    transposeInto(columns, rows, T, d);
    matmulInto(product, columns, columns, d, d, T, { bTransposed: true });
  }
  const sym = Float64Array.from(product);
  for (let component = 0; component < 2; component++) {
    // the power iteration's products through the kernel, on the (deflated) matrix packed once: at
    // dim 768 the plain double loops took 0.7 s of a 2,048-token analysis, the kernel 20-30 ms
    const packed = packMatrix(Float32Array.from(sym), n, n);
    let eigen: { vector: Float64Array; value: number };
    try {
      const v32 = new Float32Array(n);
      const av = new Float32Array(n);
      eigen = dominantEigen(n, component, (v, into) => {
        v32.set(v);
        matmulPackedInto(av, v32, 1, packed); // (1, n)·symᵀ = (sym·v)ᵀ: sym is symmetric
        into.set(av);
      });
    } finally {
      releasePacked(packed);
    }
    const { vector, value } = eigen;
    if (value <= 1e-12) break;
    for (let r = 0; r < T; r++) {
      // Gram eigenvector u gives the projection directly: X·v = u·√λ; covariance eigenvector v: X·v.
      let coord = 0;
      if (useGram) coord = vector[r]! * Math.sqrt(value);
      else for (let k = 0; k < d; k++) coord += rows[r * d + k]! * vector[k]!;
      out.data[r * 2 + component] = coord;
    }
    // Deflate so the next iteration finds the next component.
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sym[i * n + j]! -= value * vector[i]! * vector[j]!;
  }
  return out;
}

/**
 * Power iteration: the dominant eigenvector and eigenvalue of the symmetric n×n matrix that
 * `multiply` applies (into = A·v). The products are float32, so it stops when the eigenvalue moves
 * by less than float32's resolution (or after 300 steps: a near-tie of eigenvalues converges
 * slowly, and any vector of the tied plane draws as good a scatter).
 */
function dominantEigen(n: number, salt: number, multiply: (v: Float64Array, into: Float64Array) => void): { vector: Float64Array; value: number } {
  let v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = 1 + ((i * 7919 + salt * 104729) % 97) / 97; // fixed start: same plot every run
  let value = 0;
  for (let iter = 0; iter < 300; iter++) {
    const next = new Float64Array(n);
    multiply(v, next);
    let sumSquares = 0;
    for (let i = 0; i < n; i++) sumSquares += next[i]! * next[i]!;
    const norm = Math.sqrt(sumSquares);
    if (norm === 0) return { vector: next, value: 0 };
    for (let i = 0; i < n; i++) next[i]! /= norm;
    const delta = Math.abs(norm - value);
    value = norm;
    v = next;
    if (delta <= 1e-7 * norm) break;
  }
  // A sign convention so the plot does not flip between runs: largest entry positive.
  let big = 0;
  for (let i = 1; i < n; i++) if (Math.abs(v[i]!) > Math.abs(v[big]!)) big = i;
  if (v[big]! < 0) for (let i = 0; i < n; i++) v[i] = -v[i]!;
  return { vector: v, value };
}
