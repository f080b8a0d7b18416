// Whole layers at inference kept in the kernel's workspace: the feed-forward module on packed
// weights (its hidden layer never leaves the workspace) and multi-head causal attention (no Q, K,
// V, concat or (T, T) map is allocated or copied out). Bit for bit what the traced forms give.

import { livePacking, placeInWorkspace, type PackedMatrix } from './heap';
import { headSlotBytes, runHeads } from './heads';
import { MIN_PARALLEL_MACS, addBiasInWorkspace, copyOut, packShared, runGemm } from './products';
import { activeHelpers, kernelState, runRows } from './pool';
import { JOB, JobKind, PANEL } from './protocol';
import { geluInKernel } from './rows';

/** A packed nn.Linear: its weight's packing and its bias (out), if any. */
export interface PackedProjection {
  packed: PackedMatrix;
  bias?: Float32Array;
}

/**
 * The feed-forward module at inference on packed weights, in the kernel's workspace:
 *   h = GELU(x·W_upᵀ + b_up) (T, hidden),   out = h·W_downᵀ + b_down (T, outDim).
 * The hidden layer never leaves the workspace (no (T, 4·dim) copy out and back in), and its bias
 * and GELU are shared between threads by rows (rows.wat). Bit for bit what linear, geluRowsInto
 * and linear give (feedForward.ts).
 */
export function feedForwardPackedInto(out: Float32Array, x: Float32Array, T: number, up: PackedProjection, down: PackedProjection): void {
  const upW = livePacking(up.packed);
  const downW = livePacking(down.packed);
  if (!upW || !downW) {
    throw new Error('feedForwardPackedInto: a packed weight was released; pack it again');
  }
  const dim = upW.cols;
  const hidden = upW.rows;
  const outDim = downW.rows;
  if (downW.cols !== hidden || x.length !== T * dim || out.length !== T * outDim || (up.bias && up.bias.length !== hidden) || (down.bias && down.bias.length !== outDim)) {
    throw new RangeError(`feedForwardPackedInto: x of ${x.length} floats, out of ${out.length} for T ${T}, W_up (${hidden}, ${dim}), W_down (${outDim}, ${downW.cols})`);
  }
  if (T === 0) return;
  const s = kernelState();
  const hiddenPanels = Math.ceil(hidden / PANEL);
  const outPanels = Math.ceil(outDim / PANEL);
  const ldH = hiddenPanels * PANEL;
  const ldY = outPanels * PANEL;
  // workspace: x (T, dim) | h (T, ldH) | y (T, ldY) | b_up (hidden) | b_down (outDim)
  const [xAt, hAt, yAt, biasAt, downBiasAt] = placeInWorkspace(s, 4 * T * dim, 4 * T * ldH, 4 * T * ldY, 4 * hidden, 4 * outDim);
  s.heap.set(x, xAt >> 2);
  if (up.bias) s.heap.set(up.bias, biasAt >> 2);
  runGemm(s, xAt, upW.at, hAt, T, hiddenPanels, dim, false, false, dim, ldH);
  geluInKernel(s, hAt, ldH, hAt, ldH, -1, hidden, up.bias ? biasAt : -1, T);
  runGemm(s, hAt, downW.at, yAt, T, outPanels, hidden, false, false, ldH, ldY);
  if (down.bias) addBiasInWorkspace(s, yAt, ldY, T, down.bias, downBiasAt);
  copyOut(s, out, yAt, T, outDim, ldY, false);
}

/** One projection's weight (out, in) as nn.Linear holds it, and its bias (out) if any. */
export interface ProjectionWeights {
  weight: Float32Array;
  bias?: Float32Array;
  /** `weight` packed (packMatrix): used instead of packing it again when it is live and of `weight`. */
  packed?: PackedMatrix;
}

/** The live packing of `weight`'s own array, if `packed` is one. */
function packingOf(packed: PackedMatrix | undefined, weight: Float32Array) {
  const live = livePacking(packed);
  return live?.source === weight ? live : undefined;
}

/**
 * Multi-head causal attention at inference (no dropout), for `multiHeadForward`, kept entirely in
 * the kernel's workspace: Q, K, V = x·W_qᵀ, x·W_kᵀ, x·W_vᵀ (T, attnDim); for head h, which owns
 * columns h·headDim .. (h+1)·headDim − 1,
 *   weights = softmax_row(Q_h·K_hᵀ / √headDim) over j <= i,   concat[:, head h] = weights · V_h;
 * out (T, attnDim) = concat·W_oᵀ + b_o. Only `out` leaves the workspace: no Q, K, V, concat or
 * (T, T) map is allocated or copied out, where the traced form (multiHeadAttention) allocates all
 * of them, two fresh (T, T) maps per head, and fresh pages cost page faults. The heads are shared between threads a whole head at a time (heads.ts), the
 * projections a block of rows at a time. Every number is bit-for-bit the traced form's at p = 0:
 * the same products (row blocks, panels and sums, read through row strides instead of copies)
 * and the same softmax.
 */
