// From a trace to what the panel draws: which parts travel at once and which on request (long
// texts), their maps as display codes, what the tooltips read, and windows of exact cells. Used by
// the engine worker (which keeps the traces) and by the standalone report builder.
import { findMatrix } from '../engine/csv';
import { journeyExample } from '../engine/examples';
import { embeddings } from '../engine/layers/embedding';
import { simpleAttention } from '../engine/layers/simpleAttention';
import type { TraceResult, TraceStart } from '../engine/pipeline';
import type { Matrix, Trace } from '../engine/types';
import type { GroupData, JourneyAttention, LazyGroup, PanelHead, PanelStart, PanelTrace } from '../shared/protocol';
import { clipWindow, encodeMap, weightScale, type MapCodes } from '../shared/codes';
import { modelNameOf } from '../engine/io/modelName';

/** Above this many tokens the T×T stages and heads are sent to the panel only when shown. */
export const LAZY_ABOVE = 256;

export function panelHead(head: Trace['multiHead']['heads'][number]): PanelHead {
  const { scores, weights, droppedWeights, context } = head;
  return { scores, weights, droppedWeights, context };
}

/** The panel draws the self-attention maps, not Q, K and V (3 × T × attnDim it would not show). */
function panelSelfAttention(trace: Trace): NonNullable<PanelTrace['selfAttention']> {
  const { scores, weights, context } = trace.selfAttention;
  return { scores, weights, context };
}

const diverging = (m: Matrix): MapCodes => encodeMap(m, { kind: 'diverging' });

/** A causal weight map as codes: lower triangle, the weights' colour scale, dropped cells marked. */
function causalCodes(trace: Trace, weights: Matrix, before?: Matrix): MapCodes {
  return encodeMap(weights, weightScale(trace.tokens.length, trace.config.dropout), { lower: true, before });
}

/** A non-causal stage as codes: scores diverging, weights on the weights' scale (no dropout there). */
function stageCodes(trace: Trace, stage: { scores: Matrix; weights: Matrix; context: Matrix }) {
  return { scores: diverging(stage.scores), weights: encodeMap(stage.weights, weightScale(trace.tokens.length)), context: diverging(stage.context) };
}

/**
 * One lazily sent part of a trace (long texts), or undefined when the trace has no such part. Its
 * maps travel as display codes, a quarter of float32's bytes (causal ones as lower triangles, an
 * eighth); what only the tooltip reads (scores of causal maps, a head's weights before dropout)
 * stays on the host and is fetched per cell with 'requestCells'.
 */
export function panelGroup(trace: Trace, group: LazyGroup): GroupData | undefined {
  if (group === 'embeddings') return { group, data: { token: diverging(trace.embeddings.token), position: diverging(trace.embeddings.position) } };
  if (group === 'simple') return { group, data: stageCodes(trace, trace.simple) };
  if (group === 'selfAttention') return { group, data: stageCodes(trace, trace.selfAttention) };
  if (group === 'causal') {
    const { weights, droppedWeights, context } = trace.causal;
    return { group, data: { weights: causalCodes(trace, weights), droppedWeights: causalCodes(trace, droppedWeights, weights), context: diverging(context) } };
  }
  if (group === 'multiHeadOut') return { group, data: { concat: diverging(trace.multiHead.concat), output: diverging(trace.multiHead.output) } };
  if (!group.startsWith('head:')) return undefined; // the model's groups are modelView's
  const index = Number(group.slice('head:'.length));
  const head = trace.multiHead.heads[index];
  if (!head) return undefined;
  return { group: `head:${index}`, data: { droppedWeights: causalCodes(trace, head.droppedWeights, head.weights) } };
}

/**
 * What the tooltips of a lazily sent group read beyond the group itself (the scores of causal
 * maps, a head's weights before dropout), by matrix path, as display codes. The extension's host
 * answers those with exact values from the trace it keeps; the standalone report, which has no
 * host, embeds these and answers from them at the colour scale's precision.
 */
export function tooltipCodes(trace: Trace, group: LazyGroup): Record<string, MapCodes> {
  const scoreCodes = (scores: Matrix) => encodeMap(scores, { kind: 'diverging' }, { lower: true });
  if (group === 'causal') return { 'causal.maskedScores': scoreCodes(trace.causal.maskedScores) };
  if (!group.startsWith('head:')) return {}; // embeddings, simple and selfAttention send every map their tooltips read
  const index = Number(group.slice('head:'.length));
  const head = trace.multiHead.heads[index];
  if (!head) return {};
  return { [`multiHead.heads.${index}.scores`]: scoreCodes(head.scores), [`multiHead.heads.${index}.weights`]: causalCodes(trace, head.weights) };
}

