// The GPT model's forward pass at inference (book section 4.6, GPTModel; model.eval(), so no dropout):
//   x₀ = tokEmb[ids] + posEmb[0 .. T−1]                         (T, dim)
//   x_{l+1} = TransformerBlock_l(x_l)       l = 0 .. layers−1    (T, dim)   the residual stream
//   z = LN_final(x_L)                                            (T, dim)
//   logits = z·W_outᵀ                        out_head, no bias   (T, vocabSize)
// Row t of the logits scores every vocabulary entry as the token after position t; softmax of a
// row is the next-token distribution (gpt/sampling.ts).
//
// Memory: the forward keeps the residual stream of every block only when asked (keepResiduals:
// T·dim floats per block), never the (T, T) attention maps; traceGptBlock recomputes one block's
// maps from its input, bit for bit what the forward computed. Logits of every row are
// T·vocabSize floats (200 MB at T = 1,024 for GPT-2), so generation asks for the last row only.
//
// Hooks (gpt/hooks.ts) let an experiment read or change the stream at named points of this same
// forward, and `from` resumes it at a block from a kept residual stream.
//
// Packed weights (packGptWeights): every product's weight packed once into the kernel's panel
// layout, so a forward neither copies nor packs 124M floats per call (the whole cost of a decode
// step beside reading them once). Same numbers bit for bit. A packing is a snapshot of the
// weights: after weights change in place (training), release it and pack again; generation packs
// at its start and releases at its end (gpt/generate.ts).

import { CancelledError, EngineError, type CancelSignal } from '../config';
import { hookedAttention, type GptHooks } from '../gpt/hooks';
import type { GptConfig, GptModel } from '../gpt/types';
import { packMatrix, releasePacked, type PackedMatrix } from '../kernels';
import { add, createMatrix, linear, takeRows } from '../tensor';
import type { Matrix } from '../types';
import { tokenEmbeddings } from './embedding';
import { feedForwardTraced, type FeedForwardTrace } from './feedForward';
import { layerNormInto } from './layerNorm';
import { normed, transformerBlock, transformerBlockTraced, type BlockAttention, type BlockOutput, type BlockTrace, type PackedBlock } from './transformerBlock';

export interface GptForwardOptions {
  /** Rows of logits to compute: every position (T, vocab, the default), the last one (1, vocab), or none. */
  logits?: 'all' | 'last' | 'none';
  /** Keep each block's residual stream (after attention and after the block); default false. */
  keepResiduals?: boolean;
  /** Checked before every block: once aborted, the forward throws CancelledError (an AbortSignal, or the engine's SharedCancel). */
  signal?: CancelSignal;
  /**
   * Position of the first id (default 0): ids sit at positions start .. start+T−1, the rows of
   * pos_emb they get. Only the key/value cache starts later (its earlier positions are cached).
   */
  startPosition?: number;
  /** Replaces each block's attention (the key/value cache's); `layer` counts from 0. */
  attention?: (layer: number) => BlockAttention;
  /** The model's weights packed (packGptWeights): the same numbers, faster. */
  packed?: PackedGpt;
  /** Hook points (gpt/hooks.ts): resid_pre, pattern, z, attn_out, mlp_out of every block run. */
  hooks?: GptHooks;
  /**
   * Run only blocks `layer` .. layers−1 from `residual`, the stream entering block `layer` (T, dim),
   * kept from an earlier forward: an intervention at block l leaves blocks before it unchanged.
   * `embeddings` is then that residual, and `blocks` starts at block `layer`.
   */
  from?: { layer: number; residual: Matrix };
}

/** Every product's weight of a model packed for the kernel: a snapshot of the weights (see the header). */
export interface PackedGpt {
  blocks: PackedBlock[];
  outHead: PackedMatrix; // (vocab, dim)
  /** Frees the kernel memory (about 4 bytes per parameter); the packing is not used afterwards. */
  release(): void;
}

/**
 * Packs every block's six weights and the output head: 124M floats (494 MB of kernel memory)
 * for GPT-2 small. Throws a RangeError, having packed nothing, when the kernel's memory is too
 * small for them.
 */
export function packGptWeights(model: GptModel): PackedGpt {
  const packings: PackedMatrix[] = [];
  const pack = ({ rows, cols, data }: Matrix): PackedMatrix => {
    const packed = packMatrix(data, rows, cols);
    packings.push(packed);
    return packed;
  };
  try {
    const blocks = model.weights.blocks.map(({ att, ff }) => ({
      query: pack(att.query.weight),
      key: pack(att.key.weight),
      value: pack(att.value.weight),
      outProj: pack(att.outProj.weight),
      up: pack(ff.up.weight),
      down: pack(ff.down.weight),
    }));
    const outHead = pack(model.weights.outHead);
    return { blocks, outHead, release: () => packings.forEach(releasePacked) };
  } catch (err) {
    packings.forEach(releasePacked);
    throw err;
  }
}

export interface GptForward {
  /** tok + pos embeddings: the residual stream entering block 0. (T, dim) */
  embeddings: Matrix;
  /** Per block its residual stream after each shortcut (with keepResiduals; otherwise empty). */
  blocks: BlockOutput[];
  /** LN_final of the last block's output. (T, dim) */
  finalNorm: Matrix;
  /** (T, vocab) for 'all', (1, vocab) for 'last' (the last position's row), absent for 'none'. */
  logits?: Matrix;
}

