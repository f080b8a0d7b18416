// The job protocol between the calling thread and the helper threads (pool.ts, helper.ts): the
// control block at the start of the shared WebAssembly memory, the kinds of job, and the chunk
// loop both sides run. Imported by the helper bundle (dist/kernelHelper.js) and the engine alike,
// so both sides run this very code.

/** Rows per register block of the kernel; thread splits fall on multiples of it. */
export const ROW_BLOCK = 5;
/** Columns per packed panel of B. */
export const PANEL = 8;

// The control block at the start of the shared memory (Int32 slots).
export const GENERATION = 0; // bumped by the caller to post a job
export const JOB_KIND = 1; // a JobKind
// The job's parameters, JOB .. JOB + JOB_SLOTS − 1:
//   gemm: a, b, c, panels, k, lowerOutput, lowerInput, lda, ldc
//   gemm by panels: a, b, c, rows, k, 0, 0, lda, ldc (the chunks are panel ranges)
//   softmax: s, cols, divisor (float32 bits), causal
//   heads: see runHeads (heads.ts)
//   gelu: src, ldSrc, dst, ldDst, tanhDst, cols, bias (rows.wat's gelu)
//   gelu backward: dy, x, tanhU, dx (rows.wat's geluBackward; the chunks are elements)
//   adamw: theta, g, m, v, constants (rows.wat's adamw; elements)
//   add: a, b, out (rows.wat's add; elements)
//   layer norm: x, out, scale, shift, mean, variance, cols, eps (float32 bits)
//   attention forward and backward: see attention.ts
//   pack: src, dst, m, k, transposed, ld (packPanels; the chunks are panels)
//   transpose: src, lds, dst, ldd, rows (transposeColumns; the chunks are the source's columns)
export const JOB = 2;
export const JOB_SLOTS = 11;
export const ROWS = JOB + JOB_SLOTS; // rows of the job (heads, for HEADS)
export const CHUNK_ROWS = ROWS + 1; // rows per chunk (a multiple of the kernel's row block)
export const CHUNKS = ROWS + 2;
export const NEXT = ROWS + 3; // (generation & 0x7fff) << 16 | next chunk to take
export const FINISHED = ROWS + 4; // chunks done
export const FAILED = ROWS + 5; // the generation of a job a helper failed
export const ACTIVE_HELPERS = ROWS + 6; // helpers 0 .. ACTIVE_HELPERS−1 take part
export const HELPER_CHUNKS = ROWS + 7; // chunks computed by helpers, ever (tests check the threaded path ran)
export const EPOCH = ROWS + 8; // helpers started with another epoch (another module) take no job
export const READY = 32; // READY + h: 1 once helper h has started
export const CONTROL_BYTES = 256;
/** The last Int32 slot of the control block: nobody notifies it, so waiting on it is a sleep. */
export const SLEEP_SLOT = CONTROL_BYTES / 4 - 1;

export enum JobKind {
  Gemm = 0,
  Softmax = 1,
  Heads = 2,
  /** A product shared by column panels: the chunks are panels, not rows. */
  GemmPanels = 3,
  Gelu = 4,
  /** The chunks are elements of contiguous buffers, not rows. */
  GeluBackward = 5,
  /** Elements too. */
  AdamW = 6,
  LayerNorm = 7,
  /** The chunks are heads (window b, head h) as b·heads + h. */
  AttentionForward = 8,
  AttentionBackward = 9,
  /** A product's B packed: the chunks are panels. */
  Pack = 10,
  /** The chunks are the source's columns (the destination's rows). */
  Transpose = 11,
  /** Elements. */
  Add = 12,
}

/**
 * Panels p0 .. p1−1 of B's pack (kernels.wat's pack; B (m, k) when transposed, else (k, m), rows
 * ld apart): the pack of only their columns, into their place among `panels`.
 */
export function packPanels(kernel: KernelExports, src: number, dst: number, m: number, k: number, transposed: number, ld: number, p0: number, p1: number): void {
  const first = p0 * PANEL;
  kernel.pack(src + 4 * first * (transposed ? ld : 1), dst + p0 * k * 4 * PANEL, Math.min(m, p1 * PANEL) - first, k, transposed, ld);
}

/** Columns c0 .. c1−1 of src (rows, ·) into rows c0 .. c1−1 of dst: rows.wat's transpose of only them. */
export function transposeColumns(kernel: KernelExports, src: number, lds: number, dst: number, ldd: number, rows: number, c0: number, c1: number): void {
  kernel.transpose(src + 4 * c0, lds, dst + 4 * c0 * ldd, ldd, rows, c1 - c0);
}

/** Helper threads at most: 16 threads with the calling one (READY's slots end below SLEEP_SLOT). */
export const MAX_HELPERS = 15;

/** What a helper thread is started with (worker_threads' workerData). */
export interface HelperData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** Its index: it answers jobs while helper < control[ACTIVE_HELPERS]. */
  helper: number;
  /** The generation posted last when it started: it waits for the next one. */
  generation: number;
  /** control[EPOCH] when it started: once that changes it is being replaced and takes no job. */
  epoch: number;
}

