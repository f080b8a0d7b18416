// Row-wise elementwise work in the kernel's memory that the helpers share by rows (helper.ts).

/**
 * Rows rowStart .. rowEnd−1 of a feed-forward's hidden layer in place, h = GELU(fl(h + b)): the
 * up-projection's bias (when biasAt >= 0) and GELU's tanh form exactly as layers/gelu.ts writes
 * it (geluScalar: double arithmetic with Math.tanh, rounded to float32 once), so the numbers are
 * linear + geluInto's bit for bit (a unit test checks). JavaScript, not WebAssembly, because it
 * must be V8's Math.tanh; the helpers are JavaScript threads too, so they share the rows.
 * heap: the kernel memory as float32; at, biasAt: element indices; ld: the rows' stride.
 */
export function geluRows(heap: Float32Array, at: number, ld: number, cols: number, biasAt: number, rowStart: number, rowEnd: number): void {
  const sqrt2OverPi = Math.sqrt(2 / Math.PI);
  for (let i = rowStart; i < rowEnd; i++) {
    const row = at + i * ld;
    for (let j = 0; j < cols; j++) {
      const x = biasAt >= 0 ? Math.fround(heap[row + j]! + heap[biasAt + j]!) : heap[row + j]!;
      heap[row + j] = 0.5 * x * (1 + Math.tanh(sqrt2OverPi * (x + 0.044715 * x * x * x)));
    }
  }
}
