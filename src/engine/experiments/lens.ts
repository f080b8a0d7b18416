// The logit lens (nostalgebraist, 2020): read the residual stream after every block as if it were
// the last, through the model's own final norm and output head.
//   lens[l][t] = softmax(W_out · LN_f(x_l[t]))      x_0 = the embeddings, x_l = after block l   (vocab)
// Row L is the model's own next-token distribution. Each cell keeps its top k; `final[l][t]` is
// the probability that layer l already gives the model's final top-1 token at t (the line chart).

import { packMatrix, releasePacked, softmaxOfPackedProduct, softmaxRowsInto } from '../kernels';
import { topTokens } from '../gpt/sampling';
import type { GptModel } from '../gpt/types';
import { layerNormInto } from '../layers/layerNorm';
import type { PackedGpt } from '../layers/gptModel';
import { createMatrix } from '../tensor';
import type { RunCache } from './run';

export interface LensCell {
  id: number;
  p: number;
}

export interface LogitLens {
  /** [layers + 1][T] of the top k, most probable first. */
  top: LensCell[][][];
  /** [layers + 1][T]: probability of the final row's top-1 token at that layer. */
  final: number[][];
}

/** Rows of W_out products per call: 512 · 50,257 floats (103 MB) at most for GPT-2's vocabulary. */
const ROWS_PER_PRODUCT = 512;

export interface LensOptions {
  /** Cells per reading (default 5). */
  k?: number;
  /** Read positions from .. T−1 only (default 0): a long text's lens is its last positions. */
  from?: number;
  packed?: PackedGpt;
}

/** The lens of a run (runWithCache): `top` and `final` have one column per position from `from` on. */
export function logitLens(model: GptModel, cache: RunCache, options: LensOptions = {}): LogitLens {
  const { config, weights } = model;
  const { k = 5, from = 0, packed } = options;
  const T = cache.ids.length - from; // positions read; position t of the text is column t − from
  const readings = cache.residuals.length; // L + 1
  const vocab = config.vocabSize;
  const top: LensCell[][][] = Array.from({ length: readings }, () => []); // only the top k: (T, vocab) per reading is 200 MB at T = 1,024
  const final: number[][] = Array.from({ length: readings }, () => new Array<number>(T).fill(0));
  const finalIds = new Int32Array(T);
  /** Keeps the top k of `probabilities` (count, vocab), row r being reading rowAt(r). */
  const read = (probabilities: Float32Array, count: number, rowAt: (r: number) => { layer: number; t: number }) => {
    for (let r = 0; r < count; r++) {
      const { layer, t } = rowAt(r);
      const row = probabilities.subarray(r * vocab, (r + 1) * vocab);
      const best = topTokens(row, k).map(({ id, probability }) => ({ id, p: probability }));
      top[layer]![t] = best;
      if (layer === readings - 1) finalIds[t] = best[0]?.id ?? 0;
      final[layer]![t] = row[finalIds[t]!]!;
    }
  };
  // the last reading first, so the final top-1 is known when the others are read; it is the
  // model's own output, already computed when the run kept every row of logits
  const last = { layer: readings - 1 };
  const kept = cache.logits.rows === cache.ids.length;
  if (kept) {
    const logits = cache.logits.data.slice(from * vocab);
    softmaxRowsInto(logits, logits, T, vocab, 1, false);
    read(logits, T, (t) => ({ ...last, t }));
  }
  const firstLayer = kept ? readings - 2 : readings - 1;
  const rows = (firstLayer + 1) * T; // readings firstLayer .. 0, T positions each
  const rowAt = (flat: number) => ({ layer: firstLayer - Math.floor(flat / T), t: flat % T });
  // the products' probabilities are read where the kernel computed them (softmaxOfPackedProduct)
  const head = packed?.outHead ?? packMatrix(weights.outHead.data, vocab, config.dim);
  try {
    for (let start = 0; start < rows; start += ROWS_PER_PRODUCT) {
      const count = Math.min(ROWS_PER_PRODUCT, rows - start);
      const x = createMatrix(count, config.dim);
      for (let r = 0; r < count; r++) {
        const { layer, t } = rowAt(start + r);
        x.data.set(cache.residuals[layer]!.data.subarray((from + t) * config.dim, (from + t + 1) * config.dim), r * config.dim);
      }
      layerNormInto(x.data, x, weights.finalNorm, config.layerNormEps); // row by row, in place
      softmaxOfPackedProduct(x.data, count, head, (probabilities) => read(probabilities, count, (r) => rowAt(start + r)));
    }
  } finally {
    if (!packed) releasePacked(head);
  }
  return { top, final };
}
