// Stage 7, layer normalisation (book chapter 4, LayerNorm): every token's vector is shifted to
// mean 0 and scaled to variance 1, then given a learned scale and shift.
//   μ = mean(x),  σ² = mean((x − μ)²)   (biased, unbiased=False)
//   y = scale · (x − μ) / √(σ² + ε) + shift,   ε = 1e-5
// Each step is rounded to float32 as PyTorch's elementwise float32 ops round it.

import { layerNormRowsInto } from '../kernels';
import { createMatrix, rowMean, rowVariance } from '../tensor';
import { LAYER_NORM_EPS } from '../config';
import type { NormWeights } from '../gpt/types';
import type { Matrix, Trace } from '../types';

export function layerNorm(x: Matrix, norm: NormWeights, eps: number = LAYER_NORM_EPS): Trace['layerNorm'] {
  const output = createMatrix(x.rows, x.cols);
  const { mean, variance } = layerNormInto(output.data, x, norm, eps);
  return {
    input: x,
    mean,
    variance,
    output,
    outputMean: rowMean(output),
    outputVariance: rowVariance(output),
  };
}

/**
 * y = layer norm of x into out (T, C), which may be x's own data (in place: each row's mean and
 * variance are taken before the row is written). Returns the mean and variance. (T, C)
 * `eps` is the model's ε (GPT-2's config.json layer_norm_epsilon); the stages use 1e-5.
 */
export function layerNormInto(
  out: Float32Array,
  x: Matrix,
  norm: NormWeights,
  eps: number = LAYER_NORM_EPS,
): { mean: Float32Array; variance: Float32Array } {
  const { rows, cols } = x;
  if (out.length !== rows * cols) throw new RangeError(`layerNormInto: ${out.length} floats for (${rows}, ${cols})`);
  // in the kernel (rows.wat), these formulas bit for bit: rowMean's and rowVariance's double sums,
  // then each step rounded to float32 as PyTorch's elementwise ops round it
  return layerNormRowsInto(out, x.data, norm.scale, norm.shift, eps, rows, cols);
}
