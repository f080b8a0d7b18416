// Causal attention heads, each whole on one thread: at inference multiHeadForwardInto (layers.ts),
// in training attention.ts, share heads, not rows, between threads, so no thread waits for
// another inside a head. Run by the calling thread and by the helpers (helper.ts), the same code
// on both.

import { PANEL, align16, type KernelExports } from './protocol';

/**
 * Heads headStart .. headEnd−1. `p` is the job's parameters, byte addresses and element strides:
 *   [q, k, v, concat, ldP, ldCat, T, headDim, workspace, slotBytes, divisor bits]
 * Head h reads columns h·headDim .. of Q, K, V (row stride ldP) and writes the same columns of
 * concat (row stride ldCat). Each thread works in its own slot of the workspace:
 *   K_h packed (tPanels, headDim, 8) | S (T, ldS) | V_h packed (dPanels, T, 8) | C (T, 8·dPanels)
 * C is copied into concat because a panel of 8 columns would write past a head whose width is
 * not a multiple of 8, into the next head's columns, which another thread may have written.
 */
export function runHeads(k: KernelExports, headStart: number, headEnd: number, p: ArrayLike<number>, divisor: number, slot: number): void {
  const qAt = p[0]!, kAt = p[1]!, vAt = p[2]!, catAt = p[3]!, ldP = p[4]!, ldCat = p[5]!;
  const T = p[6]!, headDim = p[7]!, workspace = p[8]!, slotBytes = p[9]!;
  const tPanels = Math.ceil(T / PANEL);
  const ldS = tPanels * PANEL;
  const dPanels = Math.ceil(headDim / PANEL);
  const packedK = workspace + slot * slotBytes;
  const scores = align16(packedK + 4 * ldS * headDim);
  const packedV = align16(scores + 4 * T * ldS);
  const context = align16(packedV + 4 * dPanels * PANEL * T);
  for (let h = headStart; h < headEnd; h++) {
    const column = 4 * h * headDim;
    k.pack(kAt + column, packedK, T, headDim, 1, ldP);
    k.gemm(qAt + column, packedK, scores, 0, T, tPanels, headDim, 1, 0, ldP, ldS);
    k.softmax(scores, 0, T, ldS, divisor, 1);
    k.clearBlockUpper(scores, T, ldS);
    k.pack(vAt + column, packedV, headDim, T, 0, ldP);
    k.gemm(scores, packedV, context, 0, T, dPanels, T, 0, 1, ldS, dPanels * PANEL);
    k.copyBlock(context, dPanels * PANEL, catAt + column, ldCat, T, headDim);
  }
}

/** Bytes of one thread's slot of the heads workspace (runHeads' layout, each part 16-aligned). */
export function headSlotBytes(T: number, headDim: number): number {
  const ldS = Math.ceil(T / PANEL) * PANEL;
  const dPanels = Math.ceil(headDim / PANEL);
  return align16(4 * ldS * headDim) + align16(4 * T * ldS) + 2 * align16(4 * dPanels * PANEL * T);
}

// ------------------------------------------------------------------------------------------------
// attention.ts's heads: a training step's, forward and backward, and the panel's multi-head
// forward (which keeps no maps)

/**
 * One thread's slot (byte offsets from its start, each 16-aligned):
 *   packed (a head's operand as B: max(T, 8·dPanels) × max(ldS, T) floats) | S (T, ldS) |
 *   S2 (T, ldS) | out (T, 8·dPanels)
 */
export function attentionSlotLayout(T: number, headDim: number) {
  const ldS = Math.ceil(T / PANEL) * PANEL;
  const dPanels = Math.ceil(headDim / PANEL);
  const s = align16(4 * Math.max(ldS * headDim, dPanels * PANEL * T));
  const s2 = align16(s + 4 * T * ldS);
  const out = align16(s2 + 4 * T * ldS);
  const bytes = align16(out + 4 * T * dPanels * PANEL);
  return { ldS, dPanels, s, s2, out, bytes };
}

/**
 * The job's parameters (byte addresses; −1 for no mask, and in a forward for no weights kept):
 *   [qkv, ctx or dctx, weights, keep, dqkv (backward), T, C, heads, slots, slotBytes, constants]
 * constants: two float64, the dropout scale and the divisor fl(√headDim).
 */
export type AttentionJob = ArrayLike<number>;

/** The job's parameters by name, `slot`'s parts (byte addresses) and where head (b, h) reads. */
function readJob(p: AttentionJob, slot: number) {
  const qkv = p[0]!, ctx = p[1]!, weights = p[2]!, keep = p[3]!, dqkv = p[4]!, T = p[5]!, C = p[6]!, heads = p[7]!;
  const headDim = C / heads;
  const { ldS, dPanels, s, s2, out } = attentionSlotLayout(T, headDim);
  const base = p[8]! + slot * p[9]!;
  return {
    ctx, weights, keep, dqkv, T, C, heads, headDim, ldS, dPanels,
    tPanels: ldS / PANEL,
    packed: base,
    s: base + s,
    s2: base + s2,
    out: base + out,
    /** Byte offsets, from the start of qkv or dqkv, of head h's queries, keys and values in window b's rows (row stride 3C). */
    columns(b: number, h: number): [number, number, number] {
      const rows = 4 * b * T * 3 * C;
      return [rows + 4 * h * headDim, rows + 4 * (C + h * headDim), rows + 4 * (2 * C + h * headDim)];
    },
    /** Byte offset of head h's columns in window b's rows of a (N, C) buffer (ctx, dctx). */
    context: (b: number, h: number) => 4 * (b * T * C + h * headDim),
    qkv,
  };
}

