// From the model's forward pass to what the model sections draw (book chapter 4): residual-stream
// norms per block, block 0's feed-forward activations, the next-token distribution, and the
// attention maps of every layer × head, which are recomputed from the kept residual stream when
// the panel asks (a 12-layer, 12-head model at 1,024 tokens would hold 144 (T, T) maps otherwise).
import { traceGptBlock, traceGptFeedForward, type GptForward } from '../engine/layers/gptModel';
import { gptParameterCount } from '../engine/gpt/config';
import { nextTokenDistribution, topTokens } from '../engine/gpt/sampling';
import type { GptModel } from '../engine/gpt/types';
import type { ModelAnalysis } from '../engine/pipeline';
import { linear } from '../engine/tensor';
import type { Matrix, Tokenizer } from '../engine/types';
import type { NextTokenView, PanelBlock, PanelBlockThumbs, PanelModel, PanelMap } from '../shared/protocol';
import { encodeMap, weightScale, type MapCodes } from '../shared/codes';

/** Pre-activations sampled for the GELU curve: enough to show the spread, few enough to draw. */
export const GELU_SAMPLE = 4096;
/** Thumbnails of the layer × head grid are at most this many cells a side. */
export const THUMB_SIDE = 48;
/** Above this many tokens the block maps travel as display codes (as the stages' do). */
const EXACT_UP_TO = 256;

/** What the engine keeps of a model run for the panel: enough to recompute any block. */
export interface ModelRun {
  model: GptModel;
  /** The text's token ids (T). */
  ids: readonly number[];
  forward: GptForward; // with keepResiduals
  tokenizer: Tokenizer;
  /** 'seeded' or the checkpoint's file name. */
  source: string;
}

/** What the panel keeps of the pipeline's model analysis. */
export function modelRun(analysis: ModelAnalysis): ModelRun {
  return { model: analysis.model, ids: analysis.tokens.map((t) => t.id), forward: analysis.forward, tokenizer: analysis.tokenizer, source: analysis.weightsSource };
}

/** L2 norm of each row. (T, C) -> (T) */
function rowNorms(m: Matrix): Float32Array {
  const out = new Float32Array(m.rows);
  for (let r = 0; r < m.rows; r++) {
    let sum = 0;
    for (let c = 0, i = r * m.cols; c < m.cols; c++, i++) sum += m.data[i]! * m.data[i]!;
    out[r] = Math.sqrt(sum);
  }
  return out;
}

/** Every `stride`-th value, at most `count` of them (deterministic, spread over the whole array). */
function sample(values: Float32Array, count: number): Float32Array {
  if (values.length <= count) return values.slice();
  const out = new Float32Array(count);
  const stride = values.length / count;
  for (let i = 0; i < count; i++) out[i] = values[Math.floor(i * stride)]!;
  return out;
}

/** A (T, T) causal weight map for the panel: exact for short texts, else display codes on the weights' scale. */
function weightMap(weights: Matrix): PanelMap {
  if (weights.rows <= EXACT_UP_TO) return weights;
  return encodeMap(weights, weightScale(weights.rows), { lower: true });
}

function activationMap(m: Matrix, tokens: number): PanelMap {
  return tokens <= EXACT_UP_TO ? m : encodeMap(m, { kind: 'diverging' });
}

/** The decoded text of one token id (a BPE piece may be part of a character: shown as is). */
function tokenText(tokenizer: Tokenizer, id: number): string {
  return tokenizer.decode([id]);
}

/** The probability of every vocabulary entry after `position` (0-based): softmax(logits / temperature), top-k cut. (vocab) */
export function nextTokenProbabilities(run: ModelRun, position: number, temperature = 1, topK: number | null = null): Float32Array {
  const { finalNorm } = run.forward;
  if (!Number.isInteger(position) || position < 0 || position >= finalNorm.rows) {
    throw new RangeError(`position ${position} outside 0..${finalNorm.rows - 1}`);
  }
  // one row through the output head: (1, dim) -> (1, vocab)
  const row: Matrix = { rows: 1, cols: finalNorm.cols, data: finalNorm.data.subarray(position * finalNorm.cols, (position + 1) * finalNorm.cols) };
  const logits = linear(row, { weight: run.model.weights.outHead }).data;
  return nextTokenDistribution(logits, { temperature, ...(topK !== null && { topK }) });
}

/** The next-token distribution after `position` (0-based): softmax(logits / temperature), top-k cut. */
export function nextTokenView(run: ModelRun, position: number, temperature = 1, topK: number | null = null, shown = 10): NextTokenView {
  const probabilities = nextTokenProbabilities(run, position, temperature, topK);
  const tokens = topTokens(probabilities, Math.min(shown, topK ?? shown)).map(({ id, probability }) => ({
    id, text: tokenText(run.tokenizer, id), probability,
  }));
  return { position, temperature, topK, tokens };
}

