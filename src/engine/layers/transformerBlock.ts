// One transformer block (book section 4.5, TransformerBlock), pre-norm with two shortcuts:
//   a = x + MHA(LN₁(x))       causal multi-head attention over the normalised stream   (T, dim)
//   y = a + FF(LN₂(a))        feed-forward over the normalised stream                  (T, dim)
// x, a and y are the residual stream: each sub-layer only adds to it, which lets gradients and
// the token's own embedding pass through many layers unchanged. Inference only (model.eval()): the
// book's drop_shortcut is off.
//
// Two forms with the same numbers bit for bit: transformerBlock keeps only the residual stream
// (attention runs in the kernel's workspace, causalMultiHead); transformerBlockTraced also keeps
// every head's (T, T) attention weights and the feed-forward activations, for one block the panel
// shows. A caller keeps the residual stream of every block and recomputes one block's maps from
// its input when asked: 12 layers × 12 heads of (1024, 1024) maps would be 600 MB.

import type { BlockWeights } from '../gpt/types';
import { multiHeadForwardInto, type PackedMatrix } from '../kernels';
import { TorchGenerator } from '../rng';
import { createMatrix } from '../tensor';
import type { Matrix, Trace } from '../types';
import { feedForward, feedForwardTraced, type FeedForwardTrace } from './feedForward';
import { layerNormInto } from './layerNorm';
import { multiHeadAttention } from './multiHead';

/** The residual stream after each shortcut of a block. */
export interface BlockOutput {
  afterAttention: Matrix; // (T, dim): x + MHA(LN₁(x))
  output: Matrix; // (T, dim): the block's output, the next block's input
}

export interface BlockTrace extends BlockOutput {
  input: Matrix; // (T, dim): the residual stream entering the block
  norm1: Matrix; // (T, dim): LN₁(x), what attention reads
  attention: Trace['multiHead']; // per head queries, keys, values, scores, weights (T, T); concat; output (T, dim)
  norm2: Matrix; // (T, dim): LN₂(a), what the feed-forward reads
  ff: FeedForwardTrace; // preActivation, hidden (T, 4·dim); output (T, dim)
}

/** `into` += `shortcut`, elementwise: the float32 addition of PyTorch's `x + shortcut`. (T, dim) */
export function addShortcut(into: Matrix, shortcut: Matrix): Matrix {
  const y = into.data;
  const x = shortcut.data;
  if (y.length !== x.length) throw new RangeError(`addShortcut: ${y.length} floats and ${x.length}`);
  for (let i = 0; i < y.length; i++) y[i]! += x[i]!;
  return into;
}

/** LN(x) with the block's scale and shift, as a fresh matrix. (T, dim) -> (T, dim) */
export function normed(x: Matrix, norm: BlockWeights['norm1'], eps: number): Matrix {
  const out = createMatrix(x.rows, x.cols);
  layerNormInto(out.data, x, norm, eps);
  return out;
}

/** A block's six weights packed for the kernel (packGptWeights in gptModel.ts). */
export interface PackedBlock {
  query: PackedMatrix; // (dim, dim)
  key: PackedMatrix;
  value: PackedMatrix;
  outProj: PackedMatrix;
  up: PackedMatrix; // (4·dim, dim)
  down: PackedMatrix; // (dim, 4·dim)
}

/**
 * The attention sub-layer of a block: LN₁(x) (T, dim) -> MHA output (T, dim). The default is
 * causalMultiHead over the T rows; the key/value cache (gpt/generate.ts) passes its own, which
 * attends from new rows to every cached position with the same products.
 */
export type BlockAttention = (norm1: Matrix, block: BlockWeights, heads: number, packed?: PackedBlock) => Matrix;

/**
 * The default: causal multi-head attention over all T rows in the kernel's workspace, bit for bit
 * multiHeadForward's (multiHead.ts), with the packed weights when given. `keep` also receives K
 * and V (T, dim), for the key/value cache.
 */
export function causalMultiHead(
  norm1: Matrix,
  block: BlockWeights,
  heads: number,
  packed?: PackedBlock,
  keep?: { keys: Float32Array; values: Float32Array },
): Matrix {
  const { att } = block;
  const output = createMatrix(norm1.rows, att.query.weight.rows);
  const projection = ({ weight, bias }: BlockWeights['att']['query'], packing?: PackedMatrix) => ({
    weight: weight.data,
    ...(bias && { bias }),
    ...(packing && { packed: packing }),
  });
  multiHeadForwardInto(
    output.data,
    norm1.data,
    norm1.rows,
    norm1.cols,
    heads,
    {
      query: projection(att.query, packed?.query),
      key: projection(att.key, packed?.key),
      value: projection(att.value, packed?.value),
      outProj: projection(att.outProj, packed?.outProj),
    },
    keep,
  );
  return output;
}

/** Inference: (T, dim) -> the residual stream after attention and after the block, each (T, dim). */
export function transformerBlock(
  x: Matrix,
  block: BlockWeights,
  heads: number,
  eps: number,
  attention: BlockAttention = causalMultiHead,
  packed?: PackedBlock,
  /** attn_out and mlp_out hooks (gpt/hooks.ts), called before each output joins the stream. */
  hooks?: { attnOut?(out: Matrix): void; mlpOut?(out: Matrix): void },
): BlockOutput {
  const norm1 = normed(x, block.norm1, eps); // (T, dim)
  const attnOut = attention(norm1, block, heads, packed); // (T, dim)
  hooks?.attnOut?.(attnOut);
  const afterAttention = addShortcut(attnOut, x); // (T, dim), in attnOut's buffer
  layerNormInto(norm1.data, afterAttention, block.norm2, eps); // LN₂(a), reusing LN₁'s buffer
  const mlpOut = feedForward(norm1, block.ff, packed); // (T, dim)
  hooks?.mlpOut?.(mlpOut);
  const output = addShortcut(mlpOut, afterAttention); // (T, dim)
  return { afterAttention, output };
}

/** The same block keeping everything the panel shows (one block at a time: see the header). */
export function transformerBlockTraced(x: Matrix, block: BlockWeights, heads: number, eps: number): BlockTrace {
  const norm1 = normed(x, block.norm1, eps);
  // p = 0 draws nothing from the generator: the weights are the softmax itself (model.eval())
  const attention = multiHeadAttention(norm1, block.att, heads, { p: 0, generator: new TorchGenerator(0) });
  const afterAttention = addShortcut(copyMatrix(attention.output), x);
  const norm2 = normed(afterAttention, block.norm2, eps);
  const ff = feedForwardTraced(norm2, block.ff);
  const output = addShortcut(copyMatrix(ff.output), afterAttention);
  return { input: x, norm1, attention, afterAttention, norm2, ff, output };
}

/** A copy, so the trace keeps the sub-layer's own output beside the stream it was added to. */
function copyMatrix(m: Matrix): Matrix {
  return { rows: m.rows, cols: m.cols, data: m.data.slice() };
}