export function multiHeadForwardInto(
  out: Float32Array,
  inputs: Float32Array,
  T: number,
  dim: number,
  heads: number,
  weights: { query: ProjectionWeights; key: ProjectionWeights; value: ProjectionWeights; outProj: ProjectionWeights },
  /** Also copy K and V (T, attnDim) out of the workspace (the key/value cache keeps them). */
  keep?: { keys: Float32Array; values: Float32Array },
): void {
  const attnDim = weights.query.weight.length / dim;
  if (!Number.isInteger(attnDim) || inputs.length !== T * dim || out.length !== T * attnDim || attnDim % heads !== 0) {
    throw new RangeError(`multiHeadForwardInto: x of ${inputs.length} floats, W_q of ${weights.query.weight.length}, out of ${out.length} for T ${T}, dim ${dim}, ${heads} heads`);
  }
  if (T === 0 || attnDim === 0) return;
  const s = kernelState();
  const headDim = attnDim / heads;
  const projectionPanels = Math.ceil(attnDim / PANEL);
  const ldP = projectionPanels * PANEL; // row stride of Q, K, V and the output
  const ldCat = attnDim; // concat's row stride
  const widest = Math.max(dim, attnDim);
  const threadsUsed = 1 + activeHelpers(s);
  const slotBytes = headSlotBytes(T, headDim);
  // workspace (byte offsets): x (T, dim) | a weight as given | packed | Q | K | V (T, ldP) |
  // concat (T, ldCat) | out (T, ldP) | a bias (attnDim) | one slot per thread for the heads (heads.ts)
  const projectionBytes = 4 * T * ldP; // Q, K, V and out, each (T, ldP)
  const [xAt, rawWAt, packedWAt, qAt, kAt, vAt, catAt, outAt, biasAt, slotsAt] = placeInWorkspace(
    s, 4 * T * dim, 4 * attnDim * widest, 4 * ldP * widest, projectionBytes, projectionBytes, projectionBytes, 4 * T * ldCat, projectionBytes, 4 * attnDim, slotBytes * threadsUsed,
  );
  s.heap.set(inputs, xAt >> 2);

  // y (T, ldP) = a (T, k)·Wᵀ + b, a with row stride lda
  const project = (a: number, lda: number, k: number, projection: ProjectionWeights, y: number): void => {
    const packed = packingOf(projection.packed, projection.weight);
    if (!packed) {
      s.heap.set(projection.weight, rawWAt >> 2);
      packShared(s, rawWAt, packedWAt, attnDim, k, 1, k);
    }
    runGemm(s, a, packed?.at ?? packedWAt, y, T, projectionPanels, k, false, false, lda, ldP);
    if (projection.bias) addBiasInWorkspace(s, y, ldP, T, projection.bias, biasAt);
  };
  project(xAt, dim, dim, weights.query, qAt);
  project(xAt, dim, dim, weights.key, kAt);
  project(xAt, dim, dim, weights.value, vAt);
  if (keep) {
    if (keep.keys.length !== T * attnDim || keep.values.length !== T * attnDim) throw new RangeError(`multiHeadForwardInto: keep needs (${T}, ${attnDim}) keys and values`);
    for (let t = 0; t < T; t++) {
      keep.keys.set(s.heap.subarray((kAt >> 2) + t * ldP, (kAt >> 2) + t * ldP + attnDim), t * attnDim);
      keep.values.set(s.heap.subarray((vAt >> 2) + t * ldP, (vAt >> 2) + t * ldP + attnDim), t * attnDim);
    }
  }

  const d = Math.fround(Math.sqrt(headDim));
  s.controlFloats[JOB + 10] = d; // the helpers read the divisor as float32 bits
  const args = [qAt, kAt, vAt, catAt, ldP, ldCat, T, headDim, slotsAt, slotBytes, s.control[JOB + 10]!];
  // heads, not rows, are shared: worth waking a helper when there are two heads or more and the
  // products are large enough (as runGemm decides)
  const split = heads >= 2 && T * T * attnDim >= MIN_PARALLEL_MACS;
  runRows(s, heads, split, 1, JobKind.Heads, args, (headStart, headEnd) => runHeads(s.kernel, headStart, headEnd, args, d, 0));

  project(catAt, ldCat, attnDim, weights.outProj, outAt);
  const heap = s.heap;
  for (let t = 0; t < T; t++) out.set(heap.subarray((outAt >> 2) + t * ldP, (outAt >> 2) + t * ldP + attnDim), t * attnDim);
}
