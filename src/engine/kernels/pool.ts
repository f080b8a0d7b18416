// The kernel's state and its thread pool: one WebAssembly instance on a shared memory (a
// SharedArrayBuffer) in the calling thread, and helper threads (helper.ts, bundled as
// dist/kernelHelper.js) running the same module on the same memory.
//
// Large products and softmaxes are cut into row chunks that the calling thread and the helpers
// take in turn (runRows): the caller wakes the helpers with Atomics.notify, computes chunks
// itself, and waits with Atomics.wait only for chunks a helper is still computing, so the engine
// stays synchronous and a helper descheduled on a busy machine holds nothing up. Chunks start at
// multiples of the kernel's row block and each element's sum has the same terms in the same order
// whoever computes it: one thread or many give bit-for-bit the same result.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  ACTIVE_HELPERS,
  CHUNK_ROWS,
  CHUNKS,
  CONTROL_BYTES,
  EPOCH,
  FAILED,
  FINISHED,
  GENERATION,
  HELPER_CHUNKS,
  JOB,
  JOB_KIND,
  MAX_HELPERS,
  NEXT,
  READY,
  ROWS,
  SLEEP_SLOT,
  instantiate,
  takeChunks,
  type HelperData,
  type JobKind,
  type KernelExports,
} from './protocol';
import { KERNELS_RELAXED_WASM_BASE64, KERNELS_WASM_BASE64 } from './wasm';

/**
 * 'relaxed': the products' tiles fuse each multiply-add (relaxed SIMD's f32x4.relaxed_madd, FMA
 * on today's CPUs), about one and a half times as fast; 'plain': a multiply, then an add, each
 * rounded (kernels.wat). Both sum in the same order on any number of threads.
 */
export type KernelVariant = 'relaxed' | 'plain';
const RELAXED_BYTES = Buffer.from(KERNELS_RELAXED_WASM_BASE64, 'base64');
const modules = new Map<KernelVariant, WebAssembly.Module>();
/** Undefined: relaxed where the runtime has it. */
let chosenVariant: KernelVariant | undefined;

/** Whether this runtime runs relaxed SIMD: Electron and Node 22 do; Node 20 with --experimental-wasm-relaxed-simd. */
export function relaxedSimdAvailable(): boolean {
  return WebAssembly.validate(RELAXED_BYTES);
}

/** The variant the kernel runs (or will run once started). */
export function kernelVariant(): KernelVariant {
  return chosenVariant ?? (relaxedSimdAvailable() ? 'relaxed' : 'plain');
}

/**
 * Runs the kernel on `variant` from the next call on (undefined: the best this runtime has); the
 * helpers are restarted on it, packed weights and the workspace stay where they are.
 */
export function setKernelVariant(variant: KernelVariant | undefined): void {
  if (variant === 'relaxed' && !relaxedSimdAvailable()) {
    throw new Error('relaxed SIMD is not available in this runtime (Node 20 needs --experimental-wasm-relaxed-simd)');
  }
  const before = kernelVariant();
  chosenVariant = variant;
  const s = state;
  if (!s || kernelVariant() === before) return;
  s.module = moduleFor(kernelVariant());
  s.kernel = instantiate(s.module, s.memory);
  restartHelpers(s, s.helpers);
}

function moduleFor(variant: KernelVariant): WebAssembly.Module {
  let module = modules.get(variant);
  if (!module) {
    module = new WebAssembly.Module(variant === 'relaxed' ? RELAXED_BYTES : Buffer.from(KERNELS_WASM_BASE64, 'base64'));
    modules.set(variant, module);
  }
  return module;
}

/** A job is cut into about this many chunks per thread, taken in turn by whichever thread is free. */
const CHUNKS_PER_THREAD = 8;
/** The helper thread's bundle, beside the engine's bundles in dist/ (esbuild.mjs builds it). */
const HELPER_BUNDLE = 'kernelHelper.js';
/** Threads a kernel may use, the calling one included: 16 (the control block has room for 15 helpers). */
export const MAX_THREADS = MAX_HELPERS + 1;

export interface KernelState {
  module: WebAssembly.Module;
  kernel: KernelExports;
  memory: WebAssembly.Memory;
  heap: Float32Array;
  control: Int32Array;
  controlFloats: Float32Array;
  helpers: Worker[];
  /**
   * Byte address where the workspace starts: below it, after the control block, live the packed
   * weights (heap.ts); the workspace holds nothing between calls, so it moves up when they grow.
   */
  workspaceAt: number;
  /** Holes left below workspaceAt by released packed weights, by address, none adjacent. */
  holes: { at: number; bytes: number }[];
  /**
   * Every buffer object this memory has been seen through (one per growth): an array on one of
   * them lives in the kernel's memory, at its byteOffset (heap.ts's kernelAddress).
   */
  buffers: WeakSet<ArrayBufferLike>;
  /** Bytes held by live KernelArenas (heap.ts): while any, the workspace is not released. */
  arenaBytes: number;
}

