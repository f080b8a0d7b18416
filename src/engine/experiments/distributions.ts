// What the experiments compare next-token distributions with, in double from float32 logits:
//   log p_i = x_i − m − ln Σ_j exp(x_j − m),  m = max_j x_j          (log-softmax of one row)
//   loss = mean over t < T−1 of −log p_t[ids[t+1]]                    (F.cross_entropy, the text's loss)
//   KL(p ‖ q) = Σ_i p_i (log p_i − log q_i)                           (F.kl_div(log q, log p, log_target=True))

import { EngineError } from '../config';
import type { Matrix } from '../types';

/** ln Σ exp over row `row` of `logits`, shifted by the row's maximum so nothing overflows. */
function logSumExp(logits: Matrix, row: number): number {
  const { cols, data } = logits;
  const offset = row * cols;
  let max = -Infinity;
  for (let i = 0; i < cols; i++) max = Math.max(max, data[offset + i]!);
  let sum = 0;
  for (let i = 0; i < cols; i++) sum += Math.exp(data[offset + i]! - max);
  return max + Math.log(sum);
}

/** Row `row` of `logits` as log-probabilities. (vocab) */
export function logSoftmaxRow(logits: Matrix, row: number): Float64Array {
  const shift = logSumExp(logits, row);
  const offset = row * logits.cols;
  return Float64Array.from(logits.data.subarray(offset, offset + logits.cols), (x) => x - shift);
}

/** The mean next-token cross-entropy of a text: logits (T, vocab) against ids (T); needs T ≥ 2. */
export function textLoss(logits: Matrix, ids: readonly number[]): number {
  if (ids.length < 2) throw new EngineError('the loss needs a text of at least 2 tokens (each predicts the next); give a longer text');
  let total = 0;
  for (let t = 0; t + 1 < ids.length; t++) total += logSumExp(logits, t) - logits.data[t * logits.cols + ids[t + 1]!]!;
  return total / (ids.length - 1);
}

/** KL(p ‖ q) from log-probabilities; terms with p_i = 0 add nothing. */
export function klDivergence(logP: Float64Array, logQ: Float64Array): number {
  let kl = 0;
  for (let i = 0; i < logP.length; i++) {
    const p = Math.exp(logP[i]!);
    if (p > 0) kl += p * (logP[i]! - logQ[i]!);
  }
  return kl;
}
