// Times one full attention layer: the multi-head stage (Q/K/V projections, causal scores, mask,
// softmax, weights·V per head, output projection) followed by layer norm, on seeded random input
// and weights, with dropout off (p = 0, as at inference). It calls the engine's stage functions,
// so it times the kernels the panel and the CLI use, in one of two forms:
// - inference (the default, what onnxruntime and tfjs compute in `npm run bench`): multiHeadForward,
//   which keeps only the output;
// - traced (--traced): multiHeadAttention as the panel's trace runs it, keeping every head's
//   scores and weights, (T, T) each.

import { DEFAULT_CONFIG, EngineError, MAX_TRACE_BYTES, validateSettings } from './config';
import { kernelThreads, readyHelpers, setKernelThreads, warmUpKernel } from './kernels';
import { layerNorm, layerNormInto } from './layers/layerNorm';
import { multiHeadAttention, multiHeadForward } from './layers/multiHead';
import { TorchGenerator } from './rng';
import { createMatrix } from './tensor';
import type { BlockWeights, NormWeights } from './gpt/types';
import type { Linear, Matrix } from './types';

export interface BenchShape {
  /** Tokens T. */
  seq: number;
  /** Model width: the input's and the attention's. */
  dim: number;
  heads: number;
}

export interface BenchOptions extends BenchShape {
  /** Timed runs after the warm-up; the result is their median. */
  reps: number;
  /** Threads for the matrix products (1 = the calling thread only). */
  threads: number;
  /**
   * Untimed runs first (JIT tiers, helper threads, workspace growth): at least this many, and
   * more until WARMUP_MS have passed (a small layer needs dozens of runs before V8 optimises it).
   */
  warmup?: number;
  seed?: number;
  /** Time the traced form (every head's maps kept) instead of the inference form. */
  traced?: boolean;
}

export interface BenchLayer {
  input: Matrix; // (T, dim)
  mha: BlockWeights['att'];
  norm: NormWeights;
  heads: number;
}

export interface BenchResult {
  msPerLayer: number;
  gflops: number;
  threads: number;
  seq: number;
  dim: number;
  heads: number;
  headDim: number;
  reps: number;
  warmup: number;
  /** Every timed run, in order, ms. */
  samplesMs: number[];
  /** What gflops divides by msPerLayer: see layerFlops. */
  flopsPerLayer: number;
  /** 'inference' (output only) or 'traced' (every head's maps kept, as in the panel). */
  form: 'inference' | 'traced';
}

/**
 * Floating-point operations of one layer, counted as a dense implementation does them, so our
 * GFLOP/s compares with runtimes that compute the full (T, T) maps: a multiply-add is 2, and the
 * causal halves count as done although the kernel skips them.
 *   Q, K, V and output projections   4 · 2·T·dim·dim  (+ T·dim for the output bias)
 *   scores Q·Kᵀ, all heads            2·T·T·dim
 *   weights·V, all heads              2·T·T·dim
 * Softmax and layer norm (O(T·T·heads) and O(T·dim) of exp, add, divide) are not counted.
 */
export function layerFlops({ seq: T, dim }: BenchShape): number {
  return 8 * T * dim * dim + T * dim + 4 * T * T * dim;
}

/**
 * Bytes one bench layer holds at its peak: every head's scores and weights (T, T) are kept until
 * the layer returns, as in a trace (at p = 0 the dropped weights are the weights themselves);
 * about a dozen (T, dim) matrices; and the kernel's workspace for the largest product, a
 * (T, T)·(T, headDim) with V as given, packed, and the (T, headDim) result.
 */
export function benchLayerBytes({ seq: T, dim, heads }: BenchShape): number {
  return 4 * (2 * heads * T * T + 12 * T * dim + (T * T + 3 * T * (dim / heads + 8)));
}

