// The feed-forward module of a transformer block (book section 4.3, FeedForward): every token on
// its own is widened four times, bent by GELU and narrowed back.
//   h_pre = x·W_upᵀ + b_up          ff.layers.0: (T, dim) -> (T, 4·dim)   pre-activations
//   h     = GELU(h_pre)             tanh approximation (gelu.ts)           hidden activations
//   y     = h·W_downᵀ + b_down      ff.layers.2: (T, 4·dim) -> (T, dim)
// Products go through `linear` (kernels/products.ts), so the results are the same numbers whether a row is
// computed alone (incremental decoding) or among T rows.

import type { BlockWeights } from '../gpt/types';
import { feedForwardPackedInto, geluRowsInto, type PackedMatrix } from '../kernels';
import { createMatrix, linear } from '../tensor';
import type { Matrix } from '../types';

export interface FeedForwardTrace {
  preActivation: Matrix; // (T, 4·dim): what GELU is given (the panel puts these on the curve)
  hidden: Matrix; // (T, 4·dim): GELU(preActivation)
  output: Matrix; // (T, dim)
}

/**
 * Inference: only the output is kept; GELU runs in place on the pre-activations. With `packed`,
 * the two weights' packings, the hidden layer stays in the kernel's workspace (the same numbers).
 * (T, dim) -> (T, dim)
 */
export function feedForward(x: Matrix, ff: BlockWeights['ff'], packed?: { up: PackedMatrix; down: PackedMatrix }): Matrix {
  if (packed?.up.live && packed.down.live && packed.up.source === ff.up.weight.data && packed.down.source === ff.down.weight.data) {
    const output = createMatrix(x.rows, ff.down.weight.rows); // (T, dim)
    const projection = (packing: PackedMatrix, bias: Float32Array | undefined) => ({ packed: packing, ...(bias && { bias }) });
    feedForwardPackedInto(output.data, x.data, x.rows, projection(packed.up, ff.up.bias), projection(packed.down, ff.down.bias));
    return output;
  }
  const hidden = linear(x, ff.up, packed?.up); // (T, dim) -> (T, 4·dim)
  geluRowsInto(hidden.data, undefined, hidden.data, hidden.rows, hidden.cols);
  return linear(hidden, ff.down, packed?.down); // (T, 4·dim) -> (T, dim)
}

/** The same numbers as feedForward, keeping the pre-activations and the hidden activations. */
export function feedForwardTraced(x: Matrix, ff: BlockWeights['ff']): FeedForwardTrace {
  const preActivation = linear(x, ff.up); // (T, 4·dim)
  const hidden: Matrix = { rows: preActivation.rows, cols: preActivation.cols, data: new Float32Array(preActivation.data.length) };
  geluRowsInto(hidden.data, undefined, preActivation.data, preActivation.rows, preActivation.cols);
  const output = linear(hidden, ff.down); // (T, dim)
  return { preActivation, hidden, output };
}