let state: KernelState | undefined;
/** Threads the kernel uses for large products (the calling one included); 1 turns helpers off. */
let threads = defaultThreads();
/** Products and softmaxes posted to the helper threads so far. */
let splitProducts = 0;
let waitForHelper = false;

export function splitProductCount(): number {
  return splitProducts;
}

/** Chunks the helper threads have computed so far (tests check that the threaded path ran). */
export function helperChunkCount(): number {
  return state ? Atomics.load(state.control, HELPER_CHUNKS) : 0;
}

/** The cores this process may run on (os.availableParallelism where Node has it). */
export function availableCores(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/**
 * The threads a `threads` setting or flag asks for: 0 means every core (at most MAX_THREADS),
 * 1 to MAX_THREADS that many, even beyond the cores (results are the same for any count).
 */
export function threadsFor(setting: number): number {
  if (!Number.isSafeInteger(setting) || setting < 0 || setting > MAX_THREADS) {
    throw new RangeError(`threads must be 0 (every core) or a whole number from 1 to ${MAX_THREADS}, got ${setting}`);
  }
  return setting === 0 ? Math.min(MAX_THREADS, availableCores()) : setting;
}

/**
 * Every core, or what the LLM101_THREADS environment variable asks for: the extension host sets
 * it from the `threads` setting when it starts the engine process, whose threads inherit it.
 */
function defaultThreads(): number {
  const raw = process.env.LLM101_THREADS;
  const setting = raw === undefined || raw.trim() === '' ? 0 : Number(raw);
  try {
    return threadsFor(setting);
  } catch {
    return threadsFor(0); // the host validates the setting; a hand-set variable out of range means every core
  }
}

/**
 * For tests: with `on`, every split product or softmax waits until a helper thread has taken its
 * first chunk before the calling thread takes any, so both threads certainly compute part of it.
 * Results are the same either way (bit for bit); only who computes which rows changes.
 */
export function setWaitForHelper(on: boolean): void {
  waitForHelper = on;
}

export function setKernelThreads(count: number): void {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_THREADS) {
    throw new RangeError(`kernel threads must be a whole number from 1 to ${MAX_THREADS}, got ${count}`);
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

/** Helpers that take part in the next job (started or not). */
export function activeHelpers(s: KernelState): number {
  return Math.min(s.helpers.length, threads - 1);
}

/**
 * Starts the kernel and its helpers now and returns once the helpers answer (or after
 * `timeoutMs`: starting a thread takes seconds on a machine loaded many times over), so a
 * benchmark does not time their start-up. Products work without it.
 */
export function warmUpKernel(timeoutMs = 60_000): number {
  const s = kernelState();
  const wanted = activeHelpers(s);
  const deadline = performance.now() + timeoutMs;
  while (readyHelpers() < wanted && performance.now() < deadline) {
    Atomics.wait(s.control, SLEEP_SLOT, 0, 5); // a 5 ms sleep
  }
  return readyHelpers();
}

/** The kernel's state, created (with its helpers) on first use; every call restarts the idle clock. */
export function kernelState(): KernelState {
  if (state) {
    idleTimer?.refresh();
    return state;
  }
  state = stateOn(moduleFor(kernelVariant()), new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true }), CONTROL_BYTES, []);
  startHelpers(state);
  armIdleRelease();
  return state;
}

function stateOn(module: WebAssembly.Module, memory: WebAssembly.Memory, workspaceAt: number, holes: KernelState['holes']): KernelState {
  const buffer = memory.buffer as unknown as SharedArrayBuffer;
  const buffers = new WeakSet<ArrayBufferLike>([buffer]);
  return {
    module,
    kernel: instantiate(module, memory),
    memory,
    heap: new Float32Array(buffer),
    control: new Int32Array(buffer, 0, CONTROL_BYTES / 4),
    controlFloats: new Float32Array(buffer, 0, CONTROL_BYTES / 4),
    helpers: [],
    workspaceAt,
    holes,
    buffers,
    arenaBytes: 0,
  };
}

/**
 * The workspace grows to the largest call so far (a 2,048-token analysis takes hundreds of MB)
 * and WebAssembly memory cannot shrink: once the kernel has been idle this long with more than
 * IDLE_KEEP_BYTES of workspace, releaseWorkspace moves what must stay into a new memory.
 */
const IDLE_RELEASE_MS = 2000;
const IDLE_KEEP_BYTES = 64 * 2 ** 20;
let idleTimer: NodeJS.Timeout | undefined;

