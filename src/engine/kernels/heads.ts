// Causal attention heads at inference, each whole on one thread: multiHeadForwardInto (layers.ts)
// shares heads, not rows, between threads, so no thread waits for another inside a head. Run by
// the calling thread and by the helpers (helper.ts), the same code on both.

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
