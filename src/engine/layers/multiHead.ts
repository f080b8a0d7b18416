// Stage 6, multi-head attention (book section 3.6.2, MultiHeadAttention): one projection to
// attnDim, split into `heads` causal heads of headDim = attnDim / heads columns each, their
// contexts put side by side again and mixed by an output projection.
//   Q, K, V = x·W_qᵀ, x·W_kᵀ, x·W_vᵀ                                 (T, attnDim)
//   head h uses columns h·headDim .. (h+1)·headDim − 1               (T, headDim)
//     (what view(T, heads, headDim).transpose(0, 1) selects in PyTorch)
//   z_h = causal attention of head h, scaled by √headDim, own dropout mask
//   concat = [z_0 | z_1 | ... ]                                      (T, attnDim)
//   output = concat·W_oᵀ + b_o                                       (T, attnDim)

import { attentionForwardInto, multiHeadForwardInto } from '../kernels';
import { createMatrix, dropoutScale, linear, sliceColumns } from '../tensor';
import type { BlockWeights } from '../gpt/types';
import type { HeadTrace, Matrix, Trace } from '../types';
import { headWithMapsOnRead, type DropoutSource } from './causalAttention';

export function multiHeadAttention(
  inputs: Matrix,
  weights: BlockWeights['att'],
  heads: number,
  dropout: DropoutSource,
  beforeHead: (head: number) => void = () => {},
): Trace['multiHead'] {
  const queries = linear(inputs, weights.query); // (T, dim) -> (T, attnDim)
  const keys = linear(inputs, weights.key);
  const values = linear(inputs, weights.value);
  const T = queries.rows;
  const attnDim = queries.cols;
  const headDim = attnDim / heads;
  // Each head's own dropout mask, drawn head after head from the one generator, as the heads
  // drew them one at a time (the same masks, so the same numbers).
  const masks = dropout.p > 0 ? new Uint8Array(heads * T * T) : undefined;
  const maskOf = (h: number) => masks?.subarray(h * T * T, (h + 1) * T * T);
  for (let h = 0; h < heads; h++) {
    beforeHead(h);
    const mask = maskOf(h);
    if (mask) dropout.generator.dropoutMask(mask, dropout.p);
  }
  // Every head's context in the kernel at once (the threads share the heads, and no (T, T) map
  // leaves the kernel's memory): bit for bit causalAttention's, the same products and softmax.
  // Each head's maps are computed when first read (headWithMapsOnRead).
  const qkv = new Float32Array(T * 3 * attnDim); // (T, 3·attnDim): queries | keys | values
  for (let t = 0; t < T; t++) {
    [queries, keys, values].forEach((m, part) => qkv.set(m.data.subarray(t * attnDim, (t + 1) * attnDim), (3 * t + part) * attnDim));
  }
  const concat = createMatrix(T, attnDim); // (T, attnDim)
  attentionForwardInto(concat.data, undefined, qkv, masks, dropoutScale(dropout.p), { B: 1, T, C: attnDim, heads });
  const headTraces: HeadTrace[] = [];
  for (let h = 0; h < heads; h++) {
    const start = h * headDim;
    const columns = (m: Matrix) => sliceColumns(m, start, headDim); // (T, headDim)
    headTraces.push(headWithMapsOnRead(columns(queries), columns(keys), columns(values), columns(concat), maskOf(h), dropout.p));
  }
  const output = linear(concat, weights.outProj); // (T, attnDim)
  return { heads: headTraces, concat, output };
}

/**
 * The same layer at inference (no dropout), keeping only its output: what `llm101 bench` times
 * beside onnxruntime and tfjs, which keep no per-head maps either. It runs in the kernel's
 * workspace (multiHeadForwardInto), so only the output is allocated (or none, with `into`), and
 * its output is bit for bit multiHeadAttention's at p = 0 (a unit test checks). (T, dim) -> (T, attnDim)
 */
export function multiHeadForward(inputs: Matrix, weights: BlockWeights['att'], heads: number, into?: Matrix): Matrix {
  const output = into ?? createMatrix(inputs.rows, weights.query.weight.rows);
  if (output.rows !== inputs.rows || output.cols !== weights.query.weight.rows) {
    throw new RangeError(`multiHeadForward: output (${output.rows}, ${output.cols}) for (${inputs.rows}, ${weights.query.weight.rows})`);
  }
  const projection = ({ weight, bias }: BlockWeights['att']['query']) => ({ weight: weight.data, ...(bias && { bias }) });
  multiHeadForwardInto(output.data, inputs.data, inputs.rows, inputs.cols, heads, {
    query: projection(weights.query),
    key: projection(weights.key),
    value: projection(weights.value),
    outProj: projection(weights.outProj),
  });
  return output;
}
