// What each head attends to, as numbers (TransformerLens's head detectors), from the attention
// weights A (T, T) of the head on a text:
//   previousToken = mean over t ≥ 1 of A[t][t−1]       the token just before
//   firstToken    = mean over t ≥ 1 of A[t][0]         the first token (a resting place)
//   selfToken     = mean over t of A[t][t]             the token itself
// and on a probe of N random ids repeated twice (2N tokens), where a head that has learned
// "find the earlier copy of this token and look at what came after it" attends from t to t−N+1:
//   induction     = mean over t = N .. 2N−1 of A[t][t−N+1]
// A score of 1 means every row puts all its weight on that one key.

import { EngineError } from '../config';
import { TorchGenerator } from '../rng';
import type { GptModel } from '../gpt/types';
import type { Matrix } from '../types';
import type { PackedGpt } from '../layers/gptModel';
import { runWithCache, type RunCache } from './run';

export interface HeadScore {
  /** null for a one-token text (no t ≥ 1). */
  previousToken: number | null;
  firstToken: number | null;
  selfToken: number;
  induction: number;
}

export const HEAD_ROLES = ['previousToken', 'firstToken', 'selfToken', 'induction'] as const;
export type HeadRole = (typeof HEAD_ROLES)[number];

/** Probe ids as torch.randint(0, vocab, (N,), generator=torch.Generator().manual_seed(seed)) draws them, repeated twice. */
export function inductionProbe(length: number, seed: number, vocabSize: number): number[] {
  if (!(Number.isInteger(length) && length >= 2)) throw new EngineError(`the probe length must be a whole number of at least 2, got ${length}`);
  const generator = new TorchGenerator(seed);
  // torch's random_from_to for a range below 2³²: one 32-bit draw modulo the range
  const half = Array.from({ length }, () => generator.nextUint32() % vocabSize);
  return [...half, ...half];
}

/** Mean of A[t][t − offset] over rows from .. T−1. */
function diagonalMean(weights: Matrix, offset: number, from: number): number {
  let sum = 0;
  for (let t = from; t < weights.rows; t++) sum += weights.data[t * weights.cols + t - offset]!;
  return sum / (weights.rows - from);
}

/** mean over t ≥ 1 of A[t][t−1]: how much a head looks at the token just before (null for one token). */
export function previousTokenScore(weights: Matrix): number | null {
  return weights.rows > 1 ? diagonalMean(weights, 1, 1) : null;
}

/** Whether ids are a sequence of at least 2 ids given twice (a, b, …, a, b, …): what the induction score reads. */
export function isRepeatedProbe(ids: readonly number[]): boolean {
  const half = ids.length / 2;
  return Number.isInteger(half) && half >= 2 && ids.every((id, t) => t < half || id === ids[t - half]);
}

/** On a probe of N tokens given twice (2N rows): mean over t = N .. 2N−1 of A[t][t−N+1]. */
export function inductionScore(weights: Matrix, half: number): number {
  return diagonalMean(weights, half - 1, half);
}

function columnMean(weights: Matrix, column: number, from: number): number {
  let sum = 0;
  for (let t = from; t < weights.rows; t++) sum += weights.data[t * weights.cols + column]!;
  return sum / (weights.rows - from);
}

/**
 * Every head's scores: [L][H]. `text` is a run kept with patterns; `probe` is 2N ids, a sequence of
 * N repeated once (inductionProbe), whose run is computed here.
 */
export function headScores(model: GptModel, text: RunCache, probe: readonly number[], packed?: PackedGpt): HeadScore[][] {
  const half = probe.length / 2;
  if (!isRepeatedProbe(probe)) {
    throw new EngineError('the induction probe must be a sequence of at least 2 ids given twice (a, b, …, a, b, …)');
  }
  if (probe.length > model.config.contextLength) {
    throw new EngineError(`the probe's ${probe.length} tokens are more than the model's context length of ${model.config.contextLength}; use a probe length of at most ${Math.floor(model.config.contextLength / 2)}`);
  }
  const probeRun = runWithCache(model, probe, { patterns: true }, { logits: 'none', ...(packed && { packed }) });
  const T = text.ids.length;
  return text.patterns.map((heads, layer) =>
    heads.map((weights, head) => ({
      previousToken: previousTokenScore(weights),
      firstToken: T > 1 ? columnMean(weights, 0, 1) : null,
      selfToken: diagonalMean(weights, 0, 0),
      induction: inductionScore(probeRun.patterns[layer]![head]!, half),
    })),
  );
}