/** Checks a shape with messages that say the fix; refuses a layer too large for memory up front. */
export function checkBenchShape(shape: BenchShape): void {
  const { seq, dim, heads } = shape;
  for (const [name, value] of [['seq', seq], ['dim', dim], ['heads', heads]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new EngineError(`--${name} must be a positive whole number, got ${value}`);
  }
  // The same check, and message, as every other configuration.
  validateSettings({ ...DEFAULT_CONFIG, dim, heads, dropout: 0 });
  const bytes = benchLayerBytes(shape);
  if (bytes > MAX_TRACE_BYTES) {
    let fits = 1; // the most tokens that fit, by bisection
    for (let high = seq; fits < high; ) {
      const middle = Math.ceil((fits + high) / 2);
      if (benchLayerBytes({ ...shape, seq: middle }) <= MAX_TRACE_BYTES) fits = middle;
      else high = middle - 1;
    }
    throw new EngineError(
      `a layer of ${seq} tokens with ${heads} heads needs about ${(bytes / 2 ** 30).toFixed(1)} GiB, above the ` +
        `${MAX_TRACE_BYTES / 2 ** 30} GiB allowed; use --seq ${fits} or less, or fewer --heads`,
    );
  }
}

/**
 * Seeded input and weights: x ~ N(0, 1); projections ~ N(0, 1/dim) so activations stay near unit
 * scale; an output bias and a layer-norm scale and shift that are not 1 and 0, so every
 * parameter shows in the output.
 */
export function makeBenchLayer(shape: BenchShape, seed = 7): BenchLayer {
  checkBenchShape(shape);
  const { seq, dim, heads } = shape;
  const generator = new TorchGenerator(seed);
  const normal = (count: number, std: number, mean = 0): Float32Array => {
    const values = generator.normal_(new Float32Array(count));
    for (let i = 0; i < count; i++) values[i] = mean + std * values[i]!;
    return values;
  };
  const matrix = (rows: number, cols: number, std: number): Matrix => ({ rows, cols, data: normal(rows * cols, std) });
  const projection = (bias: boolean): Linear => ({
    weight: matrix(dim, dim, 1 / Math.sqrt(dim)),
    ...(bias && { bias: normal(dim, 0.1) }),
  });
  const input = matrix(seq, dim, 1);
  const mha = { query: projection(false), key: projection(false), value: projection(false), outProj: projection(true) };
  const norm = { scale: normal(dim, 0.1, 1), shift: normal(dim, 0.1) };
  return { input, mha, norm, heads };
}

/**
 * One layer forward: multi-head causal attention then layer norm. (T, dim) -> (T, dim)
 * Both forms give the same output, bit for bit. The inference form writes into `into` when given
 * (the bench reuses one output, as onnxruntime's arena reuses its output memory: a fresh
 * output costs page faults on every layer).
 */
export function runBenchLayer(layer: BenchLayer, traced = false, into?: Matrix): Matrix {
  if (!traced) {
    const attended = multiHeadForward(layer.input, layer.mha, layer.heads, into);
    layerNormInto(attended.data, attended, layer.norm); // in place: the one (T, dim) allocated
    return attended;
  }
  // p = 0 draws no masks; the generator is never used
  const dropout = { p: 0, generator: new TorchGenerator(0) };
  const attended = multiHeadAttention(layer.input, layer.mha, layer.heads, dropout);
  // every head's maps, as a panel that shows them all reads them (they are computed on reading)
  for (const head of attended.heads) void head.droppedWeights;
  return layerNorm(attended.output, layer.norm).output;
}

/** Warm-up runs continue until this much time has passed (or 100 runs). */
export const WARMUP_MS = 500;

/** Median of the timed runs after the untimed warm-up runs. */
export function benchLayer(options: BenchOptions): BenchResult & { output: Matrix; layer: BenchLayer } {
  const { seq, dim, heads, reps } = options;
  const minWarmup = options.warmup ?? 2;
  const traced = options.traced ?? false;
  if (!Number.isSafeInteger(reps) || reps < 1) throw new EngineError(`--reps must be a positive whole number, got ${reps}`);
  const layer = makeBenchLayer({ seq, dim, heads }, options.seed);
  const previousThreads = kernelThreads();
  setKernelThreads(options.threads);
  try {
    warmUpKernel();
    // the inference form writes every run into this one output; the traced form allocates its own
    const reused = createMatrix(seq, dim);
    let output = reused;
    let warmup = 0;
    const warmupStarted = performance.now();
    while (warmup < minWarmup || (performance.now() - warmupStarted < WARMUP_MS && warmup < 100)) {
      output = runBenchLayer(layer, traced, reused);
      warmup++;
    }
    const samplesMs: number[] = [];
    for (let i = 0; i < reps; i++) {
      const started = performance.now();
      output = runBenchLayer(layer, traced, reused);
      samplesMs.push(performance.now() - started);
    }
    const msPerLayer = median(samplesMs);
    const flopsPerLayer = layerFlops({ seq, dim, heads });
    return {
      msPerLayer,
      gflops: flopsPerLayer / (msPerLayer * 1e6),
      threads: 1 + Math.min(readyHelpers(), options.threads - 1),
      seq,
      dim,
      heads,
      headDim: dim / heads,
      reps,
      warmup,
      samplesMs,
      flopsPerLayer,
      form: traced ? 'traced' : 'inference',
      output,
      layer,
    };
  } finally {
    setKernelThreads(previousThreads);
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
