// Runs the stages in the order the book teaches them and keeps every intermediate, so the panel and
// the CLI can show each number.

import { CancelledError, EngineError, checkTokens, checkTraceSize, divisors, validateDropout, type CancelSignal } from './config';
import type { BlockWeights, GptConfig, GptModel, NormWeights } from './gpt/types';
import { causalAttentionOnRead } from './layers/causalAttention';
import { embeddings } from './layers/embedding';
import { layerNorm } from './layers/layerNorm';
import { multiHeadAttention } from './layers/multiHead';
import { selfAttention } from './layers/selfAttention';
import { simpleAttention } from './layers/simpleAttention';
import { addShortcut, normed } from './layers/transformerBlock';
import { withPartsOnRead } from './onRead';
import { TorchGenerator } from './rng';
import type { Linear, Matrix, StagesKind, Token, TokenizerKind, Trace, TraceConfig } from './types';

/**
 * The book's chapter 3 modules with weights of their own, as its worked example builds them
 * (examples.ts): stages 4 and 5 are SelfAttention_v2(d_in, d_out), stage 6 MultiHeadAttention(d_in,
 * d_out), stage 7 a LayerNorm(d_out) of stage 6's output, all on the embeddings themselves.
 * dim = d_in, attnDim = d_out may differ (3 and 2 in the book).
 */
export interface BookChapter3Weights {
  tokEmb: Matrix; // (vocabSize, dim)
  posEmb: Matrix; // (contextLength, dim)
  selfAttn: Pick<BlockWeights['att'], 'query' | 'key' | 'value'>; // W_query, W_key, W_value (attnDim, dim) [+ bias]
  mha: BlockWeights['att']; // W_query, W_key, W_value (attnDim, dim) [+ bias], out_proj (attnDim, attnDim) + bias
  norm: NormWeights; // (attnDim)
}

/**
 * What the seven stages run on: block 1 of the model (the panel's, seeded or loaded), or the book's
 * chapter 3 example. The arrays are the model's (or the example's), never copies.
 */
export type StageSource =
  | { kind: 'block 1'; model: GptModel }
  | { kind: 'book chapter 3'; weights: BookChapter3Weights; heads: number };

/** What a run of the stages chooses beyond the weights: the masks' dropout and seed, and the tokenizer it names. */
export interface StageRun {
  tokenizer: TokenizerKind;
  dropout: number;
  seed: number;
}

export interface TraceOptions {
  /** Checked between stages (and between heads); when aborted, runTrace throws CancelledError. */
  signal?: CancelSignal;
  /** Called after each stage with its name and the share of the work done so far (0..1]. */
  onProgress?: (stage: string, fraction: number) => void;
}

/**
 * The stages' weights and sizes, whichever the source:
 *   block 1 of the model: embeddings tok_emb and pos_emb; self-attention and causal attention block
 *     1's W_query, W_key, W_value as one head over all dim columns (the book's chapter 3 forms, scaled
 *     by √dim: no head of the model computes them); multi-head attention block 1's att with the
 *     model's heads; all three read LN₁(x) (block 1's norm1, the model's ε), as block 1 does; the
 *     layer-norm stage is block 1's norm2 of x + MHA(LN₁(x)). At dropout 0 the multi-head and
 *     layer-norm stages are then block 1's own numbers.
 *   the book's chapter 3 example: its modules on the embeddings; the layer norm of MHA's output.
 */
interface StageView {
  kind: StagesKind;
  tokEmb: Matrix;
  posEmb: Matrix;
  selfAttn: Pick<BlockWeights['att'], 'query' | 'key' | 'value'>;
  mha: BlockWeights['att'];
  heads: number;
  /** block 1 only: attention reads LN₁(x) (norm1, the model's ε); the layer norm reads x + MHA(LN₁(x)). */
  block1?: { norm1: NormWeights; eps: number };
  norm: NormWeights;
}

