// Stage 5, causal (masked) attention with dropout (book section 3.5, CausalAttention): a token may
// only look at itself and the tokens before it.
//   ω = Q · Kᵀ with ω[i][j] = −∞ for j > i                        (T, T)
//   α = softmax_row(ω / √d)          d = keys' width; exp(−∞) = 0, so each row sums to 1 over j <= i
//   α' = dropout(α): each entry kept with probability 1 − p and scaled by 1/(1 − p), else 0
//   z = α' · V                                                    (T, d)
// The same function is one head of multi-head attention (stage 6).

import type { TorchGenerator } from '../rng';
import { applyDropout, causalMask_, matmul, matmulTransposed, softmaxRows } from '../tensor';
import { withPartsOnRead } from '../onRead';
import type { HeadTrace, Matrix } from '../types';

/** Where dropout masks come from: every call draws one mask over its whole (T, T) matrix. */
export interface DropoutSource {
  readonly p: number;
  readonly generator: TorchGenerator;
  /** Scratch for the keep-mask, reused by every matrix of a trace (a (T, T) mask is large). */
  keep?: Uint8Array;
}

export function causalAttention(queries: Matrix, keys: Matrix, values: Matrix, dropout: DropoutSource): HeadTrace {
  const keep = dropout.p === 0 ? undefined : drawMask(dropout, queries.rows * keys.rows);
  const maps = headMaps(queries, keys, keep, dropout.p);
  const contextVecs = matmul(maps.droppedWeights, values, { causal: true }); // (T, T)·(T, d) -> (T, d)
  return { queries, keys, values, ...maps, context: contextVecs };
}

/**
 * A head whose context was computed elsewhere (multiHeadAttention: every head's in the kernel at
 * once): its maps are computed from its queries, keys and own dropout mask the first time one
 * of them is read, the same numbers causalAttention gives. A panel at 2,048 tokens then draws
 * its first sections without twelve times three (2,048, 2,048) maps (576 MB) being written first.
 */
export function headWithMapsOnRead(queries: Matrix, keys: Matrix, values: Matrix, context: Matrix, keep: Uint8Array | undefined, p: number): HeadTrace {
  return withPartsOnRead({ queries, keys, values, context }, ['scores', 'weights', 'droppedWeights'], () => headMaps(queries, keys, keep, p));
}

/**
 * causalAttention with its dropout mask drawn now, in its own array (so the generator's order,
 * causal first and then the heads, is kept), and its maps and context computed the first time
 * one of them is read: the panel's causal stage, shown only when scrolled to for a long text.
 */
export function causalAttentionOnRead(queries: Matrix, keys: Matrix, values: Matrix, dropout: DropoutSource): HeadTrace {
  const keep = dropout.p === 0 ? undefined : dropout.generator.dropoutMask(new Uint8Array(queries.rows * keys.rows), dropout.p);
  return withPartsOnRead({ queries, keys, values }, ['scores', 'weights', 'droppedWeights', 'context'], () => {
    const maps = headMaps(queries, keys, keep, dropout.p);
    return { ...maps, context: matmul(maps.droppedWeights, values, { causal: true }) }; // (T, T)·(T, d) -> (T, d)
  });
}

type HeadMaps = Pick<HeadTrace, 'scores' | 'weights' | 'droppedWeights'>;

/** Scores, weights and dropped weights of one head; keep is its mask (undefined at p = 0). */
function headMaps(queries: Matrix, keys: Matrix, keep: Uint8Array | undefined, p: number): HeadMaps {
  const scores = causalMask_(matmulTransposed(queries, keys, { causal: true })); // (T, T)
  const weights = softmaxRows(scores, Math.sqrt(keys.cols), { causal: true }); // (T, T), 0 above the diagonal
  // (T, T); attnWeights itself at p = 0: no stage writes to a trace's matrices after computing
  // them, and a fresh (T, T) copy costs page faults (16 MB at T = 2048, per head)
  const droppedWeights = keep ? applyDropout(weights, keep, p, { causal: true }) : weights;
  return { scores, weights, droppedWeights };
}

/**
 * nn.Dropout in training mode over a whole (T, T) matrix, row-major, masked entries included
 * (they consume draws too): the keep-mask of `size` entries, in dropout.keep's scratch.
 */
function drawMask(dropout: DropoutSource, size: number): Uint8Array {
  if (dropout.keep?.length !== size) dropout.keep = new Uint8Array(size);
  return dropout.generator.dropoutMask(dropout.keep, dropout.p);
}
