// GELU, the tanh approximation the book's GELU module and GPT-2 use (book section 4.3):
//   GELU(x) ≈ 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
// Computed in double and rounded once to float32: within one float32 ulp of PyTorch's float32
// chain of ops, far inside the fixtures' 1e-5.

import { createMatrix } from '../tensor';
import type { Matrix } from '../types';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
export const GELU_CUBIC = 0.044715;

/** GELU of one number (double in, double out): for the panel's curve and for tests. */
export function geluScalar(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x)));
}

/** Elementwise into `out` (may be `x` itself). (n) -> (n) */
export function geluInto(out: Float32Array, x: Float32Array): Float32Array {
  if (out.length !== x.length) throw new RangeError(`geluInto: ${out.length} floats for ${x.length}`);
  for (let i = 0; i < x.length; i++) out[i] = geluScalar(x[i]!);
  return out;
}

/** (T, C) -> (T, C) */
export function gelu(x: Matrix): Matrix {
  const out = createMatrix(x.rows, x.cols);
  geluInto(out.data, x.data);
  return out;
}
