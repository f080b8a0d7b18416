// Two models on the same text, map by map: what the compare view draws. For every map both models
// have, A's, B's and, where their shapes agree (and the tokens are the same), the difference
// A − B on a scale centred on 0 with its largest |A − B|; where the shapes do not agree, both
// shapes and why (another window, another width, a head or block only one model has). And the
// next-token probabilities after the last token, side by side (and for the same vocabulary, each
// model's probability of the other's top tokens).
import { encodeMap, weightScale, type MapCodes } from '../shared/codes';
import { nextTokenProbabilities, nextTokenView, type ModelRun } from './modelView';
import { topTokens } from '../engine/gpt/sampling';
import { traceGptBlock } from '../engine/layers/gptModel';
import type { TraceResult } from '../engine/pipeline';
import type { Matrix } from '../engine/types';
import type { CompareMap, CompareSide, CompareView, NextTokenComparison } from '../shared/compareProtocol';

/** Maps larger than this many cells a side travel mean-pooled to this side (the view draws a few hundred pixels). */
export const COMPARE_SIDE = 128;

/** One model's analysis of the text: the seven stages' trace and the model's forward pass. */
export interface CompareInput {
  result: TraceResult;
  run: ModelRun;
}

/**
 * Mean-pools `m` to at most `side` cells a side: each cell the mean of the block of cells it
 * covers (⌊rows/side⌋ or ⌈rows/side⌉ rows, the same for columns), so every head keeps its own
 * pattern instead of its brightest cells. With `lower` (a causal map), only cells on or below the
 * diagonal count; a pooled cell on or below the pooled diagonal always covers some.
 * (rows, cols) -> (min(rows, side), min(cols, side))
 */
export function meanPool(m: Matrix, side: number, lower = false): Matrix {
  const rows = Math.min(m.rows, side);
  const cols = Math.min(m.cols, side);
  if (rows === m.rows && cols === m.cols) return m;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const r0 = Math.floor((r * m.rows) / rows);
    const r1 = Math.floor(((r + 1) * m.rows) / rows);
    for (let c = 0; c < cols; c++) {
      const c0 = Math.floor((c * m.cols) / cols);
      const c1 = Math.floor(((c + 1) * m.cols) / cols);
      let sum = 0;
      let n = 0;
      for (let i = r0; i < r1; i++) {
        for (let j = c0, end = lower ? Math.min(c1, i + 1) : c1; j < end; j++) {
          sum += m.data[i * m.cols + j]!;
          n++;
        }
      }
      out[r * cols + c] = n > 0 ? sum / n : 0;
    }
  }
  return { rows, cols, data: out };
}

/** A − B, element by element, and the largest |A − B|. Same shapes only. */
export function difference(a: Matrix, b: Matrix): { diff: Matrix; maxAbs: number } {
  if (a.rows !== b.rows || a.cols !== b.cols) throw new Error(`difference of (${a.rows}, ${a.cols}) and (${b.rows}, ${b.cols})`);
  const data = new Float32Array(a.data.length);
  let maxAbs = 0;
  for (let i = 0; i < data.length; i++) {
    const d = a.data[i]! - b.data[i]!;
    data[i] = d;
    if (Math.abs(d) > maxAbs) maxAbs = Math.abs(d);
  }
  return { diff: { rows: a.rows, cols: a.cols, data }, maxAbs };
}

/** How one kind of map is drawn: attention weights (causal or not) or activations. */
interface MapKind {
  measures: string;
  rowAxis: string;
  colAxis: string;
  /** Attention weights: lower = causal (0 above the diagonal). Absent: activations on a diverging scale. */
  weights?: { lower: boolean };
}

const ATTENTION = (lower: boolean): MapKind => ({
  measures: 'attention weight (share of the query\'s attention)', rowAxis: 'queries', colAxis: 'keys', weights: { lower },
});
const ACTIVATIONS = (what: string): MapKind => ({ measures: what, rowAxis: 'tokens', colAxis: 'dimensions' });

function encodeSide(m: Matrix, kind: MapKind): MapCodes {
  const pooled = meanPool(m, COMPARE_SIDE, kind.weights?.lower);
  if (!kind.weights) return encodeMap(pooled, { kind: 'diverging' });
  // pooled or not, the scale is the rule for the window's T tokens
  return encodeMap(pooled, weightScale(m.rows), { lower: kind.weights.lower });
}