/**
 * What the panel needs of a trace (no Q/K/V of the heads; plus the embedding PCA). Above
 * LAZY_ABOVE tokens the T×T stages are left out (sent by panelGroup when shown) and, with
 * `mapsAsCodes`, the (T, d) maps travel as display codes too (dim 768 makes each 6 MB), the
 * multi-head concat and output only when shown; the standalone report, which has no host to ask
 * for exact values, keeps them exact.
 */
let journey: JourneyAttention | undefined;

/** The book's six 3-d tokens through simple attention (section 3.3), shown beside the user's text. */
export function journeyAttention(): JourneyAttention {
  if (journey) return journey;
  const example = journeyExample();
  const { tokEmb, posEmb } = example.source.weights;
  const { input } = embeddings(example.tokens.map((t) => t.id), tokEmb, posEmb);
  const { scores, weights, context } = simpleAttention(input);
  journey = { tokens: example.tokens.map((t) => t.text), inputs: input, scores, weights, context };
  return journey;
}

/** The model's name (modelNameOf: a hub repo id, a bundled model, else the file name), or 'seeded'. */
export function weightsSource(weightsPath: string | undefined): string {
  return weightsPath ? modelNameOf(weightsPath) : 'seeded';
}

/** The first thing the panel paints of an analysis: its tokens and config (sent before the stages are computed). */
export function panelStart(start: TraceStart): PanelStart {
  return {
    config: start.config,
    tokens: start.tokens,
    unknownCount: start.unknownCount,
    ...(start.window && { window: start.window }),
    weightsSource: weightsSource(start.weightsPath),
    ...(start.trained && { trained: start.trained }),
  };
}

export function toPanelTrace(result: TraceResult, options: { mapsAsCodes?: boolean } = {}): PanelTrace {
  const lazy = result.trace.tokens.length > LAZY_ABOVE;
  const map = lazy && options.mapsAsCodes ? diverging : (m: Matrix) => m;
  const { trace } = result;
  const { token, position, input } = trace.embeddings;
  return {
    ...panelStart({ ...result, config: trace.config, tokens: trace.tokens }),
    journey: journeyAttention(),
    // (T, dim) maps of a long text are megabytes of codes: the ones behind a toggle come when picked
    embeddings: { token: lazy ? null : token, position: lazy ? null : position, input: map(input), pca: result.pca },
    simple: lazy ? null : trace.simple,
    selfAttention: lazy ? null : panelSelfAttention(trace),
    causal: lazy ? null : trace.causal,
    multiHead: {
      heads: trace.multiHead.heads.map((head) => (lazy ? null : panelHead(head))),
      // below the heads, so a long text's come when that part is shown: the stages' message at
      // 2,048 tokens and dim 768 is 3.2 of its 6.4 MB lighter
      concat: lazy && options.mapsAsCodes ? null : map(trace.multiHead.concat),
      output: lazy && options.mapsAsCodes ? null : map(trace.multiHead.output),
    },
    layerNorm: {
      mean: trace.layerNorm.mean,
      variance: trace.layerNorm.variance,
      output: map(trace.layerNorm.output),
      outputMean: trace.layerNorm.outputMean,
      outputVariance: trace.layerNorm.outputVariance,
    },
  };
}

/**
 * The exact values of a window of the matrices at `paths` (one Float32Array each, row by row),
 * clipped to the matrices; undefined when a path names no matrix of the trace or the window lies
 * outside. Answers the panel's 'requestCells'.
 */
export function cellWindow(trace: Trace, paths: readonly string[], r0: number, c0: number, rows: number, cols: number) {
  const matrices = paths.map((p) => findMatrix(trace, p));
  const clipped = clipWindow(matrices, r0, c0, rows, cols);
  if (!clipped) return undefined;
  const { rows: h, cols: w } = clipped;
  const values = (matrices as Matrix[]).map((m) => {
    const out = new Float32Array(h * w);
    for (let r = 0; r < h; r++) out.set(m.data.subarray((r0 + r) * m.cols + c0, (r0 + r) * m.cols + c0 + w), r * w);
    return out;
  });
  return { r0, c0, rows: h, cols: w, values };
}