/**
 * Forward of heads headStart .. headEnd−1 (b·heads + h) on `slot`:
 *   S = Q_h·K_hᵀ (j <= i), weights = softmax(S / divisor), kept whole (0 above the diagonal)
 *   unless the job's weights address is −1,
 *   dropped = dropout(weights), ctx[:, head h] = dropped·V_h.
 */
export function attentionForwardHeads(k: KernelExports, headStart: number, headEnd: number, p: AttentionJob, scale: number, divisor: number, slot: number): void {
  const { qkv, ctx, weights, keep, T, C, heads, headDim, ldS, dPanels, tPanels, packed, s: scores, out, columns, context } = readJob(p, slot);
  for (let head = headStart; head < headEnd; head++) {
    const [b, h] = [Math.floor(head / heads), head % heads];
    const [q, key, v] = columns(b, h);
    k.pack(qkv + key, packed, T, headDim, 1, 3 * C); // K_h (T, hd) as Bᵀ
    k.gemm(qkv + q, packed, scores, 0, T, tPanels, headDim, 1, 0, 3 * C, ldS);
    k.softmax(scores, 0, T, ldS, divisor, 1);
    k.clearBlockUpper(scores, T, ldS);
    if (weights >= 0) k.copyLower(scores, ldS, weights + 4 * head * T * T, T, T, T);
    if (keep >= 0) k.dropoutLower(scores, ldS, keep + head * T * T, T, T, scale);
    k.pack(qkv + v, packed, headDim, T, 0, 3 * C); // V_h (T, hd) as B
    k.gemm(scores, packed, out, 0, T, dPanels, T, 0, 1, ldS, dPanels * PANEL);
    k.copyBlock(out, dPanels * PANEL, ctx + context(b, h), C, T, headDim);
  }
}

/**
 * Backward of heads headStart .. headEnd−1 on `slot`, writing head h's columns of dqkv:
 *   dDropped = dContext·V_hᵀ (j <= i), dScores through dropout and softmax (kernels.wat),
 *   dQ = dScores·K_h, dK = dScoresᵀ·Q_h, dV = droppedᵀ·dContext.
 */
export function attentionBackwardHeads(k: KernelExports, headStart: number, headEnd: number, p: AttentionJob, scale: number, divisor: number, slot: number): void {
  const { qkv, ctx: dctx, weights, keep, dqkv, T, C, heads, headDim, ldS, dPanels, tPanels, packed, s: grad, s2: transposed, out, columns, context } = readJob(p, slot);
  const ldOut = dPanels * PANEL;
  for (let head = headStart; head < headEnd; head++) {
    const [b, h] = [Math.floor(head / heads), head % heads];
    const [q, key, v] = columns(b, h);
    const dContext = dctx + context(b, h); // (T, hd), row stride C
    const map = weights + 4 * head * T * T; // (T, T)
    const mapKeep = keep >= 0 ? keep + head * T * T : -1;
    // dDropped, then dScores in place
    k.pack(qkv + v, packed, T, headDim, 1, 3 * C);
    k.gemm(dContext, packed, grad, 0, T, tPanels, headDim, 1, 0, C, ldS);
    k.softmaxBackward(grad, ldS, map, T, mapKeep, T, T, T, scale, divisor);
    // dQ = dScores·K_h
    k.pack(qkv + key, packed, headDim, T, 0, 3 * C);
    k.gemm(grad, packed, out, 0, T, dPanels, T, 0, 1, ldS, ldOut);
    k.copyBlock(out, ldOut, dqkv + q, 3 * C, T, headDim);
    // dK = dScoresᵀ·Q_h
    k.transpose(grad, ldS, transposed, ldS, T, T);
    k.pack(qkv + q, packed, headDim, T, 0, 3 * C);
    k.gemm(transposed, packed, out, 0, T, dPanels, T, 0, 0, ldS, ldOut);
    k.copyBlock(out, ldOut, dqkv + key, 3 * C, T, headDim);
    // dV = droppedᵀ·dContext
    k.copyLower(map, T, grad, ldS, T, T);
    if (mapKeep >= 0) k.dropoutLower(grad, ldS, mapKeep, T, T, scale);
    k.transpose(grad, ldS, transposed, ldS, T, T);
    k.pack(dContext, packed, headDim, T, 0, C);
    k.gemm(transposed, packed, out, 0, T, dPanels, T, 0, 0, ldS, ldOut);
    k.copyBlock(out, ldOut, dqkv + v, 3 * C, T, headDim);
  }
}
