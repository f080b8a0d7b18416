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
import { placeInWorkspace } from './heap';
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

/** Places the job's buffers in the workspace and returns their byte addresses (−1: not placed). */
function placeJob(shape: AttentionShape, parts: { keep: boolean; weights: boolean; backward: boolean }) {
  const { B, T, C, heads } = shape;
  const s = kernelState();
  const N = B * T;
  const maps = B * heads * T * T;
  const threads = 1 + activeHelpers(s); // slot 0 the calling thread's, helper h's h + 1
  const layout = attentionSlotLayout(T, C / heads);
  const [constants, qkv, ctx, dqkv, weights, keep, slots] = placeInWorkspace(
    s,
    ...[16, 4 * N * 3 * C, 4 * N * C, parts.backward ? 4 * N * 3 * C : 0, parts.weights ? 4 * maps : 0, parts.keep ? maps : 0, layout.bytes * threads],
  );
  return {
    s,
    constants,
    qkv,
    ctx,
    dqkv: parts.backward ? dqkv : -1,
    weights: parts.weights ? weights : -1,
    keep: parts.keep ? keep : -1,
    slots,
    slotBytes: layout.bytes,
    maps,
  };
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
  const job = placeJob(shape, { keep: keep !== undefined, weights: attnWeights !== undefined, backward: false });
  const heap = job.s.heap;
  heap.set(qkv, job.qkv >> 2);
  if (keep) new Uint8Array(job.s.memory.buffer, job.keep, maps).set(keep);
  runAttention(job, shape, JobKind.AttentionForward, scale);
  ctx.set(heap.subarray(job.ctx >> 2, (job.ctx >> 2) + N * C));
  attnWeights?.set(heap.subarray(job.weights >> 2, (job.weights >> 2) + maps));
}

/** dqkv (N, 3C) overwritten from dctx (N, C); the rest is what the forward was given and kept. */
export function attentionBackwardInto(dqkv: Float32Array, dctx: Float32Array, qkv: Float32Array, attnWeights: Float32Array, keep: Uint8Array | undefined, scale: number, shape: AttentionShape): void {
  checkShape('attentionBackwardInto', shape);
  const { B, T, C, heads } = shape;
  const N = B * T;
  if (dqkv.length !== N * 3 * C || dctx.length !== N * C || qkv.length !== N * 3 * C || attnWeights.length !== B * heads * T * T || (keep && keep.length !== attnWeights.length)) {
    throw new RangeError(`attentionBackwardInto: buffers that do not fit B ${B}, T ${T}, C ${C}, ${heads} heads`);
  }
  const job = placeJob(shape, { keep: keep !== undefined, weights: true, backward: true });
  const heap = job.s.heap;
  heap.set(qkv, job.qkv >> 2);
  heap.set(dctx, job.ctx >> 2);
  heap.set(attnWeights, job.weights >> 2);
  if (keep) new Uint8Array(job.s.memory.buffer, job.keep, job.maps).set(keep);
  runAttention(job, shape, JobKind.AttentionBackward, scale);
  dqkv.set(heap.subarray(job.dqkv >> 2, (job.dqkv >> 2) + N * 3 * C));
}
