// Stage 4, self-attention with trainable weights (book section 3.4, SelfAttention_v2):
//   Q = x·W_qᵀ (+ b_q),  K = x·W_kᵀ (+ b_k),  V = x·W_vᵀ (+ b_v)      each (T, attnDim)
//   ω = Q · Kᵀ                                                       (T, T), unscaled
//   α = softmax_row(ω / √attnDim)        scaling keeps the softmax from saturating as attnDim grows
//   z = α · V                                                        (T, attnDim)

import { linear, matmul, matmulTransposed, softmaxRows } from '../tensor';
import type { BlockWeights } from '../gpt/types';
import { withPartsOnRead } from '../onRead';
import type { Matrix, Trace } from '../types';

export function selfAttention(inputs: Matrix, weights: Pick<BlockWeights['att'], 'query' | 'key' | 'value'>): Trace['selfAttention'] {
  const queries = linear(inputs, weights.query); // (T, dim) -> (T, attnDim)
  const keys = linear(inputs, weights.key);
  const values = linear(inputs, weights.value);
  // the maps and context only when first read (the causal stage reads the projections only)
  return withPartsOnRead({ queries, keys, values }, ['scores', 'weights', 'context'], () => {
    const attnScores = matmulTransposed(queries, keys); // (T, T)
    const attnWeights = softmaxRows(attnScores, Math.sqrt(keys.cols)); // (T, T)
    const contextVecs = matmul(attnWeights, values); // (T, attnDim)
    return { scores: attnScores, weights: attnWeights, context: contextVecs };
  });
}