/**
 * Throws an EngineError unless `ids` is at least one token, fits the context from `startPosition`
 * on, and every id is inside the vocabulary.
 */
export function checkTokenIds(ids: readonly number[], config: GptConfig, startPosition = 0): void {
  if (ids.length === 0) throw new EngineError('the text has no tokens; select some text');
  if (startPosition + ids.length > config.contextLength) {
    throw new EngineError(
      `${startPosition + ids.length} tokens are more than the model's context length of ${config.contextLength}; select less text`,
    );
  }
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= config.vocabSize) {
      throw new EngineError(`token id ${id} is outside the model's vocabulary of ${config.vocabSize}; use the tokenizer the model was trained with`);
    }
  }
}

/** The model on token ids: (T) -> logits (T, vocab) and whatever `options` keep. */
export function gptForward(model: GptModel, ids: readonly number[], options: GptForwardOptions = {}): GptForward {
  const { config, weights } = model;
  const start = options.startPosition ?? 0;
  checkTokenIds(ids, config, start);
  const { hooks, from } = options;
  if (from && (from.residual.rows !== ids.length || from.residual.cols !== config.dim || !(from.layer >= 0 && from.layer < config.layers))) {
    throw new RangeError(`gptForward: from block ${from.layer} with a (${from.residual.rows}, ${from.residual.cols}) residual for ${ids.length} tokens`);
  }
  const positions = Array.from({ length: ids.length }, (_, t) => start + t);
  const input = from ? from.residual : add(tokenEmbeddings(weights.tokEmb, ids), takeRows(weights.posEmb, positions)); // (T, dim)
  const blocks: BlockOutput[] = [];
  let x = input;
  for (const [layer, block] of weights.blocks.entries()) {
    if (from && layer < from.layer) continue;
    if (options.signal?.aborted) throw new CancelledError();
    hooks?.residPre?.(layer, x);
    const attention = hooks?.pattern || hooks?.z ? hookedAttention(layer, hooks) : options.attention?.(layer);
    const blockHooks = hooks && { attnOut: (out: Matrix) => hooks.attnOut?.(layer, out), mlpOut: (out: Matrix) => hooks.mlpOut?.(layer, out) };
    const out = transformerBlock(x, block, config.heads, config.layerNormEps, attention, options.packed?.blocks[layer], blockHooks);
    if (options.keepResiduals) blocks.push(out);
    x = out.output;
  }
  const finalNorm = createMatrix(x.rows, x.cols); // (T, dim)
  layerNormInto(finalNorm.data, x, weights.finalNorm, config.layerNormEps);
  const which = options.logits ?? 'all';
  const result: GptForward = { embeddings: input, blocks, finalNorm };
  if (which !== 'none') result.logits = outputHead(model, which === 'all' ? finalNorm : lastRow(finalNorm), options.packed);
  return result;
}

/** out_head: z (n, dim) -> logits (n, vocab) = z·W_outᵀ. */
export function outputHead(model: GptModel, finalNorm: Matrix, packed?: PackedGpt): Matrix {
  return linear(finalNorm, { weight: model.weights.outHead }, packed?.outHead);
}

/** Row T−1 as a (1, C) view (no copy). */
export function lastRow(m: Matrix): Matrix {
  return { rows: 1, cols: m.cols, data: m.data.subarray((m.rows - 1) * m.cols, m.rows * m.cols) };
}

/**
 * Block `layer`'s maps and activations, recomputed from the residual stream entering it (the
 * forward's embeddings for block 0, else block layer−1's output): bit for bit what the forward
 * computed. Needs a forward run with keepResiduals (except for block 0).
 */
export function traceGptBlock(model: GptModel, forward: GptForward, layer: number): BlockTrace {
  const block = model.weights.blocks[layer];
  if (!block) throw new RangeError(`traceGptBlock: layer ${layer} outside 0..${model.weights.blocks.length - 1}`);
  const input = layer === 0 ? forward.embeddings : forward.blocks[layer - 1]?.output;
  if (!input) throw new RangeError('traceGptBlock: run gptForward with keepResiduals to trace blocks after the first');
  return transformerBlockTraced(input, block, model.config.heads, model.config.layerNormEps);
}

/**
 * Block `layer`'s feed-forward alone (LN₂ of the stream after its attention, then up, GELU,
 * down), from what the forward kept: the block's attention is not recomputed (a (T, T) map per
 * head that the panel's feed-forward section does not draw). Bit for bit traceGptBlock's `ff`.
 */
export function traceGptFeedForward(model: GptModel, forward: GptForward, layer: number): FeedForwardTrace {
  const block = model.weights.blocks[layer];
  const kept = forward.blocks[layer];
  if (!block || !kept) throw new RangeError(`traceGptFeedForward: layer ${layer} outside 0..${forward.blocks.length - 1} (run gptForward with keepResiduals)`);
  return feedForwardTraced(normed(kept.afterAttention, block.norm2, model.config.layerNormEps), block.ff);
}
