// The engine's kernels: every stage's matrix product (Q·Kᵀ, weights·V, nn.Linear) goes through
// matmulInto and every softmax through softmaxRowsInto. multiHeadForwardInto runs a whole
// multi-head layer at inference on the same kernel functions without leaving the workspace
// (`llm101 bench`'s default form).
//
// How it is fast:
// - The inner loop is WebAssembly SIMD (kernels.wat, assembled into kernelsWasm.ts): a 5×8
//   register block of float32x4 accumulators over B packed in column panels of 8, so each loaded
//   A value feeds 8 products and each loaded B vector 5 (6 rows measured half as fast: kernels.wat).
// - Causal products skip the masked triangle: Q·Kᵀ computes only the column panels that reach the
//   diagonal, weights·V stops each row block's sum after its last row.
// - Softmax runs in the same module, in place: scaling, the maximum and the exponentials (a
//   polynomial written inline; V8's Math.exp is a call per element) in float32x4, their sum in double.
// - Large products and softmaxes are cut into row chunks that the calling thread and helper
//   threads (worker_threads sharing the WebAssembly memory, a SharedArrayBuffer) take in turn: the
//   caller wakes the helpers with Atomics.notify, computes chunks itself, and waits with
//   Atomics.wait only for chunks a helper is still computing, so the engine stays synchronous and
//   a helper descheduled on a busy machine holds nothing up. Chunks start at multiples of the
//   5-row block and each element's sum has the same terms in the same order whoever computes it:
//   one thread or many give bit-for-bit the same result.
// - multiHeadForwardInto shares heads between threads a whole head at a time (HEADS_SOURCE).
// - Nothing is allocated per call beyond growing the shared workspace when a product is larger
//   than any before.
//
// Numerics: float32 products summed in float32 in increasing t (no fused multiply-add), as a
// float32 BLAS such as PyTorch's does. The stage tests agree with PyTorch's float32 run within
// 1e-5 and with its float64 run within 1e-5 plus one float32 ulp. Summing in double instead (exact
// products, float64x2 lanes) was measured at half the speed: 12.6 against 24.5 GFLOP/s on one
// thread for a (512, 768)·(768, 768) product.

import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import { KERNELS_WASM_BASE64 } from './kernelsWasm';

export interface MatmulOptions {
  /** b is given transposed, (m, k): out = a·bᵀ (x·Wᵀ, Q·Kᵀ). Otherwise b is (k, m). */
  bTransposed: boolean;
  /** Only out[i][j] with j <= i is written (the rest of out is left as it is). */
  lowerOutput?: boolean;
  /** a is lower-triangular (a[i][t] = 0 for t > i) and those terms are skipped. */
  lowerInput?: boolean;
}

/** B (m, k) or (k, m) at byte address src into panels of 8 columns at dst (kernels.wat). */
type Pack = (src: number, dst: number, m: number, k: number, transposed: number, ld: number) => void;
type Softmax = (s: number, rowStart: number, rowEnd: number, cols: number, divisor: number, causal: number) => void;
type Gemm = (
  a: number,
  b: number,
  c: number,
  rowStart: number,
  rowEnd: number,
  panels: number,
  k: number,
  lowerOutput: number,
  lowerInput: number,
  lda: number,
  ldc: number,
) => void;

/** Rows per register block of the kernel; thread splits fall on multiples of it. */
const ROW_BLOCK = 5;
/** Columns per packed panel of B. */
const PANEL = 8;
/** Products with fewer multiply-adds than this stay on the calling thread (waking a helper costs more). */
const MIN_PARALLEL_MACS = 1 << 20;
/** Softmaxes over fewer entries than this stay on the calling thread. */
const MIN_PARALLEL_ENTRIES = 1 << 16;
/**
 * A product of fewer rows than this whose weight is at least MIN_PANEL_SPLIT_FLOATS is shared by
 * columns (panels) instead of rows: a decode step's one row cannot be cut into row blocks, and
 * streaming the weight from memory is its whole cost, which two threads halve.
 */
const PANEL_SPLIT_ROWS = 4 * ROW_BLOCK;
const MIN_PANEL_SPLIT_FLOATS = 1 << 17;
const PAGE_BYTES = 65536;
/**
 * 2 GiB of shared memory at most (addresses stay below 2³¹, so `>> 2` is safe): GPT-2 small's
 * packed weights (packMatrix, 494 MB) beside a T = 1,024 forward's workspace. kernels.wat's
 * memory import declares the same maximum.
 */
const MAX_PAGES = 32768;