/** Token labels of a side, for "same tokens?" and the maps' axes. */
const tokenTexts = (input: CompareInput) => input.result.trace.tokens.map((t) => t.text);

function shapeText(m: Matrix | undefined): string {
  return m ? `(${m.rows}, ${m.cols})` : 'none';
}

/**
 * One entry of the view: both sides' maps, and their difference when the shapes (and tokens)
 * agree; otherwise a sentence with both shapes and why they differ.
 */
function pair(id: string, group: string, title: string, kind: MapKind, a: Matrix | undefined, b: Matrix | undefined, sameTokens: boolean, why: string): CompareMap {
  const entry: CompareMap = {
    id, group, title, measures: kind.measures, rowAxis: kind.rowAxis, colAxis: kind.colAxis,
    shapes: { ...(a && { a: [a.rows, a.cols] as [number, number] }), ...(b && { b: [b.rows, b.cols] as [number, number] }) },
    ...(a && { a: encodeSide(a, kind) }), ...(b && { b: encodeSide(b, kind) }),
  };
  const pooledFrom = Math.max(a?.rows ?? 0, a?.cols ?? 0, b?.rows ?? 0, b?.cols ?? 0);
  if (pooledFrom > COMPARE_SIDE) entry.pooled = `mean-pooled to at most ${COMPARE_SIDE} × ${COMPARE_SIDE} cells for drawing; the difference's largest |A − B| is of the exact maps`;
  if (a && b && a.rows === b.rows && a.cols === b.cols && sameTokens) {
    const { diff, maxAbs } = difference(a, b);
    const lower = kind.weights?.lower ?? false;
    const pooled = meanPool(diff, COMPARE_SIDE, lower);
    entry.diff = encodeMap(pooled, { kind: 'diverging', range: [-maxAbs, maxAbs] }, { lower });
    entry.maxAbsDiff = maxAbs;
  } else {
    entry.note = !a || !b
      ? `Only model ${a ? 'A' : 'B'} has ${title.toLowerCase()}: ${why}.`
      : `No difference map: A is ${shapeText(a)}, B is ${shapeText(b)}${a.rows === b.rows && a.cols === b.cols ? ', but their tokens differ' : ''}. ${why}.`;
  }
  return entry;
}

function side(input: CompareInput, label: string): CompareSide {
  const { result, run } = input;
  const { config } = run.model;
  return {
    label,
    source: run.source,
    tokenizer: run.tokenizer.kind,
    config: { vocabSize: config.vocabSize, dim: config.dim, heads: config.heads, layers: config.layers, contextLength: config.contextLength, qkvBias: config.qkvBias },
    tokens: tokenTexts(input),
    ...(result.window && { window: result.window }),
  };
}

/** The next-token probabilities after each side's last token, and on one vocabulary each model's share of the other's favourites. */
function nextTokens(a: CompareInput, b: CompareInput, shown: number): NextTokenComparison {
  const last = (input: CompareInput) => input.run.forward.finalNorm.rows - 1;
  const views = { a: nextTokenView(a.run, last(a), 1, null, shown), b: nextTokenView(b.run, last(b), 1, null, shown) };
  const sameVocabulary = a.run.tokenizer.kind === b.run.tokenizer.kind && a.run.model.config.vocabSize === b.run.model.config.vocabSize;
  if (!sameVocabulary) return views;
  const pa = nextTokenProbabilities(a.run, last(a));
  const pb = nextTokenProbabilities(b.run, last(b));
  const ids = [...new Set([...topTokens(pa, shown), ...topTokens(pb, shown)].map((t) => t.id))];
  const both = ids.map((id) => ({ id, text: a.run.tokenizer.decode([id]), a: pa[id]!, b: pb[id]! }))
    .sort((x, y) => Math.max(y.a, y.b) - Math.max(x.a, x.b));
  return { ...views, both };
}

