// Runs the stages in the order the book teaches them and keeps every intermediate, so the panel and
// the CLI can show each number.

import { CancelledError, EngineError, checkTokens, checkTraceSize, validateConfig, type CancelSignal } from './config';
import { causalAttention } from './layers/causalAttention';
import { embeddings } from './layers/embedding';
import { layerNorm } from './layers/layerNorm';
import { multiHeadAttention } from './layers/multiHead';
import { selfAttention } from './layers/selfAttention';
import { simpleAttention } from './layers/simpleAttention';
import { addShortcut, normed } from './layers/transformerBlock';
import { TorchGenerator } from './rng';
import type { EngineConfig, Linear, Matrix, Token, Trace, Weights } from './types';

export interface TraceOptions {
  /** Checked between stages (and between heads); when aborted, runTrace throws CancelledError. */
  signal?: CancelSignal;
  /** Called after each stage with its name and the share of the work done so far (0..1]. */
  onProgress?: (stage: string, fraction: number) => void;
  /**
   * Run the stages as block 0 of a GPT checkpoint does (the weights are the checkpoint's, see
   * pipeline.ts stagesFromGpt): self-attention, causal and multi-head attention read LN₁(x), the
   * embeddings normalised with `norm1` (block 0's) and the model's ε; the layer-norm stage
   * normalises the residual stream x + MHA(LN₁(x)), what block 0's norm2 reads, with that ε.
   * At dropout 0 the multi-head and layer-norm stages are then block 0's own numbers.
   */
  gptBlock?: { norm1: Weights['norm']; eps: number };
}

/** Stage names in order, as reported to onProgress. */
export const STAGES = ['tokens', 'embeddings', 'simple', 'selfAttention', 'causal', 'multiHead', 'layerNorm'] as const;

export function runTrace(tokens: Token[], config: EngineConfig, weights: Weights, options: TraceOptions = {}): Trace {
  const { signal, onProgress } = options;
  const checkpoint = (): void => {
    if (signal?.aborted) throw new CancelledError();
  };
  const done = (stage: (typeof STAGES)[number]): void => {
    onProgress?.(stage, (STAGES.indexOf(stage) + 1) / STAGES.length);
    checkpoint();
  };

  checkpoint();
  validateConfig(config);
  checkWeights(config, weights);
  checkTokens(tokens, config.contextLength, config.vocabSize);
  checkTraceSize(tokens.length, config.heads);
  const ids = tokens.map((token) => token.id);
  const headDim = config.attnDim / config.heads;
  // One fresh generator for all masks: causal first, then head 0, 1, ... (as torch would draw
  // them after torch.manual_seed(seed)), so a trace depends only on its inputs.
  const dropout = { p: config.dropout, generator: new TorchGenerator(config.seed) };
  done('tokens');

  const embedded = embeddings(ids, weights.tokEmb, weights.posEmb);
  done('embeddings');
  const simple = simpleAttention(embedded.input);
  done('simple');
  const block = options.gptBlock;
  const attentionInput = block ? normed(embedded.input, block.norm1, block.eps) : embedded.input; // (T, dim)
  const self = selfAttention(attentionInput, weights.selfAttn);
  done('selfAttention');
  // Causal attention reuses the self-attention projections: only the mask and dropout are new.
  const causalHead = causalAttention(self.queries, self.keys, self.values, dropout);
  const causal = {
    maskedScores: causalHead.scores,
    weights: causalHead.weights,
    droppedWeights: causalHead.droppedWeights,
    context: causalHead.context,
  };
  done('causal');
  const multiHead = multiHeadAttention(attentionInput, weights.mha, config.heads, dropout, checkpoint);
  done('multiHead');
  // block 0: the shortcut x + MHA(LN₁(x)) (T, dim) is what its norm2 normalises
  const normInput = block ? addShortcut({ ...multiHead.output, data: multiHead.output.data.slice() }, embedded.input) : multiHead.output;
  const normedStream = layerNorm(normInput, weights.norm, block?.eps);
  done('layerNorm');

  return {
    config: { ...config, headDim },
    tokens: tokens.map((token) => ({ ...token })),
    embeddings: embedded,
    simple,
    selfAttention: self,
    causal,
    multiHead,
    layerNorm: normedStream,
    ...(block && { attentionInput }),
  };
}

/**
 * Asserts that every tensor has the shape the configuration asks for, naming the offending tensor
 * by its safetensors name with expected and actual shapes. Biases must be present exactly when
 * config.qkvBias is set (out_proj always has one).
 */
export function checkWeights(config: EngineConfig, weights: Weights): void {
  const { vocabSize, dim, attnDim, contextLength, qkvBias } = config;
  const matrix = (name: string, m: Matrix | undefined, rows: number, cols: number): void => {
    if (!m) throw new EngineError(`weights: ${name} is missing; expected shape [${rows}, ${cols}]`);
    if (m.rows !== rows || m.cols !== cols || m.data.length !== rows * cols) {
      throw new EngineError(
        `weights: ${name} has shape [${m.rows}, ${m.cols}] (${m.data.length} values) but [${rows}, ${cols}] is expected` +
          ` for vocabSize ${vocabSize}, dim ${dim}, attnDim ${attnDim}, contextLength ${contextLength}`,
      );
    }
  };
  const vector = (name: string, v: Float32Array | undefined, length: number): void => {
    if (!v) throw new EngineError(`weights: ${name} is missing; expected shape [${length}]`);
    if (v.length !== length) {
      throw new EngineError(`weights: ${name} has shape [${v.length}] but [${length}] is expected (attnDim ${attnDim})`);
    }
  };
  const projection = (name: string, layer: Linear | undefined, inFeatures: number, withBias: boolean): void => {
    matrix(`${name}.weight`, layer?.weight, attnDim, inFeatures);
    if (withBias) {
      vector(`${name}.bias`, layer?.bias, attnDim);
    } else if (layer?.bias) {
      throw new EngineError(`weights: ${name}.bias is present but qkvBias is off; turn on qkvBias (--qkv-bias)`);
    }
  };

  matrix('tok_emb.weight', weights.tokEmb, vocabSize, dim);
  matrix('pos_emb.weight', weights.posEmb, contextLength, dim);
  projection('self_attn.W_query', weights.selfAttn?.query, dim, qkvBias);
  projection('self_attn.W_key', weights.selfAttn?.key, dim, qkvBias);
  projection('self_attn.W_value', weights.selfAttn?.value, dim, qkvBias);
  projection('mha.W_query', weights.mha?.query, dim, qkvBias);
  projection('mha.W_key', weights.mha?.key, dim, qkvBias);
  projection('mha.W_value', weights.mha?.value, dim, qkvBias);
  projection('mha.out_proj', weights.mha?.outProj, attnDim, true);
  vector('norm.scale', weights.norm?.scale, attnDim);
  vector('norm.shift', weights.norm?.shift, attnDim);
}
