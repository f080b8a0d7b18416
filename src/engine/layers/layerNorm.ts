// Stage 7, layer normalisation (book chapter 4, LayerNorm): every token's vector is shifted to
// mean 0 and scaled to variance 1, then given a learned scale and shift.
//   μ = mean(x),  σ² = mean((x − μ)²)   (biased, unbiased=False)
//   y = scale · (x − μ) / √(σ² + ε) + shift,   ε = 1e-5
// Each step is rounded to float32 as PyTorch's elementwise float32 ops round it.

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
  const mean = rowMean(x); // (T)
  const variance = rowVariance(x); // (T)
  const f = Math.fround;
  const epsilon = f(eps);
  const { scale, shift } = norm; // (C)
  const inputs = x.data; // (T, C)
  for (let t = 0; t < rows; t++) {
    const mu = mean[t]!;
    const std = f(Math.sqrt(f(variance[t]! + epsilon)));
    const row = t * cols;
    for (let c = 0; c < cols; c++) {
      const normed = f(f(inputs[row + c]! - mu) / std);
      out[row + c] = f(scale[c]! * normed) + shift[c]!;
    }
  }
  return { mean, variance };
}
