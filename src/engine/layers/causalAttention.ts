// Stage 5, causal (masked) attention with dropout (book section 3.5, CausalAttention): a token may
// only look at itself and the tokens before it.
//   ω = Q · Kᵀ with ω[i][j] = −∞ for j > i                        (T, T)
//   α = softmax_row(ω / √d)          d = keys' width; exp(−∞) = 0, so each row sums to 1 over j <= i
//   α' = dropout(α): each entry kept with probability 1 − p and scaled by 1/(1 − p), else 0
//   z = α' · V                                                    (T, d)
// The same function is one head of multi-head attention (stage 6).

import type { TorchGenerator } from '../rng';
import { applyDropout, causalMask_, matmul, matmulTransposed, softmaxRows } from '../tensor';
import type { HeadTrace, Matrix } from '../types';

/** Where dropout masks come from: every call draws one mask over its whole (T, T) matrix. */
export interface DropoutSource {
  readonly p: number;
  readonly generator: TorchGenerator;
  /** Scratch for the keep-mask, reused by every matrix of a trace (a (T, T) mask is large). */
  keep?: Uint8Array;
}

export function causalAttention(queries: Matrix, keys: Matrix, values: Matrix, dropout: DropoutSource): HeadTrace {
  const attnScores = causalMask_(matmulTransposed(queries, keys, { causal: true })); // (T, T)
  const attnWeights = softmaxRows(attnScores, Math.sqrt(keys.cols), { causal: true }); // (T, T), 0 above the diagonal
  const droppedWeights = dropoutWeights(attnWeights, dropout, { causal: true }); // (T, T), attnWeights itself at p = 0
  const contextVecs = matmul(droppedWeights, values, { causal: true }); // (T, T)·(T, d) -> (T, d)
  return { queries, keys, values, scores: attnScores, weights: attnWeights, droppedWeights, context: contextVecs };
}

/**
 * nn.Dropout in training mode over the whole matrix, row-major, masked entries included (they
 * consume draws too). p = 0 draws nothing and returns attnWeights itself: no stage writes to a
 * trace's matrices after computing them, and a fresh (T, T) copy costs page faults (16 MB at
 * T = 2048, per head). With `causal`, attnWeights is 0 above the diagonal (see applyDropout).
 */
export function dropoutWeights(attnWeights: Matrix, dropout: DropoutSource, options: { causal?: boolean } = {}): Matrix {
  if (dropout.p === 0) return attnWeights;
  const size = attnWeights.data.length;
  if (dropout.keep?.length !== size) dropout.keep = new Uint8Array(size);
  const keep = dropout.generator.dropoutMask(dropout.keep, dropout.p);
  return applyDropout(attnWeights, keep, dropout.p, options);
}