// The control block at the start of the shared memory (Int32 slots).
const GENERATION = 0; // bumped by the caller to post a job
const JOB_KIND = 1; // GEMM, SOFTMAX or HEADS
// The job's parameters, JOB .. JOB + JOB_SLOTS − 1:
//   gemm: a, b, c, panels, k, lowerOutput, lowerInput, lda, ldc
//   gemm by panels: a, b, c, rows, k, 0, 0, lda, ldc (the chunks are panel ranges)
//   softmax: s, cols, divisor (float32 bits), causal
//   heads: see HEADS_SOURCE
//   gelu: see GELU_SOURCE
const JOB = 2;
const JOB_SLOTS = 11;
const ROWS = JOB + JOB_SLOTS; // rows of the job (heads, for HEADS)
const CHUNK_ROWS = ROWS + 1; // rows per chunk (a multiple of the kernel's row block)
const CHUNKS = ROWS + 2;
const NEXT = ROWS + 3; // (generation & 0x7fff) << 16 | next chunk to take
const FINISHED = ROWS + 4; // chunks done
const FAILED = ROWS + 5; // the generation of a job a helper failed
const ACTIVE_HELPERS = ROWS + 6; // helpers 0 .. ACTIVE_HELPERS−1 take part
const HELPER_CHUNKS = ROWS + 7; // chunks computed by helpers, ever (tests check the threaded path ran)
const READY = 32; // READY + h: 1 once helper h has started
const GEMM = 0;
const SOFTMAX = 1;
const HEADS = 2;
const GEMM_PANELS = 3; // a product shared by column panels: the chunks are panels, not rows
const GELU = 4;
const MAX_HELPERS = 15;
const CONTROL_BYTES = 256;
/** A job is cut into about this many chunks per thread, taken in turn by whichever thread is free. */
const CHUNKS_PER_THREAD = 8;

/**
 * Takes chunks of the posted job until none is left: the same loop in the calling thread and in
 * every helper. A chunk is claimed by compare-and-swap on NEXT, which carries the job's
 * generation, so a thread that read one job's parameters can never claim a chunk of the next.
 * Kept as source text so the helpers (below) run exactly this code.
 */
const TAKE_CHUNKS_SOURCE = `function takeChunks(control, generation, run) {
  const tag = (generation & 0x7fff) << 16;
  const chunks = control[${CHUNKS}], chunkRows = control[${CHUNK_ROWS}], rows = control[${ROWS}];
  let taken = 0;
  for (;;) {
    const value = Atomics.load(control, ${NEXT});
    if ((value & ~0xffff) !== tag || (value & 0xffff) >= chunks) return taken;
    if (Atomics.compareExchange(control, ${NEXT}, value, value + 1) !== value) continue;
    const rowStart = (value & 0xffff) * chunkRows;
    try {
      run(rowStart, Math.min(rows, rowStart + chunkRows));
    } catch (err) {
      Atomics.store(control, ${FAILED}, generation);
    }
    taken++;
    Atomics.add(control, ${FINISHED}, 1);
    Atomics.notify(control, ${FINISHED});
  }
}`;

// the same source the helpers run
const takeChunks = new Function(`${TAKE_CHUNKS_SOURCE}; return takeChunks;`)() as (
  control: Int32Array,
  generation: number,
  run: (rowStart: number, rowEnd: number) => void,
) => number;

/**
 * Heads headStart .. headEnd−1 of causal attention at inference, each whole on the calling thread
 * (multiHeadForwardInto shares heads, not rows, between threads: no thread waits for another
 * inside a head). `k` is the module's exports; `p` the job's parameters, byte addresses and
 * element strides:
 *   [q, k, v, concat, ldP, ldCat, T, headDim, workspace, slotBytes, divisor bits]
 * Head h reads columns h·headDim .. of Q, K, V (row stride ldP) and writes the same columns of
 * concat (row stride ldCat). Each thread works in its own slot of the workspace:
 *   K_h packed (tPanels, headDim, 8) | S (T, ldS) | V_h packed (dPanels, T, 8) | C (T, 8·dPanels)
 * C is copied into concat because a panel of 8 columns would write past a head whose width is
 * not a multiple of 8, into the next head's columns, which another thread may have written.
 * Kept as source text so the helpers (below) run exactly this code.
 */
const HEADS_SOURCE = `function runHeads(k, headStart, headEnd, p, divisor, slot) {
  const [qAt, kAt, vAt, catAt, ldP, ldCat, T, headDim, workspace, slotBytes] = p;
  const align16 = (bytes) => Math.ceil(bytes / 16) * 16;
  const tPanels = Math.ceil(T / ${PANEL}), ldS = tPanels * ${PANEL}, dPanels = Math.ceil(headDim / ${PANEL});
  const packedK = workspace + slot * slotBytes;
  const scores = align16(packedK + 4 * ldS * headDim);
  const packedV = align16(scores + 4 * T * ldS);
  const context = align16(packedV + 4 * dPanels * ${PANEL} * T);
  for (let h = headStart; h < headEnd; h++) {
    const column = 4 * h * headDim;
    k.pack(kAt + column, packedK, T, headDim, 1, ldP);
    k.gemm(qAt + column, packedK, scores, 0, T, tPanels, headDim, 1, 0, ldP, ldS);
    k.softmax(scores, 0, T, ldS, divisor, 1);
    k.clearBlockUpper(scores, T, ldS);
    k.pack(vAt + column, packedV, headDim, T, 0, ldP);
    k.gemm(scores, packedV, context, 0, T, dPanels, T, 0, 1, ldS, dPanels * ${PANEL});
    k.copyBlock(context, dPanels * ${PANEL}, catAt + column, ldCat, T, headDim);
  }
}`;