/** What the model sections draw at once. */
export function panelModel(run: ModelRun): PanelModel {
  const { model, forward } = run;
  const T = forward.embeddings.rows;
  const residualNorms = forward.blocks.map((block, layer) => ({
    input: rowNorms(layer === 0 ? forward.embeddings : forward.blocks[layer - 1]!.output),
    afterAttention: rowNorms(block.afterAttention),
    output: rowNorms(block.output),
  }));
  const ff = traceGptFeedForward(model, forward, 0);
  const pre = ff.preActivation.data;
  let negative = 0;
  let nearZero = 0;
  for (const v of ff.hidden.data) {
    if (v < 0) negative++;
    if (Math.abs(v) < 1e-3) nearZero++;
  }
  const { vocabSize, dim, heads, layers, contextLength, qkvBias } = model.config;
  return {
    config: { vocabSize, dim, heads, layers, contextLength, qkvBias },
    source: run.source,
    parameters: gptParameterCount(model),
    residualNorms,
    feedForward: {
      layer: 0,
      preActivations: sample(pre, GELU_SAMPLE),
      hidden: activationMap(ff.hidden, T),
      hiddenShare: { negative: negative / ff.hidden.data.length, nearZero: nearZero / ff.hidden.data.length },
    },
    nextToken: nextTokenView(run, T - 1),
  };
}

/**
 * Mean-pools a causal (T, T) map to at most `side` a side: a cell is the mean of the weights it
 * covers on or below the diagonal. Max-pooling showed every head alike (each block holds some
 * large weight); the mean keeps where a head looks (its previous token, the first token, spread).
 */
export function thumbnail(weights: Matrix, side: number): Matrix {
  const T = weights.rows;
  const n = Math.min(T, side);
  const out = new Float32Array(n * n);
  for (let r = 0; r < n; r++) {
    const r0 = Math.floor((r * T) / n);
    const r1 = Math.max(r0 + 1, Math.floor(((r + 1) * T) / n));
    for (let c = 0; c <= r; c++) {
      const c0 = Math.floor((c * T) / n);
      const c1 = Math.max(c0 + 1, Math.floor(((c + 1) * T) / n));
      let sum = 0;
      let count = 0;
      for (let i = r0; i < r1; i++) {
        for (let j = c0; j < Math.min(c1, i + 1); j++) {
          sum += weights.data[i * T + j]!;
          count++;
        }
      }
      out[r * n + c] = count ? sum / count : 0;
    }
  }
  return { rows: n, cols: n, data: out };
}

/** A pooled thumbnail's own log scale: its largest cell down to 1/10,000 of it (or its smallest, if larger). */
const THUMB_DECADES = 1e-4;
export function thumbScale(small: Matrix): [number, number] {
  let top = 0;
  let least = Infinity;
  for (let r = 0; r < small.rows; r++) {
    for (let c = 0; c <= r; c++) {
      const v = small.data[r * small.cols + c]!;
      if (v > top) top = v;
      if (v > 0 && v < least) least = v;
    }
  }
  if (!(top > 0)) return [THUMB_DECADES, 1];
  return [Math.max(least === Infinity ? top : least, top * THUMB_DECADES), top];
}

/**
 * The 'blocks' group: every layer × head map as a thumbnail, as display codes. Unpooled maps keep
 * the weights' shared scale; pooled ones each get their own log scale, so heads that differ look
 * different (the panel says so and gives each one's range).
 */
export function blockThumbs(run: ModelRun, shouldStop?: () => boolean): PanelBlockThumbs {
  const thumbs: MapCodes[][] = [];
  for (let layer = 0; layer < run.model.config.layers; layer++) {
    if (shouldStop?.()) break;
    const { attention } = traceGptBlock(run.model, run.forward, layer);
    thumbs.push(attention.heads.map((head) => {
      const T = head.weights.rows;
      if (T <= THUMB_SIDE) return encodeMap(head.weights, weightScale(T), { lower: true });
      const small = thumbnail(head.weights, THUMB_SIDE);
      return encodeMap(small, { kind: 'log', range: thumbScale(small) }, { lower: true });
    }));
  }
  return { thumbs };
}

/** A `block:L` group: block L's attention weights per head and its feed-forward activations. */
export function panelBlock(run: ModelRun, layer: number): PanelBlock | undefined {
  if (!Number.isInteger(layer) || layer < 0 || layer >= run.model.config.layers) return undefined;
  const trace = traceGptBlock(run.model, run.forward, layer);
  const T = trace.input.rows;
  return {
    layer,
    heads: trace.attention.heads.map((head) => weightMap(head.weights)),
    hidden: activationMap(trace.ff.hidden, T),
    preActivations: sample(trace.ff.preActivation.data, GELU_SAMPLE),
  };
}