function stageView(source: StageSource): StageView {
  if (source.kind === 'book chapter 3') {
    checkBookChapter3Weights(source.weights, source.heads);
    return { kind: source.kind, ...source.weights, heads: source.heads };
  }
  const { config, weights } = source.model;
  const block = weights.blocks[0];
  if (!block) throw new EngineError(`the model has no transformer blocks (layers ${config.layers}); the stages are block 1`);
  return {
    kind: source.kind, tokEmb: weights.tokEmb, posEmb: weights.posEmb, selfAttn: block.att, mha: block.att,
    heads: config.heads, block1: { norm1: block.norm1, eps: config.layerNormEps }, norm: block.norm2,
  };
}

/**
 * The config runTrace gives a trace of block 1 of a model with these sizes, from the sizes alone
 * (the panel shows it beside the tokens before the weights exist): GPTModel's attention is dim wide.
 */
export function blockTraceConfig(model: GptConfig, run: StageRun): TraceConfig {
  return traceConfig('block 1', { ...model, attnDim: model.dim }, run);
}

/** A trace's config from the sizes of what its stages run on and the run's choices. */
function traceConfig(
  stages: StagesKind,
  sizes: Pick<TraceConfig, 'vocabSize' | 'dim' | 'attnDim' | 'heads' | 'contextLength' | 'qkvBias'>,
  run: StageRun,
): TraceConfig {
  const { vocabSize, dim, attnDim, heads, contextLength, qkvBias } = sizes;
  return {
    stages, tokenizer: run.tokenizer, vocabSize, dim, attnDim, heads, headDim: attnDim / heads,
    dropout: run.dropout, seed: run.seed, contextLength, qkvBias,
  };
}

/** Stage names in order, as reported to onProgress. */
export const STAGES = ['tokens', 'embeddings', 'simple', 'selfAttention', 'causal', 'multiHead', 'layerNorm'] as const;

export function runTrace(tokens: Token[], source: StageSource, run: StageRun, options: TraceOptions = {}): Trace {
  const { signal, onProgress } = options;
  const checkpoint = (): void => {
    if (signal?.aborted) throw new CancelledError();
  };
  const done = (stage: (typeof STAGES)[number]): void => {
    onProgress?.(stage, (STAGES.indexOf(stage) + 1) / STAGES.length);
    checkpoint();
  };

  checkpoint();
  validateDropout(run.dropout);
  if (!Number.isSafeInteger(run.seed) || run.seed < 0) throw new EngineError(`seed must be a whole number >= 0, got ${String(run.seed)}`, { setting: 'seed' });
  const view = stageView(source);
  const config = traceConfig(view.kind, {
    vocabSize: view.tokEmb.rows, dim: view.tokEmb.cols, attnDim: view.mha.query.weight.rows, heads: view.heads,
    contextLength: view.posEmb.rows, qkvBias: view.mha.query.bias !== undefined,
  }, run);
  checkTokens(tokens, config.contextLength, config.vocabSize);
  checkTraceSize(tokens.length, config.heads);
  const ids = tokens.map((token) => token.id);
  // One fresh generator for all masks: causal first, then head 0, 1, ... (as torch would draw
  // them after torch.manual_seed(seed)), so a trace depends only on its inputs.
  const dropout = { p: config.dropout, generator: new TorchGenerator(config.seed) };
  done('tokens');

  const embedded = embeddings(ids, view.tokEmb, view.posEmb);
  done('embeddings');
  // the stages the panel shows only when scrolled to (a long text's) are computed when first read
  const simple = withPartsOnRead({}, ['scores', 'weights', 'context'], () => simpleAttention(embedded.input));
  done('simple');
  const { block1 } = view;
  const attentionInput = block1 ? normed(embedded.input, block1.norm1, block1.eps) : embedded.input; // (T, dim)
  const self = selfAttention(attentionInput, view.selfAttn);
  done('selfAttention');
  // Causal attention reuses the self-attention projections: only the mask and dropout are new.
  const causalHead = causalAttentionOnRead(self.queries, self.keys, self.values, dropout);
  const causal = withPartsOnRead({}, ['maskedScores', 'weights', 'droppedWeights', 'context'], () => ({
    maskedScores: causalHead.scores,
    weights: causalHead.weights,
    droppedWeights: causalHead.droppedWeights,
    context: causalHead.context,
  }));
  done('causal');
  const multiHead = multiHeadAttention(attentionInput, view.mha, config.heads, dropout, checkpoint);
  done('multiHead');
  // block 1: the shortcut x + MHA(LN₁(x)) (T, dim) is what its norm2 normalises
  const normInput = block1 ? addShortcut({ ...multiHead.output, data: multiHead.output.data.slice() }, embedded.input) : multiHead.output;
  const normedStream = layerNorm(normInput, view.norm, block1?.eps);
  done('layerNorm');

  return {
    config,
    tokens: tokens.map((token) => ({ ...token })),
    embeddings: embedded,
    simple,
    selfAttention: self,
    causal,
    multiHead,
    layerNorm: normedStream,
    ...(block1 && { attentionInput }),
  };
}