// the same source the helpers run
const runHeads = new Function(`${HEADS_SOURCE}; return runHeads;`)() as (
  k: WebAssembly.Exports,
  headStart: number,
  headEnd: number,
  p: ArrayLike<number>,
  divisor: number,
  slot: number,
) => void;

/**
 * Rows rowStart .. rowEnd−1 of a feed-forward's hidden layer in place, h = GELU(fl(h + b)): the
 * up-projection's bias (when biasAt >= 0) and GELU's tanh form exactly as layers/gelu.ts writes
 * it (geluScalar: double arithmetic with Math.tanh, rounded to float32 once), so the numbers are
 * linear + geluInto's bit for bit (a unit test checks). JavaScript, not WebAssembly, because it
 * must be V8's Math.tanh; the helpers are JavaScript threads too, so they share the rows.
 * heap: the kernel memory as float32; at, biasAt: element indices; ld: the rows' stride.
 * Kept as source text so the helpers (below) run exactly this code.
 */
const GELU_SOURCE = `function geluRows(heap, at, ld, cols, biasAt, rowStart, rowEnd) {
  const sqrt2OverPi = Math.sqrt(2 / Math.PI);
  for (let i = rowStart; i < rowEnd; i++) {
    const row = at + i * ld;
    for (let j = 0; j < cols; j++) {
      const x = biasAt >= 0 ? Math.fround(heap[row + j] + heap[biasAt + j]) : heap[row + j];
      heap[row + j] = 0.5 * x * (1 + Math.tanh(sqrt2OverPi * (x + 0.044715 * x * x * x)));
    }
  }
}`;

// the same source the helpers run
const geluRows = new Function(`${GELU_SOURCE}; return geluRows;`)() as (
  heap: Float32Array,
  at: number,
  ld: number,
  cols: number,
  biasAt: number,
  rowStart: number,
  rowEnd: number,
) => void;

/** Bytes of one thread's slot of the heads workspace (HEADS_SOURCE's layout, each part 16-aligned). */
function headSlotBytes(T: number, headDim: number): number {
  const ldS = Math.ceil(T / PANEL) * PANEL;
  const dPanels = Math.ceil(headDim / PANEL);
  return align16(4 * ldS * headDim) + align16(4 * T * ldS) + 2 * align16(4 * dPanels * PANEL * T);
}

/**
 * A helper thread: the same module on the same memory, waiting for jobs. Plain JavaScript run
 * with `eval`, so it works the same from dist/cli.js, dist/worker.js and the tests (no bundle
 * entry point or file path to find). A helper that wakes late finds the chunks taken and sleeps
 * again: the calling thread never waits for a helper that has not started a chunk.
 */
