// Named points of the GPT's forward where an experiment may look or intervene, as TransformerLens
// names them (HookedTransformer's hook points), so the lens, head scores, ablation, attribution
// and patching run on the one forward (layers/gptModel.ts) instead of a second copy of it:
//   resid_pre[l]  the residual stream entering block l                                (T, dim)
//   pattern[l]    head h's attention weights, 0 above the diagonal                    (T, T)
//   z[l]          every head's context vectors side by side, before the output
//                 projection; head h owns columns h·headDim .. (h+1)·headDim − 1       (T, dim)
//   attn_out[l]   the attention sub-layer's output: z·W_Oᵀ + b_O                      (T, dim)
//   mlp_out[l]    the feed-forward's output                                            (T, dim)
// A hook gets the block's index (from 0) and the matrix the forward is about to use: it may read
// it (copy it to keep it: the forward reuses some buffers) or change it in place (ablation,
// patching), and the forward goes on with what the hook left.
//
// Without a pattern or z hook the forward keeps its fused attention (kernels.ts,
// multiHeadForwardInto), which never materialises z or the maps; with one, attention runs head by
// head here on the same products (linear, causalAttention), the same numbers bit for bit.

import { causalAttention } from '../layers/causalAttention';
import type { BlockAttention } from '../layers/transformerBlock';
import { TorchGenerator } from '../rng';
import { concatColumns, linear, sliceColumns } from '../tensor';
import type { Matrix } from '../types';

export interface GptHooks {
  residPre?(layer: number, residual: Matrix): void;
  pattern?(layer: number, head: number, weights: Matrix): void;
  z?(layer: number, z: Matrix): void;
  attnOut?(layer: number, out: Matrix): void;
  mlpOut?(layer: number, out: Matrix): void;
}

/** p = 0 draws nothing from the generator: the weights are the softmax itself (model.eval()). */
const NO_DROPOUT = { p: 0, generator: new TorchGenerator(0) };

/**
 * Block `layer`'s attention head by head, calling the pattern and z hooks: LN₁(x) (T, dim) ->
 * attn_out (T, dim), with the packed weights when given.
 */
export function hookedAttention(layer: number, hooks: GptHooks): BlockAttention {
  return (norm1, block, heads, packed) => {
    const { att } = block;
    const queries = linear(norm1, att.query, packed?.query); // (T, dim)
    const keys = linear(norm1, att.key, packed?.key);
    const values = linear(norm1, att.value, packed?.value);
    const headDim = queries.cols / heads;
    const contexts: Matrix[] = [];
    for (let h = 0; h < heads; h++) {
      const start = h * headDim;
      const head = causalAttention(sliceColumns(queries, start, headDim), sliceColumns(keys, start, headDim), sliceColumns(values, start, headDim), NO_DROPOUT);
      hooks.pattern?.(layer, h, head.weights);
      contexts.push(head.context); // (T, headDim)
    }
    const z = concatColumns(contexts); // (T, dim)
    hooks.z?.(layer, z);
    return linear(z, att.outProj, packed?.outProj); // (T, dim)
  };
}