/** Why the shapes of two maps of the same kind can differ, in words (the first reason that applies). */
function shapeReasons(a: CompareInput, b: CompareInput): { tokens: string; width: string } {
  const ta = a.result.trace.tokens.length;
  const tb = b.result.trace.tokens.length;
  const wa = a.result.window;
  const wb = b.result.window;
  const tokens = ta !== tb
    ? `A reads ${ta} tokens, B ${tb}` + (wa || wb ? ` (context windows: A ${a.run.model.config.contextLength} positions, B ${b.run.model.config.contextLength})` : ` (their tokenizers split the text differently: A ${a.run.tokenizer.kind}, B ${b.run.tokenizer.kind})`)
    : `A and B split the text into different tokens (A ${a.run.tokenizer.kind}, B ${b.run.tokenizer.kind})`;
  const width = a.run.model.config.dim !== b.run.model.config.dim ? `A is ${a.run.model.config.dim} wide (dim), B ${b.run.model.config.dim}` : tokens;
  return { tokens, width };
}

/**
 * The whole comparison: the seven stages' maps (embeddings, simple, self-attention, causal,
 * every head of multi-head, layer norm), every block's every head, and the next token.
 */
export function compareView(a: CompareInput, b: CompareInput, labels: { a: string; b: string }, shouldStop?: () => boolean): CompareView {
  const ta = a.result.trace;
  const tb = b.result.trace;
  const textsA = tokenTexts(a);
  const textsB = tokenTexts(b);
  const sameTokens = textsA.length === textsB.length && textsA.every((t, i) => t === textsB[i]);
  const why = shapeReasons(a, b);
  const maps: CompareMap[] = [
    pair('embeddings.input', 'Embeddings', 'Input embeddings x', ACTIVATIONS('value of a dimension of x = tok_emb + pos_emb'), ta.embeddings.input, tb.embeddings.input, sameTokens, why.width),
    pair('simple.weights', 'Simple attention', 'Weights softmax(x·xᵀ)', ATTENTION(false), ta.simple.weights, tb.simple.weights, sameTokens, why.tokens),
    pair('selfAttention.weights', 'Self-attention', 'Weights softmax(Q·Kᵀ/√d)', ATTENTION(false), ta.selfAttention.weights, tb.selfAttention.weights, sameTokens, why.tokens),
    pair('causal.weights', 'Causal attention', 'Weights, masked (before dropout)', ATTENTION(true), ta.causal.weights, tb.causal.weights, sameTokens, why.tokens),
  ];
  const heads = Math.max(ta.multiHead.heads.length, tb.multiHead.heads.length);
  const headsWhy = `A's multi-head stage has ${ta.multiHead.heads.length} heads, B's ${tb.multiHead.heads.length}`;
  for (let h = 0; h < heads; h++) {
    maps.push(pair(`multiHead.heads.${h}`, 'Multi-head attention', `Head ${h + 1}`, ATTENTION(true), ta.multiHead.heads[h]?.weights, tb.multiHead.heads[h]?.weights, sameTokens,
      h < Math.min(ta.multiHead.heads.length, tb.multiHead.heads.length) ? why.tokens : headsWhy));
  }
  maps.push(pair('layerNorm.output', 'Layer normalisation', 'Normalised output', ACTIVATIONS('value after layer norm (mean 0, variance 1 per token, then scale and shift)'), ta.layerNorm.output, tb.layerNorm.output, sameTokens, why.width));
  const ca = a.run.model.config;
  const cb = b.run.model.config;
  for (let layer = 0; layer < Math.max(ca.layers, cb.layers); layer++) {
    if (shouldStop?.()) break;
    const blockA = layer < ca.layers ? traceGptBlock(a.run.model, a.run.forward, layer).attention.heads : [];
    const blockB = layer < cb.layers ? traceGptBlock(b.run.model, b.run.forward, layer).attention.heads : [];
    const missing = layer >= ca.layers || layer >= cb.layers ? `A has ${ca.layers} blocks, B ${cb.layers}` : `A's blocks have ${ca.heads} heads, B's ${cb.heads}`;
    for (let h = 0; h < Math.max(blockA.length, blockB.length); h++) {
      const both = h < blockA.length && h < blockB.length;
      maps.push(pair(`block.${layer}.${h}`, `Transformer block ${layer + 1}`, `Head ${h + 1}`, ATTENTION(true), blockA[h]?.weights, blockB[h]?.weights, sameTokens, both ? why.tokens : missing));
    }
  }
  return { a: side(a, labels.a), b: side(b, labels.b), sameTokens, maps, nextToken: nextTokens(a, b, 10) };
}