const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, helper } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const { gemm, softmax } = exports;
// panels p0 .. p1−1 of every row: B's panels are k·32 bytes apart, C's 32 bytes
const gemmPanels = (p, p0, p1) => gemm(p[0], p[1] + p0 * p[4] * 32, p[2] + p0 * 32, 0, p[3], p1 - p0, p[4], 0, 0, p[7], p[8]);
const control = new Int32Array(memory.buffer, 0, ${CONTROL_BYTES / 4});
const controlFloats = new Float32Array(memory.buffer, 0, ${CONTROL_BYTES / 4});
const job = ${JOB};
${TAKE_CHUNKS_SOURCE}
${HEADS_SOURCE}
${GELU_SOURCE}
let seen = workerData.generation;
Atomics.store(control, ${READY} + helper, 1);
for (;;) {
  Atomics.wait(control, ${GENERATION}, seen);
  const generation = Atomics.load(control, ${GENERATION});
  if (generation === seen) continue;
  seen = generation;
  if (helper >= Atomics.load(control, ${ACTIVE_HELPERS})) continue;
  // read before claiming a chunk; takeChunks claims only if the job is still this generation's
  const p = control.slice(job, job + ${JOB_SLOTS});
  const kind = control[${JOB_KIND}];
  const softmaxDivisor = controlFloats[job + 2], headsDivisor = controlFloats[job + 10];
  const run = kind === ${GEMM}
    ? (rowStart, rowEnd) => gemm(p[0], p[1], p[2], rowStart, rowEnd, p[3], p[4], p[5], p[6], p[7], p[8])
    : kind === ${GEMM_PANELS}
    ? (panelStart, panelEnd) => gemmPanels(p, panelStart, panelEnd)
    : kind === ${GELU}
    ? ((heap) => (rowStart, rowEnd) => geluRows(heap, p[0], p[1], p[2], p[3], rowStart, rowEnd))(new Float32Array(memory.buffer))
    : kind === ${SOFTMAX}
      ? (rowStart, rowEnd) => softmax(p[0], rowStart, rowEnd, p[1], softmaxDivisor, p[3])
      // slot 0 is the calling thread's
      : (headStart, headEnd) => runHeads(exports, headStart, headEnd, p, headsDivisor, helper + 1);
  Atomics.add(control, ${HELPER_CHUNKS}, takeChunks(control, generation, run));
}
`;

interface KernelState {
  module: WebAssembly.Module;
  exports: WebAssembly.Exports;
  memory: WebAssembly.Memory;
  gemm: Gemm;
  pack: Pack;
  softmax: Softmax;
  heap: Float32Array;
  control: Int32Array;
  controlFloats: Float32Array;
  helpers: Worker[];
  /**
   * Byte address where the workspace starts: below it, after the control block, live the packed
   * weights (packMatrix); the workspace holds nothing between calls, so it moves up when they grow.
   */
  workspaceAt: number;
  /** Holes left below workspaceAt by released packed weights, by address, none adjacent. */
  holes: { at: number; bytes: number }[];
}

let state: KernelState | undefined;
let threads = defaultThreads();
/** Products and softmaxes posted to the helper threads so far. */
let splitProducts = 0;

export function splitProductCount(): number {
  return splitProducts;
}

/** Chunks the helper threads have computed so far (tests check that the threaded path ran). */
export function helperChunkCount(): number {
  return state ? Atomics.load(state.control, HELPER_CHUNKS) : 0;
}

function defaultThreads(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(2, cores));
}

/** Threads the kernel uses for large products (the calling one included); 1 turns helpers off. */
let waitForHelper = false;

/**
 * For tests: with `on`, every split product or softmax waits until a helper thread has taken its
 * first chunk before the calling thread takes any, so both threads certainly compute part of it.
 * Results are the same either way (bit for bit); only who computes which rows changes.
 */
export function setWaitForHelper(on: boolean): void {
  waitForHelper = on;
}

export function setKernelThreads(count: number): void {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_HELPERS + 1) {
    throw new RangeError(`kernel threads must be a whole number from 1 to ${MAX_HELPERS + 1}, got ${count}`);
  }
  threads = count;
  if (state) startHelpers(state);
}

export function kernelThreads(): number {
  return threads;
}

/** Helper threads that have started and answer jobs (they start in the background). */
export function readyHelpers(): number {
  if (!state) return 0;
  let ready = 0;
  for (let h = 0; h < Math.min(state.helpers.length, threads - 1); h++) {
    if (Atomics.load(state.control, READY + h) === 1) ready++;
  }
  return ready;
}

/**
 * Starts the kernel and its helpers now and returns once the helpers answer (or after
 * `timeoutMs`), so a benchmark does not time their start-up. Products work without it.
 */
export function warmUpKernel(timeoutMs = 5000): number {
  const s = kernelState();
  const wanted = Math.min(s.helpers.length, threads - 1);
  const deadline = performance.now() + timeoutMs;
  while (readyHelpers() < wanted && performance.now() < deadline) {
    Atomics.wait(s.control, CONTROL_BYTES / 4 - 1, 0, 5); // a 5 ms sleep; nobody notifies this slot
  }
  return readyHelpers();
}

function kernelState(): KernelState {
  if (state) return state;
  const module = new WebAssembly.Module(Buffer.from(KERNELS_WASM_BASE64, 'base64'));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const buffer = memory.buffer as unknown as SharedArrayBuffer;
  state = {
    module,
    exports,
    memory,
    gemm: exports.gemm as Gemm,
    pack: exports.pack as Pack,
    softmax: exports.softmax as Softmax,
    heap: new Float32Array(buffer),
    control: new Int32Array(buffer, 0, CONTROL_BYTES / 4),
    controlFloats: new Float32Array(buffer, 0, CONTROL_BYTES / 4),
    helpers: [],
    workspaceAt: CONTROL_BYTES,
    holes: [],
  };
  startHelpers(state);
  return state;
}

function startHelpers(s: KernelState): void {
  while (s.helpers.length < threads - 1) {
    const helper = s.helpers.length;
    const worker = new Worker(HELPER_SOURCE, {
      eval: true,
      workerData: { module: s.module, memory: s.memory, helper, generation: Atomics.load(s.control, GENERATION) },
    });
    worker.unref(); // an idle helper must not keep the CLI or a test run alive
    s.helpers.push(worker);
  }
}

/** Makes the workspace at least `bytes` long. */
function reserve(s: KernelState, bytes: number): void {
  const have = s.memory.buffer.byteLength;
  if (bytes <= have) return;
  const pages = Math.ceil((bytes - have) / PAGE_BYTES);
  if (have / PAGE_BYTES + pages > MAX_PAGES) {
    throw new RangeError(`matmul workspace of ${(bytes / 2 ** 20).toFixed(0)} MiB exceeds the kernel's ${MAX_PAGES / 16} MiB`);
  }
  s.memory.grow(pages);
  s.heap = new Float32Array(s.memory.buffer as unknown as SharedArrayBuffer);
}

const align16 = (bytes: number) => Math.ceil(bytes / 16) * 16;

/**
 * out (n, m) = a (n, k) · b, with b (k, m) or, with bTransposed, b (m, k) and out = a·bᵀ.
 * `out` is overwritten (or, with lowerOutput, its lower triangle j <= i).
 */
