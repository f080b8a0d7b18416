// From logits to the next token (book sections 4.7 and 5.3): the next-token distribution of a
// position, top-k, and the draw.
//   p = softmax(logits / temperature)                           (vocab)
//   top-k: logits below the k-th largest become −∞ first, so p renormalises over the k kept
//   greedy (temperature 0): argmax of the logits, the first on ties (torch.argmax)
//   sampling: torch.multinomial(p, 1), which on the CPU draws q_i ~ Exp(1) for every entry and
//   takes argmax p_i / q_i (the exponential race: P(i wins) = p_i). We draw q the way torch
//   1.13's exponential_ does, q = −ln(1 − u) with u a 53-bit uniform, rounded to float32, so
//   `torch.manual_seed(s)` followed by the book's `generate` picks the same tokens (a fixture checks).

import { EngineError } from '../config';
import { softmaxRowsInto } from '../kernels';
import type { TorchGenerator } from '../rng';

export interface SamplingOptions {
  /** 0 = greedy (argmax); otherwise logits are divided by it before the softmax. Default 1 for distributions. */
  temperature?: number;
  /** Keep only the k largest logits (ties with the k-th are kept, as the book's `logits < min_val` does). */
  topK?: number;
}

/** Throws an EngineError with the fix for a temperature below 0 or a top-k that is not a positive whole number. */
export function checkSamplingOptions(options: SamplingOptions): void {
  const { temperature, topK } = options;
  if (temperature !== undefined && !(Number.isFinite(temperature) && temperature >= 0)) {
    throw new EngineError(`temperature must be 0 (greedy) or above, got ${String(temperature)}`);
  }
  if (topK !== undefined && !(Number.isSafeInteger(topK) && topK >= 1)) {
    throw new EngineError(`top-k must be a whole number of at least 1, got ${String(topK)}`);
  }
}

/** Index of the largest value, the first on ties (NaN never wins). (n) -> index */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** The k-th largest value (k clamped to the length): the book's `torch.topk(logits, k)[0][-1]`. */
export function kthLargest(values: Float32Array, k: number): number {
  const sorted = Float32Array.from(values).sort(); // ascending, NaN last
  return sorted[Math.max(0, sorted.length - Math.min(k, sorted.length))]!;
}

/** A copy of the logits with every entry below the k-th largest set to −∞. (vocab) -> (vocab) */
export function maskTopK(logits: Float32Array, k: number): Float32Array {
  const minimum = kthLargest(logits, k);
  return logits.map((value) => (value < minimum ? -Infinity : value));
}

/**
 * The distribution the sampler draws the next token from, given one row of logits (vocab):
 * softmax(topK-masked logits / temperature). Temperature 0 is greedy: all mass on the argmax.
 * Without topK this is the model's full next-token distribution (every entry, summing to 1).
 */
export function nextTokenDistribution(logits: Float32Array, options: SamplingOptions = {}): Float32Array {
  checkSamplingOptions(options);
  const { temperature = 1, topK } = options;
  const masked = topK === undefined ? logits : maskTopK(logits, topK);
  const probabilities = new Float32Array(logits.length);
  if (temperature === 0) {
    probabilities[argmax(masked)] = 1;
    return probabilities;
  }
  softmaxRowsInto(probabilities, masked, 1, logits.length, temperature, false);
  return probabilities;
}

/** The k most probable entries, most probable first (lower id first on ties): the panel's bars. */
export function topTokens(probabilities: Float32Array, k: number): { id: number; probability: number }[] {
  // one pass keeping the k best in order, not a sort of the whole vocabulary: the logit lens asks
  // for the top 5 of 50,257 entries in each of (layers + 1) · T rows
  const best: { id: number; probability: number }[] = [];
  if (k < 1) return best;
  for (let id = 0; id < probabilities.length; id++) {
    const probability = probabilities[id]!;
    if (best.length === k && !(probability > best[k - 1]!.probability)) continue;
    let at = best.length;
    while (at > 0 && probability > best[at - 1]!.probability) at--;
    best.splice(at, 0, { id, probability });
    if (best.length > k) best.pop();
  }
  return best;
}

/**
 * torch.multinomial(probabilities, 1) on the CPU: one Exp(1) draw per entry, in order, then
 * argmax of p_i / q_i in float32. Draws `probabilities.length` values from the generator.
 */
export function sampleIndex(probabilities: Float32Array, generator: TorchGenerator): number {
  let best = 0;
  let bestRatio = -Infinity;
  for (let i = 0; i < probabilities.length; i++) {
    const q = Math.fround(-Math.log1p(-generator.uniform64())); // exponential_(1), float32
    const ratio = Math.fround(probabilities[i]! / q);
    if (ratio > bestRatio) {
      bestRatio = ratio;
      best = i;
    }
  }
  return best;
}

/** The next token for one row of logits: greedy at temperature 0 (no draws), else a seeded draw. */
export function pickNextToken(logits: Float32Array, options: SamplingOptions, generator: TorchGenerator): number {
  const temperature = options.temperature ?? 0;
  if (temperature === 0) return argmax(logits); // masking the rest to −∞ changes no argmax
  return sampleIndex(nextTokenDistribution(logits, { ...options, temperature }), generator);
}
