// Stage 3, self-attention without trainable weights (book section 3.3.1): every token is its own
// query, key and value.
//   ω = x · xᵀ            attention scores, (T, T)
//   α = softmax_row(ω)     attention weights, each row sums to 1
//   z = α · x              context vectors, (T, dim)

import { matmul, matmulTransposed, softmaxRows } from '../tensor';
import type { Matrix, Trace } from '../types';

export function simpleAttention(inputs: Matrix): Trace['simple'] {
  const attnScores = matmulTransposed(inputs, inputs); // (T, dim)·(T, dim)ᵀ -> (T, T)
  const attnWeights = softmaxRows(attnScores); // (T, T)
  const contextVecs = matmul(attnWeights, inputs); // (T, T)·(T, dim) -> (T, dim)
  return { scores: attnScores, weights: attnWeights, context: contextVecs };
}