export function matmulInto(out: Float32Array, a: Float32Array, b: Float32Array, n: number, m: number, k: number, options: MatmulOptions): void {
  if (a.length !== n * k || b.length !== m * k || out.length !== n * m) {
    throw new RangeError(`matmulInto: buffers of ${a.length}, ${b.length}, ${out.length} floats for (${n}, ${k})·(${k}, ${m})`);
  }
  if (n === 0 || m === 0) return;
  const lowerOutput = options.lowerOutput ?? false;
  const lowerInput = options.lowerInput ?? false;
  const s = kernelState();
  const panels = Math.ceil(m / PANEL);
  const ldc = panels * PANEL;
  // workspace: A (n, k) | B in panels (panels, k, 8) | C (n, ldc) | B as given (m·k), byte offsets
  const aAt = s.workspaceAt;
  const bAt = align16(aAt + 4 * n * k);
  const cAt = align16(bAt + 4 * ldc * k);
  const rawBAt = align16(cAt + 4 * n * ldc);
  reserve(s, rawBAt + 4 * m * k);
  const heap = s.heap;
  if (lowerInput) {
    // the kernel reads row i only up to the end of its 5-row block: the rest is zeros it skips,
    // and at T = 2048 the upper half of a weights map is pages never touched (not worth faulting in)
    for (let i = 0; i < n; i++) {
      const cols = Math.min(k, (Math.floor(i / ROW_BLOCK) + 1) * ROW_BLOCK);
      heap.set(a.subarray(i * k, i * k + cols), (aAt >> 2) + i * k);
    }
  } else {
    heap.set(a, aAt >> 2);
  }
  heap.set(b, rawBAt >> 2);
  s.pack(rawBAt, bAt, m, k, options.bTransposed ? 1 : 0, options.bTransposed ? k : m);

  runGemm(s, aAt, bAt, cAt, n, panels, k, lowerOutput, lowerInput, k, ldc);
  copyOut(s, out, cAt, n, m, ldc, lowerOutput);
}

/** C (n, ldc) at byte address cAt into out (n, m); with lowerOutput only j <= i. */
function copyOut(s: KernelState, out: Float32Array, cAt: number, n: number, m: number, ldc: number, lowerOutput: boolean): void {
  const heap = s.heap;
  const c = cAt >> 2;
  if (!lowerOutput && ldc === m) {
    out.set(heap.subarray(c, c + n * m));
  } else {
    for (let i = 0; i < n; i++) {
      const cols = lowerOutput ? Math.min(i + 1, m) : m;
      out.set(heap.subarray(c + i * ldc, c + i * ldc + cols), i * m);
    }
  }
}

/**
 * A weight (out, in) as nn.Linear holds it, packed once into the kernel's panel layout in the
 * kernel's memory (packMatrix), so that products with it (matmulPackedInto) neither copy nor
 * pack it: matmulInto copies and packs its B on every call, 124M floats per GPT-2 token.
 * A packing is a snapshot: the kernel never reads `source` again, so a weight changed after it
 * was packed (an optimizer step updates weights in place) is not seen. Whoever packs releases
 * (releasePacked) and packs again after a change; `source` lets a caller check that a packing
 * belongs to the weight it is about to multiply by.
 */
export interface PackedMatrix {
  /** The array it was packed from: (rows, cols) row-major. */
  readonly source: Float32Array;
  /** Output features m: the weight's rows. */
  readonly rows: number;
  /** Input features k: the weight's columns. */
  readonly cols: number;
  /** False once released: its memory may hold another weight. */
  readonly live: boolean;
}

class PackedWeight implements PackedMatrix {
  live = true;
  constructor(
    readonly source: Float32Array,
    readonly rows: number,
    readonly cols: number,
    /** Byte address of panel 0 in the kernel's memory, and the bytes reserved there. */
    readonly at: number,
    readonly bytes: number,
  ) {}
}

/** Packed weights start at multiples of a cache line. */
const align64 = (bytes: number) => Math.ceil(bytes / 64) * 64;
/** Rows of a weight copied into the workspace at a time while it is packed (a multiple of PANEL). */
const PACK_SLAB_FLOATS = 1 << 20;

/** Bytes for packed weights below the workspace: the first hole that fits, else the workspace moves up. */
function allocatePacked(s: KernelState, bytes: number): number {
  const index = s.holes.findIndex((hole) => hole.bytes >= bytes);
  const hole = s.holes[index];
  if (hole) {
    const at = hole.at;
    if (hole.bytes === bytes) s.holes.splice(index, 1);
    else s.holes[index] = { at: at + bytes, bytes: hole.bytes - bytes };
    return at;
  }
  const at = s.workspaceAt;
  reserve(s, at + bytes);
  s.workspaceAt = at + bytes;
  return at;
}

/** Returns a packed weight's bytes: merged with the holes beside it, or given back to the workspace. */
function freePacked(s: KernelState, at: number, bytes: number): void {
  const holes = s.holes;
  let index = holes.findIndex((hole) => hole.at > at);
  if (index < 0) index = holes.length;
  holes.splice(index, 0, { at, bytes });
  const next = holes[index + 1];
  if (next && at + bytes === next.at) holes.splice(index, 2, { at, bytes: bytes + next.bytes });
  const previous = holes[index - 1];
  const merged = holes[index]!;
  if (previous && previous.at + previous.bytes === merged.at) holes.splice(index - 1, 2, { at: previous.at, bytes: previous.bytes + merged.bytes });
  const last = holes[holes.length - 1];
  if (last && last.at + last.bytes === s.workspaceAt) {
    s.workspaceAt = last.at;
    holes.pop();
  }
}

