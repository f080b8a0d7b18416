// Causal multi-head attention with dropout in the kernel's memory (train/layers.ts gives the
// formulas), for a training step and for the panel's multi-head stage (layers/multiHead.ts): the
// projections, the maps and the masks staged once per layer, then the B·H (window, head) pairs
// shared between the threads, each whole on one thread (heads.ts), so nothing of a head crosses
// into JavaScript. Heads read their queries, keys and values straight
// from the (N, 3C) projections (c_attn's layout: q | k | v columns, head h at h·headDim of each)
// and write their columns of the output.
//
// Numerics. The forward is the products, softmax and dropout the JavaScript form ran, in the
// same order: bit for bit (a training forward at p = 0 still equals inference's). The backward's
// dV = droppedᵀ·dContext and dK = dScoresᵀ·Q take the transposed map as a dense product (its
// zeros above the diagonal are added, exactly, where the JavaScript form skipped them by reversing
// rows), so their sums run in another order: within float32 rounding of it, and of PyTorch.

import { attentionBackwardHeads, attentionForwardHeads, attentionSlotLayout } from './heads';
import { outputAt, placeInWorkspace, stageIn, stageOut, stagedBytes } from './heap';
import { MIN_PARALLEL_MACS } from './products';
import { activeHelpers, kernelState, runRows } from './pool';
import { JobKind } from './protocol';

/** B windows of T tokens, model width C, `heads` heads of C / heads. */
export interface AttentionShape {
  B: number;
  T: number;
  C: number;
  heads: number;
}

function checkShape(caller: string, shape: AttentionShape): void {
  const { B, T, C, heads } = shape;
  if (![B, T, C, heads].every((n) => Number.isSafeInteger(n) && n >= 1) || C % heads !== 0) {
    throw new RangeError(`${caller}: B ${B}, T ${T}, C ${C}, ${heads} heads`);
  }
}

/** The job's buffers, each given (undefined: none): as used by a forward or a backward. */
interface JobBuffers {
  qkv: Float32Array;
  /** ctx in a forward (written), dctx in a backward (read). */
  ctx: Float32Array;
  weights?: Float32Array;
  keep?: Uint8Array;
  dqkv?: Float32Array;
}

/**
 * The job's byte addresses (−1: none): each buffer where it lives in the kernel's memory, else in
 * the workspace, the inputs copied there (the forward's ctx and weights, the backward's dqkv are
 * outputs, copied out by the caller).
 */
function placeJob(shape: AttentionShape, buffers: JobBuffers, outputs: ReadonlySet<keyof JobBuffers>) {
  const { T, C, heads } = shape;
  const s = kernelState();
  const threads = 1 + activeHelpers(s); // slot 0 the calling thread's, helper h's h + 1
  const layout = attentionSlotLayout(T, C / heads);
  const names = ['qkv', 'ctx', 'weights', 'keep', 'dqkv'] as const;
  const scratch = placeInWorkspace(s, 16, layout.bytes * threads, ...names.map((name) => (buffers[name] ? stagedBytes(s, buffers[name]) : 0)));
  const [constants, slots] = scratch;
  const at = names.map((name, i) => {
    const buffer = buffers[name];
    if (!buffer) return -1;
    return outputs.has(name) ? outputAt(s, buffer, scratch[i + 2]!) : stageIn(s, buffer, scratch[i + 2]!);
  });
  return { s, constants, slots, slotBytes: layout.bytes, qkv: at[0]!, ctx: at[1]!, weights: at[2]!, keep: at[3]!, dqkv: at[4]! };
}

/**
 * Heads are shared like a product's rows: worth a helper when the products are large enough. The
 * softmax divides by fl(√headDim), as torch divides by the float32 square root.
 */
function runAttention(job: ReturnType<typeof placeJob>, shape: AttentionShape, kind: JobKind, scale: number): void {
  const { s } = job;
  const { B, T, C, heads } = shape;
  const divisor = Math.fround(Math.sqrt(C / heads));
  new Float64Array(s.memory.buffer, job.constants, 2).set([scale, divisor]);
  const args = [job.qkv, job.ctx, job.weights, job.keep, job.dqkv, T, C, heads, job.slots, job.slotBytes, job.constants];
  const heavy = B * heads >= 2 && B * T * T * C >= MIN_PARALLEL_MACS;
  const run = kind === JobKind.AttentionForward ? attentionForwardHeads : attentionBackwardHeads;
  runRows(s, B * heads, heavy, 1, kind, args, (start, end) => run(s.kernel, start, end, args, scale, divisor, 0));
}

/**
 * ctx (N, C) from qkv (N, 3C), and attnWeights (B·H·T·T, 0 above each diagonal) when given; with
 * `keep` (B·H·T·T bytes, drawn by the caller), the weights are dropped out by it, scaled by `scale`.
 */
export function attentionForwardInto(ctx: Float32Array, attnWeights: Float32Array | undefined, qkv: Float32Array, keep: Uint8Array | undefined, scale: number, shape: AttentionShape): void {
  checkShape('attentionForwardInto', shape);
  const { B, T, C, heads } = shape;
  const N = B * T;
  const maps = B * heads * T * T;
  if (ctx.length !== N * C || qkv.length !== N * 3 * C || (attnWeights && attnWeights.length !== maps) || (keep && keep.length !== maps)) {
    throw new RangeError(`attentionForwardInto: buffers that do not fit B ${B}, T ${T}, C ${C}, ${heads} heads`);
  }
  const job = placeJob(shape, { qkv, ctx, weights: attnWeights, keep }, new Set(['ctx', 'weights']));
  runAttention(job, shape, JobKind.AttentionForward, scale);
  stageOut(job.s, ctx, job.ctx);
  if (attnWeights) stageOut(job.s, attnWeights, job.weights);
}

/** dqkv (N, 3C) overwritten from dctx (N, C); the rest is what the forward was given and kept. */
export function attentionBackwardInto(dqkv: Float32Array, dctx: Float32Array, qkv: Float32Array, attnWeights: Float32Array, keep: Uint8Array | undefined, scale: number, shape: AttentionShape): void {
  checkShape('attentionBackwardInto', shape);
  const { B, T, C, heads } = shape;
  const N = B * T;
  if (dqkv.length !== N * 3 * C || dctx.length !== N * C || qkv.length !== N * 3 * C || attnWeights.length !== B * heads * T * T || (keep && keep.length !== attnWeights.length)) {
    throw new RangeError(`attentionBackwardInto: buffers that do not fit B ${B}, T ${T}, C ${C}, ${heads} heads`);
  }
  const job = placeJob(shape, { qkv, ctx: dctx, weights: attnWeights, keep, dqkv }, new Set(['dqkv']));
  runAttention(job, shape, JobKind.AttentionBackward, scale);
  stageOut(job.s, dqkv, job.dqkv);
}
