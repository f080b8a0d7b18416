// The first two principal components of a set of row vectors, for the embedding scatter plot.
// Power iteration with deflation on the covariance (d×d) or, when there are fewer rows than
// columns, on the Gram matrix (T×T): both give the same projections, the smaller is cheaper.
import type { Matrix } from './types';
import { matmulInto } from './kernels';
import { createMatrix } from './tensor';

/** (T, d) -> (T, 2): coordinates of each centred row on PC 1 and PC 2 (zeros when undefined). */
export function pca2(x: Matrix): Matrix {
  const { rows: T, cols: d } = x;
  const out = createMatrix(T, 2);
  if (T < 2) return out;
  // centred in double, then rounded to float32 for the product
  const centred = new Float64Array(T * d); // (T, d)
  const centredT = new Float32Array(d * T); // (d, T): the covariance's operand
  for (let c = 0; c < d; c++) {
    let mean = 0;
    for (let r = 0; r < T; r++) mean += x.data[r * d + c] ?? 0;
    mean /= T;
    for (let r = 0; r < T; r++) {
      const value = (x.data[r * d + c] ?? 0) - mean;
      centred[r * d + c] = value;
      centredT[c * T + r] = value;
    }
  }
  const useGram = T <= d;
  const n = useGram ? T : d;
  // Gram (T, T) = X·Xᵀ or covariance (d, d) = Xᵀ·X, through the engine's kernel: at thousands of
  // tokens and dim 768 plain double loops were a third of an analysis. A float32 product is
  // plenty for a scatter plot's axes.
  const product = new Float32Array(n * n);
  if (useGram) {
    const rows = Float32Array.from(centred);
    matmulInto(product, rows, rows, T, T, d, { bTransposed: true });
  } else {
    matmulInto(product, centredT, centredT, d, d, T, { bTransposed: true });
  }
  const sym = Float64Array.from(product);
  for (let component = 0; component < 2; component++) {
    const { vector, value } = dominantEigen(sym, n, component);
    if (value <= 1e-12) break;
    for (let r = 0; r < T; r++) {
      // Gram eigenvector u gives the projection directly: X·v = u·√λ; covariance eigenvector v: X·v.
      let coord = 0;
      if (useGram) coord = vector[r]! * Math.sqrt(value);
      else for (let k = 0; k < d; k++) coord += centred[r * d + k]! * vector[k]!;
      out.data[r * 2 + component] = coord;
    }
    // Deflate so the next iteration finds the next component.
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sym[i * n + j]! -= value * vector[i]! * vector[j]!;
  }
  return out;
}

function dominantEigen(a: Float64Array, n: number, salt: number): { vector: Float64Array; value: number } {
  let v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = 1 + ((i * 7919 + salt * 104729) % 97) / 97; // fixed start: same plot every run
  let value = 0;
  for (let iter = 0; iter < 300; iter++) {
    const next = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j]! * v[j]!;
      next[i] = s;
    }
    const norm = Math.hypot(...next);
    if (norm === 0) return { vector: next, value: 0 };
    for (let i = 0; i < n; i++) next[i]! /= norm;
    const delta = Math.abs(norm - value);
    value = norm;
    v = next;
    if (delta <= 1e-10 * norm) break;
  }
  // A sign convention so the plot does not flip between runs: largest entry positive.
  let big = 0;
  for (let i = 1; i < n; i++) if (Math.abs(v[i]!) > Math.abs(v[big]!)) big = i;
  if (v[big]! < 0) for (let i = 0; i < n; i++) v[i] = -v[i]!;
  return { vector: v, value };
}