function armIdleRelease(): void {
  idleTimer = setTimeout(() => releaseWorkspace(IDLE_KEEP_BYTES), IDLE_RELEASE_MS);
  idleTimer.unref(); // never keeps the CLI or a test run alive
}

/** Bytes of the kernel's memory now: the control block, packed weights and the workspace. */
export function kernelMemoryBytes(): number {
  return state ? state.memory.buffer.byteLength : 0;
}

/**
 * Gives the workspace back when more than `keepBytes` of it is held: the control block and the
 * packed weights (their addresses unchanged, so every PackedMatrix stays valid) are copied into a
 * new, smaller memory and the helpers restarted on it; the old memory is freed once the old
 * helpers have exited and it is collected. Safe between calls only (the kernel is synchronous,
 * so a timer never runs during one). Returns the bytes given back.
 */
export function releaseWorkspace(keepBytes = 0): number {
  const s = state;
  if (!s) return 0;
  if (s.arenaBytes > 0) {
    // a KernelArena's arrays are views of this memory: moving it would leave them behind. A
    // collection lets the arenas nobody holds any longer free themselves (heap.ts), which
    // re-arms this release.
    (globalThis as { gc?: () => void }).gc?.();
    return 0;
  }
  const have = s.memory.buffer.byteLength;
  const keep = s.workspaceAt;
  const pages = Math.max(1, Math.ceil(keep / PAGE_BYTES));
  if (have - pages * PAGE_BYTES <= keepBytes) return 0;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
  new Uint8Array(memory.buffer).set(new Uint8Array(s.memory.buffer, 0, keep));
  const next = stateOn(s.module, memory, s.workspaceAt, s.holes);
  state = next;
  restartHelpers(next, s.helpers);
  return have - memory.buffer.byteLength;
}

/**
 * Ends `old` helpers and starts new ones for `s` (a new memory, or a new module on the same
 * memory: the old helpers' epoch no longer matches, so none of them takes another job). The old
 * memory is freed when no thread holds it: after its helpers exit, at the next full collection,
 * which an idle thread may not run for a long time. The engine process runs with --expose-gc
 * (src/host/engineClient.ts), so it collects then; elsewhere that is left to V8.
 */
function restartHelpers(s: KernelState, old: Worker[]): void {
  Atomics.add(s.control, EPOCH, 1);
  for (let h = 0; h <= MAX_HELPERS; h++) Atomics.store(s.control, READY + h, 0); // the new helpers say when they start
  const collect = (globalThis as { gc?: () => void }).gc;
  void Promise.all(old.map((worker) => worker.terminate())).then(() => collect?.());
  s.helpers = [];
  startHelpers(s);
}

/**
 * 2 GiB of shared memory at most (addresses stay below 2³¹, so `>> 2` is safe): GPT-2 small's
 * packed weights (494 MB) beside a T = 1,024 forward's workspace. kernels.wat's memory import
 * declares the same maximum.
 */
export const MAX_PAGES = 32768;
export const PAGE_BYTES = 65536;

let helperPath: string | undefined;

/**
 * dist/kernelHelper.js: beside the running bundle (the extension, the engine process, the CLI),
 * or, run from source (the unit tests, the benches), in dist/ of the checkout.
 */
function helperScript(): string {
  if (helperPath) return helperPath;
  const candidates = [path.join(__dirname, HELPER_BUNDLE)];
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) {
      candidates.push(path.join(dir, 'dist', HELPER_BUNDLE));
      break;
    }
  }
  helperPath = candidates.find((file) => fs.existsSync(file));
  if (!helperPath) throw new Error(`the kernel's helper thread ${HELPER_BUNDLE} is not built (looked in ${candidates.join(', ')}): run \`node esbuild.mjs\``);
  return helperPath;
}

function startHelpers(s: KernelState): void {
  while (s.helpers.length < threads - 1) {
    const workerData: HelperData = {
      module: s.module,
      memory: s.memory,
      helper: s.helpers.length,
      generation: Atomics.load(s.control, GENERATION),
      epoch: Atomics.load(s.control, EPOCH),
    };
    const worker = new Worker(helperScript(), { workerData });
    worker.unref(); // an idle helper must not keep the CLI or a test run alive
    s.helpers.push(worker);
  }
}

/**
 * Runs `run` over rows 0..n−1: alone when `split` is false or only one thread is wanted, otherwise
 * in chunks of a multiple of `block` rows that the calling thread and the helpers take in turn
 * (`kind` and `args` tell the helpers what to run; protocol.ts). Chunk borders fall on multiples
 * of `block`, so the kernel's row blocks, and every result, are the same whoever computes them.
 */
export function runRows(
  s: KernelState,
  n: number,
  split: boolean,
  block: number,
  kind: JobKind,
  args: readonly number[],
  run: (rowStart: number, rowEnd: number) => void,
): void {
  const helpers = activeHelpers(s);
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
