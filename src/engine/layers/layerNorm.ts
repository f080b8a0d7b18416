// Stage 7, layer normalisation (book chapter 4, LayerNorm): every token's vector is shifted to
// mean 0 and scaled to variance 1, then given a learned scale and shift.
//   μ = mean(x),  σ² = mean((x − μ)²)   (biased, unbiased=False)
//   y = scale · (x − μ) / √(σ² + ε) + shift,   ε = 1e-5
// Each step is rounded to float32 as PyTorch's elementwise float32 ops round it.

import { createMatrix, rowMean, rowVariance } from '../tensor';
import type { Matrix, Trace, Weights } from '../types';

export const LAYER_NORM_EPS = 1e-5;

export function layerNorm(x: Matrix, norm: Weights['norm']): Trace['layerNorm'] {
  const { rows, cols } = x;
  const mean = rowMean(x); // (T)
  const variance = rowVariance(x); // (T)
  const output = createMatrix(rows, cols);
  const f = Math.fround;
  const eps = f(LAYER_NORM_EPS);
  const { scale, shift } = norm; // (C)
  const inputs = x.data; // (T, C)
  const outputs = output.data; // (T, C)
  for (let t = 0; t < rows; t++) {
    const mu = mean[t]!;
    const std = f(Math.sqrt(f(variance[t]! + eps)));
    const row = t * cols;
    for (let c = 0; c < cols; c++) {
      const normed = f(f(inputs[row + c]! - mu) / std);
      outputs[row + c] = f(scale[c]! * normed) + shift[c]!;
    }
  }
  return {
    input: x,
    mean,
    variance,
    output,
    outputMean: rowMean(output),
    outputVariance: rowVariance(output),
  };
}
