// Ablation: knock heads out and see what the model loses. A head's output before the output
// projection, its columns of z (T, headDim), is replaced
//   zero: by 0 at every position
//   mean: by its mean over the text's positions in the unablated run (the same vector at every position)
// and the forward goes on from the first ablated block (blocks before it see nothing different),
// kept residual stream in hand. Compared at one position: the next-token distributions before and
// after, KL(before ‖ after); over the text: the mean next-token loss before and after.

import { CancelledError, EngineError, type CancelSignal } from '../config';
import type { GptHooks } from '../gpt/hooks';
import type { GptModel } from '../gpt/types';
import { gptForward, type PackedGpt } from '../layers/gptModel';
import { topTokens } from '../gpt/sampling';
import type { Matrix } from '../types';
import { klDivergence, logSoftmaxRow, textLoss } from './distributions';
import { checkHead, checkPosition, type RunCache } from './run';

export const ABLATION_MODES = ['zero', 'mean'] as const;
export type AblationMode = (typeof ABLATION_MODES)[number];

/** A head by its block and index, both from 0. */
export interface HeadRef {
  layer: number;
  head: number;
}

export interface AblationResult {
  position: number;
  before: { id: number; p: number }[];
  after: { id: number; p: number }[];
  kl: number;
  /** null for a one-token text (nothing to predict). */
  lossBefore: number | null;
  lossAfter: number | null;
}

const TOP = 10;

/** The model's logits (T, vocab) with `heads` ablated; `base` was run with z kept (runWithCache). */
export function ablatedLogits(model: GptModel, base: RunCache, heads: readonly HeadRef[], mode: AblationMode, packed?: PackedGpt): Matrix {
  if (heads.length === 0) return base.logits;
  for (const { layer, head } of heads) checkHead(model, layer, head);
  if (!(ABLATION_MODES as readonly string[]).includes(mode)) throw new EngineError(`unknown ablation ${JSON.stringify(mode)}; use ${ABLATION_MODES.join(' or ')}`);
  const headDim = model.config.dim / model.config.heads;
  const T = base.ids.length;
  const z: GptHooks['z'] = (layer, values) => {
    for (const ablated of heads) {
      if (ablated.layer !== layer) continue;
      const start = ablated.head * headDim;
      const replacement = new Float32Array(headDim); // zeros, or the head's mean over positions
      if (mode === 'mean') {
        const clean = base.z[layer];
        if (!clean) throw new RangeError('ablatedLogits: mean ablation needs a run kept with z');
        for (let t = 0; t < T; t++) for (let c = 0; c < headDim; c++) replacement[c]! += clean.data[t * clean.cols + start + c]!;
        for (let c = 0; c < headDim; c++) replacement[c] = replacement[c]! / T;
      }
      for (let t = 0; t < T; t++) values.data.set(replacement, t * values.cols + start);
    }
  };
  const first = Math.min(...heads.map((h) => h.layer));
  const forward = gptForward(model, base.ids, { from: { layer: first, residual: base.residuals[first]! }, hooks: { z }, ...(packed && { packed }) });
  return forward.logits!;
}

/** The unablated text's loss, once per kept run (the panel ablates one head after another). */
const lossesBefore = new WeakMap<RunCache, number>();
function lossOf(base: RunCache): number {
  let loss = lossesBefore.get(base);
  if (loss === undefined) {
    loss = textLoss(base.logits, base.ids);
    lossesBefore.set(base, loss);
  }
  return loss;
}

/** Before and after ablating `heads` at `position` (default the last token). */
export function ablate(model: GptModel, base: RunCache, heads: readonly HeadRef[], mode: AblationMode, position = base.ids.length - 1, packed?: PackedGpt): AblationResult {
  checkPosition(position, base.ids.length);
  if (heads.length === 0) throw new EngineError('choose at least one head to ablate');
  const after = ablatedLogits(model, base, heads, mode, packed);
  const logBefore = logSoftmaxRow(base.logits, position);
  const logAfter = logSoftmaxRow(after, position);
  const top = (logP: Float64Array) => topTokens(Float32Array.from(logP, Math.exp), TOP).map(({ id, probability }) => ({ id, p: probability }));
  const withLoss = base.ids.length >= 2;
  return {
    position,
    before: top(logBefore),
    after: top(logAfter),
    kl: klDivergence(logBefore, logAfter),
    lossBefore: withLoss ? lossOf(base) : null,
    lossAfter: withLoss ? textLoss(after, base.ids) : null,
  };
}

export interface ProgressOptions {
  signal?: CancelSignal;
  /** Called after each run with the runs done and the runs in all. */
  onProgress?(done: number, total: number): void;
  packed?: PackedGpt;
}

/** [L][H]: the text's loss with head (l, h) alone ablated minus its loss without. Needs T ≥ 2. */
export function scanHeads(model: GptModel, base: RunCache, mode: AblationMode, options: ProgressOptions = {}): number[][] {
  const lossBefore = lossOf(base);
  const { layers, heads } = model.config;
  const grid: number[][] = [];
  for (let layer = 0; layer < layers; layer++) {
    const row: number[] = [];
    for (let head = 0; head < heads; head++) {
      if (options.signal?.aborted) throw new CancelledError();
      row.push(textLoss(ablatedLogits(model, base, [{ layer, head }], mode, options.packed), base.ids) - lossBefore);
      options.onProgress?.(layer * heads + head + 1, layers * heads);
    }
    grid.push(row);
  }
  return grid;
}