/**
 * Asserts that every tensor of the book's chapter 3 modules has a shape that fits the others,
 * naming the offending tensor by the module's name with expected and actual shapes: the sizes
 * are tok_emb's (vocabSize, dim), pos_emb's rows (contextLength) and W_query's rows (attnDim).
 * Biases of the projections are present in all or none (out_proj always has one).
 */
export function checkBookChapter3Weights(weights: BookChapter3Weights, heads: number): void {
  const dim = weights.tokEmb.cols;
  const attnDim = weights.mha.query.weight.rows;
  const qkvBias = weights.mha.query.bias !== undefined;
  const matrix = (name: string, m: Matrix | undefined, rows: number, cols: number): void => {
    if (!m) throw new EngineError(`weights: ${name} is missing; expected shape [${rows}, ${cols}]`);
    if (m.rows !== rows || m.cols !== cols || m.data.length !== rows * cols) {
      throw new EngineError(`weights: ${name} has shape [${m.rows}, ${m.cols}] (${m.data.length} values) but [${rows}, ${cols}] is expected for dim ${dim}, attnDim ${attnDim}`);
    }
  };
  const vector = (name: string, v: Float32Array | undefined, length: number): void => {
    if (!v) throw new EngineError(`weights: ${name} is missing; expected shape [${length}]`);
    if (v.length !== length) throw new EngineError(`weights: ${name} has shape [${v.length}] but [${length}] is expected (attnDim ${attnDim})`);
  };
  const projection = (name: string, layer: Linear | undefined, inFeatures: number, withBias: boolean): void => {
    matrix(`${name}.weight`, layer?.weight, attnDim, inFeatures);
    if (withBias) vector(`${name}.bias`, layer?.bias, attnDim);
    else if (layer?.bias) throw new EngineError(`weights: ${name}.bias is present but mha.W_query has none; give every projection a bias or none`);
  };
  matrix('pos_emb.weight', weights.posEmb, weights.posEmb.rows, dim);
  projection('self_attn.W_query', weights.selfAttn.query, dim, qkvBias);
  projection('self_attn.W_key', weights.selfAttn.key, dim, qkvBias);
  projection('self_attn.W_value', weights.selfAttn.value, dim, qkvBias);
  projection('mha.W_query', weights.mha.query, dim, qkvBias);
  projection('mha.W_key', weights.mha.key, dim, qkvBias);
  projection('mha.W_value', weights.mha.value, dim, qkvBias);
  projection('mha.out_proj', weights.mha.outProj, attnDim, true);
  vector('norm.scale', weights.norm.scale, attnDim);
  vector('norm.shift', weights.norm.shift, attnDim);
  if (!Number.isSafeInteger(heads) || heads < 1 || attnDim % heads !== 0) {
    throw new EngineError(`heads (${heads}) must divide attnDim (${attnDim}); valid head counts: ${divisors(attnDim).join(', ')}`, { setting: 'heads' });
  }
}