/** The kernel module's functions (kernels.wat); addresses are bytes, strides elements. */
export interface KernelExports {
  /** C rows rowStart..rowEnd−1 = A·B for B packed in `panels` panels of 8 columns. */
  gemm(a: number, b: number, c: number, rowStart: number, rowEnd: number, panels: number, k: number, lowerOutput: number, lowerInput: number, lda: number, ldc: number): void;
  /** B (m, k) or (k, m) at src into panels of 8 columns at dst. */
  pack(src: number, dst: number, m: number, k: number, transposed: number, ld: number): void;
  /** Rows rowStart..rowEnd−1 of s (cols wide) softmaxed in place after dividing by divisor. */
  softmax(s: number, rowStart: number, rowEnd: number, cols: number, divisor: number, causal: number): void;
  /** Zeroes the entries above the diagonal inside each 5-row block of s (rows, ld). */
  clearBlockUpper(s: number, rows: number, ld: number): void;
  /** Copies a (rows, cols) block from src (row stride lds) to dst (row stride ldd). */
  copyBlock(src: number, lds: number, dst: number, ldd: number, rows: number, cols: number): void;
  /** Rows rowStart..rowEnd−1 (cols wide) of dst = GELU(src + bias), tanh u into tanhDst; −1: no bias, no tanh (rows.wat). */
  gelu(src: number, ldSrc: number, dst: number, ldDst: number, tanhDst: number, cols: number, bias: number, rowStart: number, rowEnd: number): void;
  /** Elements start..end−1 of dx = dy·GELU'(x), from the forward's tanh u (rows.wat). */
  geluBackward(dy: number, x: number, tanhU: number, dx: number, start: number, end: number): void;
  /** out = a + b over elements start..end−1 (float32 adds). */
  add(a: number, b: number, out: number, start: number, end: number): void;
  /** c (rows, cols; stride ldc) += bias per column, in float32. */
  addBias(c: number, ldc: number, rows: number, cols: number, bias: number): void;
  /** sums (cols float64) = column sums of src (rows, cols; stride ld) in double. */
  columnSums(src: number, ld: number, rows: number, cols: number, sums: number): void;
  /** Layer norm of rows rowStart..rowEnd−1 of x into out, their means and variances into mean and variance (rows.wat). */
  layerNorm(x: number, out: number, scale: number, shift: number, mean: number, variance: number, cols: number, eps: number, rowStart: number, rowEnd: number): void;
  /** AdamW's update of elements start..end−1 in place; c: eight float64 constants (rows.wat). */
  adamw(theta: number, g: number, m: number, v: number, c: number, start: number, end: number): void;
  /** dst (cols, rows) = srcᵀ for src (rows, cols); row strides lds and ldd. */
  transpose(src: number, lds: number, dst: number, ldd: number, rows: number, cols: number): void;
  /** dst (row stride ldd) = the lower triangle j <= i of src (row stride lds), 0 above, cols wide. */
  copyLower(src: number, lds: number, dst: number, ldd: number, rows: number, cols: number): void;
  /** s[i][j] = (s[i][j]·scale)·keep[i][j] for j <= i; keep bytes with row stride ldk. */
  dropoutLower(s: number, lds: number, keep: number, ldk: number, rows: number, scale: number): void;
  /** dDropped rows into dScores in place, through dropout (keep >= 0) and softmax (kernels.wat). */
  softmaxBackward(g: number, ldg: number, w: number, ldw: number, keep: number, ldk: number, rows: number, cols: number, scale: number, divisor: number): void;
  /** Layer norm's backward over (rows, cols): dx accumulated, the scale's and shift's sums (float64) overwritten (rows.wat). */
  layerNormBackward(x: number, dy: number, dx: number, mean: number, variance: number, scale: number, scaleSums: number, shiftSums: number, rows: number, cols: number, eps: number): void;
}

/** The module instantiated on `memory`, its exports typed. GELU's rare out-of-range inputs take Math.tanh (rows.wat). */
export function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  return new WebAssembly.Instance(module, { env: { memory, tanh: Math.tanh } }).exports as unknown as KernelExports;
}

/**
 * Takes chunks of the posted job until none is left: the same loop in the calling thread and in
 * every helper. A chunk is claimed by compare-and-swap on NEXT, which carries the job's
 * generation, so a thread that read one job's parameters can never claim a chunk of the next.
 * Returns the chunks this thread computed.
 */
export function takeChunks(control: Int32Array, generation: number, run: (rowStart: number, rowEnd: number) => void): number {
  const tag = (generation & 0x7fff) << 16;
  const chunks = control[CHUNKS]!;
  const chunkRows = control[CHUNK_ROWS]!;
  const rows = control[ROWS]!;
  let taken = 0;
  for (;;) {
    const value = Atomics.load(control, NEXT);
    if ((value & ~0xffff) !== tag || (value & 0xffff) >= chunks) return taken;
    if (Atomics.compareExchange(control, NEXT, value, value + 1) !== value) continue;
    const rowStart = (value & 0xffff) * chunkRows;
    try {
      run(rowStart, Math.min(rows, rowStart + chunkRows));
    } catch {
      Atomics.store(control, FAILED, generation);
    }
    taken++;
    Atomics.add(control, FINISHED, 1);
    Atomics.notify(control, FINISHED);
  }
}

export const align16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;