/**
 * Packs `weight` (rows, cols), an nn.Linear weight (out, in), for out = a·weightᵀ products
 * (matmulPackedInto). Takes panels·8·cols floats of the kernel's memory until releasePacked:
 * 38.6M floats (154 MB) for GPT-2's output head.
 */
export function packMatrix(weight: Float32Array, rows: number, cols: number): PackedMatrix {
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || rows < 1 || cols < 1 || weight.length !== rows * cols) {
    throw new RangeError(`packMatrix: ${weight.length} floats for a (${rows}, ${cols}) weight`);
  }
  const s = kernelState();
  const panelBytes = PANEL * 4 * cols;
  const bytes = align64(Math.ceil(rows / PANEL) * panelBytes);
  const at = allocatePacked(s, bytes);
  // a slab of whole panels at a time through the workspace, not the whole weight
  const slabRows = Math.max(PANEL, Math.floor(PACK_SLAB_FLOATS / cols / PANEL) * PANEL);
  const rawAt = s.workspaceAt;
  try {
    reserve(s, rawAt + 4 * Math.min(rows, slabRows) * cols);
  } catch (err) {
    freePacked(s, at, bytes);
    throw err;
  }
  for (let first = 0; first < rows; first += slabRows) {
    const end = Math.min(rows, first + slabRows);
    s.heap.set(weight.subarray(first * cols, end * cols), rawAt >> 2);
    s.pack(rawAt, at + (first / PANEL) * panelBytes, end - first, cols, 1, cols);
  }
  return new PackedWeight(weight, rows, cols, at, bytes);
}

/** Gives a packed weight's memory back; using it afterwards throws. Releasing twice does nothing. */
export function releasePacked(packed: PackedMatrix): void {
  if (!(packed instanceof PackedWeight) || !packed.live || !state) return;
  packed.live = false;
  freePacked(state, packed.at, packed.bytes);
}

/**
 * out (n, rows) = a (n, cols) · Wᵀ for a packed W: bit-for-bit matmulInto(out, a, W, n, rows,
 * cols, { bTransposed: true }), without copying or packing W. Few rows (a decode step's one) are
 * shared between threads by column panels, many by rows, as matmulInto shares them.
 */
export function matmulPackedInto(out: Float32Array, a: Float32Array, n: number, packed: PackedMatrix): void {
  if (!(packed instanceof PackedWeight) || !packed.live) throw new Error('matmulPackedInto: the packed weight was released; pack it again');
  const { rows: m, cols: k } = packed;
  if (a.length !== n * k || out.length !== n * m) {
    throw new RangeError(`matmulPackedInto: buffers of ${a.length} and ${out.length} floats for (${n}, ${k})·(${k}, ${m})`);
  }
  if (n === 0) return;
  const s = kernelState();
  const panels = Math.ceil(m / PANEL);
  const ldc = panels * PANEL;
  // workspace: A (n, k) | C (n, ldc)
  const aAt = s.workspaceAt;
  const cAt = align16(aAt + 4 * n * k);
  reserve(s, cAt + 4 * n * ldc);
  s.heap.set(a, aAt >> 2);
  runGemm(s, aAt, packed.at, cAt, n, panels, k, false, false, k, ldc);
  copyOut(s, out, cAt, n, m, ldc, false);
}

/** A packed nn.Linear: its weight's packing and its bias (out), if any. */
export interface PackedProjection {
  packed: PackedMatrix;
  bias?: Float32Array;
}

/**
 * The feed-forward module at inference on packed weights, in the kernel's workspace:
 *   h = GELU(x·W_upᵀ + b_up) (T, hidden),   out = h·W_downᵀ + b_down (T, outDim).
 * The hidden layer never leaves the workspace (no (T, 4·dim) copy out and back in), and its bias
 * and GELU are shared between threads by rows (GELU_SOURCE). Bit for bit what linear, geluInto
 * and linear give (feedForward.ts).
 */
