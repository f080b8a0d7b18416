// Activation patching (causal tracing): which layer and position carry what makes the clean text's
// answer beat a wrong one? Two texts of the same token count, a clean one and a corrupted one;
//   m = logit(answer) − logit(wrong) at the last position
// For block l and position p, the corrupted run gets the clean run's residual stream entering
// block l at position p (resid_pre[l][p]) and goes on from block l:
//   grid[l][p] = (m_patched − m_corrupt) / (m_clean − m_corrupt)
// 1: that one vector restores the clean answer; 0: it changes nothing.

import { CancelledError, EngineError } from '../config';
import type { GptModel } from '../gpt/types';
import { gptForward } from '../layers/gptModel';
import type { Matrix } from '../types';
import type { ProgressOptions } from './ablation';
import { runWithCache } from './run';

export interface Patching {
  /** m on the clean and on the corrupted text. */
  clean: number;
  corrupt: number;
  /** [L][T] */
  grid: number[][];
}

/** logit(answer) − logit(wrong) at the last row of the final norm's output (T, dim). */
function logitDifference(model: GptModel, finalNorm: Matrix, answer: number, wrong: number): number {
  const { dim } = model.config;
  const out = model.weights.outHead.data;
  const last = (finalNorm.rows - 1) * dim;
  let m = 0;
  for (let i = 0; i < dim; i++) m += finalNorm.data[last + i]! * (out[answer * dim + i]! - out[wrong * dim + i]!);
  return m;
}

export function activationPatching(model: GptModel, cleanIds: readonly number[], corruptIds: readonly number[], answer: number, wrong: number, options: ProgressOptions = {}): Patching {
  if (cleanIds.length !== corruptIds.length) {
    throw new EngineError(`the clean text has ${cleanIds.length} tokens and the corrupted one ${corruptIds.length}; patching needs the same count: change the corrupted text`);
  }
  for (const id of [answer, wrong]) {
    if (!(Number.isInteger(id) && id >= 0 && id < model.config.vocabSize)) throw new EngineError(`token id ${id} is outside the model's vocabulary of ${model.config.vocabSize}`);
  }
  if (answer === wrong) throw new EngineError('the answer and the wrong token are the same; choose two different tokens');
  const packed = options.packed && { packed: options.packed };
  const run = (ids: readonly number[]) => runWithCache(model, ids, {}, { logits: 'none', ...packed });
  const cleanRun = run(cleanIds);
  const corruptRun = run(corruptIds);
  const clean = logitDifference(model, cleanRun.finalNorm, answer, wrong);
  const corrupt = logitDifference(model, corruptRun.finalNorm, answer, wrong);
  if (clean === corrupt) {
    throw new EngineError('the clean and the corrupted text give the same logit difference, so there is nothing to restore; choose texts whose answers differ');
  }
  const { layers, dim } = model.config;
  const T = cleanIds.length;
  const grid: number[][] = [];
  for (let layer = 0; layer < layers; layer++) {
    const row: number[] = [];
    for (let p = 0; p < T; p++) {
      if (options.signal?.aborted) throw new CancelledError();
      const residual = corruptRun.residuals[layer]!;
      const patched: Matrix = { rows: T, cols: dim, data: residual.data.slice() };
      patched.data.set(cleanRun.residuals[layer]!.data.subarray(p * dim, (p + 1) * dim), p * dim);
      const forward = gptForward(model, corruptIds, { from: { layer, residual: patched }, logits: 'none', ...packed });
      row.push((logitDifference(model, forward.finalNorm, answer, wrong) - corrupt) / (clean - corrupt));
      options.onProgress?.(layer * T + p + 1, layers * T);
    }
    grid.push(row);
  }
  return { clean, corrupt, grid };
}
