// Row-wise elementwise work in the kernel's memory that the helpers share by rows (helper.ts).

import { geluScalar } from '../layers/gelu';

/**
 * Rows rowStart .. rowEnd−1 of a feed-forward's hidden layer in place, h = GELU(fl(h + b)): the
 * up-projection's bias (when biasAt >= 0) and layers/gelu.ts's geluScalar, so the numbers are
 * linear + geluInto's bit for bit (a unit test checks). JavaScript (a rational tanh in double);
 * the helpers are JavaScript threads too, so they share the rows.
 * heap: the kernel memory as float32; at, biasAt: element indices; ld: the rows' stride.
 */
export function geluRows(heap: Float32Array, at: number, ld: number, cols: number, biasAt: number, rowStart: number, rowEnd: number): void {
  const gelu = geluScalar; // a local: unbundled (tsx), an import in the loop is a module getter per element
  for (let i = rowStart; i < rowEnd; i++) {
    const row = at + i * ld;
    for (let j = 0; j < cols; j++) {
      heap[row + j] = gelu(biasAt >= 0 ? Math.fround(heap[row + j]! + heap[biasAt + j]!) : heap[row + j]!);
    }
  }
}