export function feedForwardPackedInto(out: Float32Array, x: Float32Array, T: number, up: PackedProjection, down: PackedProjection): void {
  const [upW, downW] = [up.packed, down.packed];
  if (!(upW instanceof PackedWeight) || !upW.live || !(downW instanceof PackedWeight) || !downW.live) {
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
  // workspace: x (T, dim) | h (T, ldH) | y (T, ldY) | b_up (hidden)
  const xAt = s.workspaceAt;
  const hAt = align16(xAt + 4 * T * dim);
  const yAt = align16(hAt + 4 * T * ldH);
  const biasAt = align16(yAt + 4 * T * ldY);
  reserve(s, biasAt + 4 * hidden);
  s.heap.set(x, xAt >> 2);
  if (up.bias) s.heap.set(up.bias, biasAt >> 2);
  runGemm(s, xAt, upW.at, hAt, T, hiddenPanels, dim, false, false, dim, ldH);
  const args = [hAt >> 2, ldH, hidden, up.bias ? biasAt >> 2 : -1];
  runRows(s, T, T >= 2 && T * hidden >= MIN_PARALLEL_ENTRIES, 1, GELU, args, (rowStart, rowEnd) =>
    geluRows(s.heap, args[0]!, ldH, hidden, args[3]!, rowStart, rowEnd),
  );
  runGemm(s, hAt, downW.at, yAt, T, outPanels, hidden, false, false, ldH, ldY);
  copyOut(s, out, yAt, T, outDim, ldY, false);
  const bias = down.bias;
  // float32 sum + float32 bias, rounded once, as `linear` adds it
  if (bias) for (let t = 0; t < T; t++) for (let o = 0; o < outDim; o++) out[t * outDim + o]! += bias[o]!;
}

/**
 * Rows 0..n−1 of the product, split across the calling thread and the ready helpers. Byte
 * addresses a, b, c; lda and ldc are A's and C's row strides in elements (kernels.wat).
 */
function runGemm(
  s: KernelState,
  a: number,
  b: number,
  c: number,
  n: number,
  panels: number,
  k: number,
  lowerOutput: boolean,
  lowerInput: boolean,
  lda: number,
  ldc: number,
): void {
  const lo = lowerOutput ? 1 : 0;
  const li = lowerInput ? 1 : 0;
  if (n < PANEL_SPLIT_ROWS && !lowerOutput && !lowerInput && panels * PANEL * k >= MIN_PANEL_SPLIT_FLOATS && panels >= 2) {
    // by panels: every thread computes all n rows of its columns, the same sums (each element's
    // sum is over t alone, in the same order, whichever panels a call is given)
    const panelBytes = PANEL * 4 * k;
    runRows(s, panels, true, 1, GEMM_PANELS, [a, b, c, n, k, 0, 0, lda, ldc], (panelStart, panelEnd) =>
      s.gemm(a, b + panelStart * panelBytes, c + panelStart * PANEL * 4, 0, n, panelEnd - panelStart, k, 0, 0, lda, ldc),
    );
    return;
  }
  const split = n * panels * PANEL * k >= MIN_PARALLEL_MACS && n >= 2 * ROW_BLOCK;
  runRows(s, n, split, ROW_BLOCK, GEMM, [a, b, c, panels, k, lo, li, lda, ldc], (rowStart, rowEnd) =>
    s.gemm(a, b, c, rowStart, rowEnd, panels, k, lo, li, lda, ldc),
  );
}

/**
 * Runs `run` over rows 0..n−1: alone when `split` is false or only one thread is wanted, otherwise
 * in chunks of a multiple of `block` rows that the calling thread and the helpers take in turn
 * (`args` tell the helpers what to run). Chunk borders fall on multiples of `block`, so the
 * kernel's row blocks, and every result, are the same whoever computes them.
 */
function runRows(
  s: KernelState,
  n: number,
  split: boolean,
  block: number,
  kind: number,
  args: readonly number[],
  run: (rowStart: number, rowEnd: number) => void,
): void {
  const helpers = Math.min(s.helpers.length, threads - 1);
  if (!split || helpers === 0) {
    run(0, n);
    return;
  }
  splitProducts++;
  const chunkRows = Math.max(block, Math.ceil(n / (CHUNKS_PER_THREAD * (helpers + 1)) / block) * block);
  const control = s.control;
  const generation = (Atomics.load(control, GENERATION) % 0x3fffffff) + 1;
  // Close the last job before its parameters change: a helper still reading them can claim
  // nothing (NEXT no longer carries that job's generation, nor any free chunk).
  Atomics.store(control, NEXT, ((generation & 0x7fff) << 16) | 0xffff);
  control[JOB_KIND] = kind;
  args.forEach((value, i) => (control[JOB + i] = value));
  control[ROWS] = n;
  control[CHUNK_ROWS] = chunkRows;
  control[CHUNKS] = Math.ceil(n / chunkRows);
  control[ACTIVE_HELPERS] = helpers;
  Atomics.store(control, FINISHED, 0);
  Atomics.store(control, NEXT, (generation & 0x7fff) << 16);
  Atomics.store(control, GENERATION, generation);
  Atomics.notify(control, GENERATION);

  if (waitForHelper) {
    // Tests only: take no chunk before a helper has claimed one, so a split is certain to be
    // shared on a busy machine (a descheduled helper only delays this, it cannot make it fail).
    for (let value = Atomics.load(control, NEXT); (value & 0xffff) === 0; value = Atomics.load(control, NEXT)) {
      Atomics.wait(control, NEXT, value, 50);
    }
  }
  takeChunks(control, generation, run);

  // wait for the chunks a helper took and is still computing
  const chunks = control[CHUNKS]!;
  for (let finished = Atomics.load(control, FINISHED); finished < chunks; finished = Atomics.load(control, FINISHED)) {
    Atomics.wait(control, FINISHED, finished, 1000);
  }
  if (Atomics.load(control, FAILED) === generation) throw new Error('a kernel helper thread failed');
}

/**
 * Row-wise softmax of scores / divisor into out, both (rows, cols); the numerics are specified
 * at softmaxRows in tensor.ts. With `causal`, row i covers columns 0..i and out's other entries
 * are left as they are.
 */
export function softmaxRowsInto(out: Float32Array, scores: Float32Array, rows: number, cols: number, divisor: number, causal: boolean): void {
  if (scores.length !== rows * cols || out.length !== rows * cols) {
    throw new RangeError(`softmaxRowsInto: buffers of ${scores.length} and ${out.length} floats for (${rows}, ${cols})`);
  }
  if (rows === 0 || cols === 0) return;
  const s = kernelState();
  // workspace: S (rows, cols) float32, computed in place
  const sAt = s.workspaceAt;
  reserve(s, sAt + 4 * rows * cols);
  const heap = s.heap;
  const at = sAt >> 2;
  const length = (i: number): number => (causal ? Math.min(i + 1, cols) : cols);
  if (causal) {
    for (let i = 0; i < rows; i++) heap.set(scores.subarray(i * cols, i * cols + length(i)), at + i * cols);
  } else {
    heap.set(scores, at);
  }
  const d = Math.fround(divisor);
  s.controlFloats[JOB + 2] = d; // the helpers read the divisor as float32 bits
  const args = [sAt, cols, s.control[JOB + 2]!, causal ? 1 : 0];
  runRows(s, rows, rows * cols >= MIN_PARALLEL_ENTRIES && rows >= 2, 1, SOFTMAX, args, (rowStart, rowEnd) =>
    s.softmax(sAt, rowStart, rowEnd, cols, d, causal ? 1 : 0),
  );
  if (causal) {
    for (let i = 0; i < rows; i++) out.set(heap.subarray(at + i * cols, at + i * cols + length(i)), i * cols);
  } else {
    out.set(heap.subarray(at, at + rows * cols));
  }
}


/** One projection's weight (out, in) as nn.Linear holds it, and its bias (out) if any. */
export interface ProjectionWeights {
  weight: Float32Array;
  bias?: Float32Array;
  /** `weight` packed (packMatrix): used instead of packing it again when it is live and of `weight`. */
  packed?: PackedMatrix;
}

/** The live packing of `weight`'s own array, if `packed` is one. */
function packingOf(packed: PackedMatrix | undefined, weight: Float32Array): PackedWeight | undefined {
  return packed instanceof PackedWeight && packed.live && packed.source === weight ? packed : undefined;
}

/**
 * Multi-head causal attention at inference (no dropout), for `multiHeadForward`, kept entirely in
 * the kernel's workspace: Q, K, V = x·W_qᵀ, x·W_kᵀ, x·W_vᵀ (T, attnDim); for head h, which owns
 * columns h·headDim .. (h+1)·headDim − 1,
 *   weights = softmax_row(Q_h·K_hᵀ / √headDim) over j <= i,   concat[:, head h] = weights · V_h;
 * out (T, attnDim) = concat·W_oᵀ + b_o. Only `out` leaves the workspace: no Q, K, V, concat or
 * (T, T) map is allocated or copied out, where the traced form (multiHeadAttention) allocates all
 * of them, two fresh (T, T) maps per head, and fresh pages cost about 1.5 ms per MB on these
 * machines. The heads are shared between threads a whole head at a time (HEADS_SOURCE), the
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
  const threadsUsed = 1 + Math.min(s.helpers.length, threads - 1);
  const slotBytes = headSlotBytes(T, headDim);
  // workspace (byte offsets): x (T, dim) | a weight as given | packed | Q | K | V (T, ldP) |
  // concat (T, ldCat) | out (T, ldP) | one slot per thread for the heads (HEADS_SOURCE)
  let end = s.workspaceAt;
  const place = (bytes: number): number => {
    const at = end;
    end = align16(end + bytes);
    return at;
  };
  const xAt = place(4 * T * dim);
  const rawWAt = place(4 * attnDim * widest);
  const packedWAt = place(4 * ldP * widest);
  const [qAt, kAt, vAt] = [place(4 * T * ldP), place(4 * T * ldP), place(4 * T * ldP)];
  const catAt = place(4 * T * ldCat);
  const outAt = place(4 * T * ldP);
  const slotsAt = place(slotBytes * threadsUsed);
  reserve(s, end);
  s.heap.set(inputs, xAt >> 2);

  // y (T, ldP) = a (T, k)·Wᵀ + b, a with row stride lda
  const project = (a: number, lda: number, k: number, projection: ProjectionWeights, y: number): void => {
    const packed = packingOf(projection.packed, projection.weight);
    if (!packed) {
      s.heap.set(projection.weight, rawWAt >> 2);
      s.pack(rawWAt, packedWAt, attnDim, k, 1, k);
    }
    runGemm(s, a, packed?.at ?? packedWAt, y, T, projectionPanels, k, false, false, lda, ldP);
    const bias = projection.bias;
    if (!bias) return;
    const heap = s.heap;
    // float32 sum + float32 bias, rounded once, as `linear` adds it
    for (let t = 0, row = y >> 2; t < T; t++, row += ldP) for (let o = 0; o < attnDim; o++) heap[row + o]! += bias[o]!;
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
  runRows(s, heads, split, 1, HEADS, args, (headStart, headEnd) => runHeads(s.exports, headStart, headEnd, args, d, 0));

  project(catAt, ldCat, attnDim, weights.outProj, outAt);
  const heap = s.heap;
  for (let t = 0; t < T; t++) out.set(heap.subarray((outAt >> 2) + t * ldP, (outAt >> 2) + t * ldP + attnDim), t * attnDim);
}
