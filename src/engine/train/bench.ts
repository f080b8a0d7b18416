// Times one training step of the book's GPTModel (forward with activations, backward, AdamW) on a
// seeded model and a fixed random batch, as `llm101 bench --train` and bench/train.mjs report it.
// The step is the Trainer's (gptTrainingForward, gptBackward, AdamW.step), timed phase by phase.

import { initGptWeights } from '../gpt/init';
import type { GptConfig } from '../gpt/types';
import { KernelArena, kernelThreads, readyHelpers, setKernelThreads, warmUpKernel } from '../kernels';
import { median, WARMUP_MS } from '../bench';
import { TorchGenerator } from '../rng';
import { AdamW } from './adamw';
import { createGptActivations, gptBackward, gptTrainingForward, gptParameters, zeroGptWeights } from './model';

export interface TrainBenchOptions {
  vocab: number;
  dim: number;
  heads: number;
  layers: number;
  /** Tokens per window (the context length). */
  seq: number;
  batch: number;
  /** Timed steps after the warm-up; default 5. */
  steps?: number;
  /** Untimed steps first: at least this many (default 2), and more until WARMUP_MS have passed. */
  warmup?: number;
  /** Threads for the products (default: the kernel's current setting). */
  threads?: number;
  seed?: number;
  /** Dropout during the step; default 0 (nanoGPT's CPU configuration trains without). */
  dropout?: number;
}

export interface TrainBenchResult {
  /** Median over the timed steps. */
  msPerStep: number;
  tokensPerSecond: number;
  /** Medians of each phase. */
  forwardMs: number;
  backwardMs: number;
  optimizerMs: number;
  /** 6·(weights)·(tokens) + the attention products (12·L·B·T²·dim, causal halves as done), per second. */
  gflops: number;
  parameters: number;
  tokensPerStep: number;
  steps: number;
  warmup: number;
  threads: number;
  samplesMs: number[];
  /** The batch's loss at the first and the last step (it falls: the same batch every step). */
  firstLoss: number;
  lastLoss: number;
}

export function benchTrain(options: TrainBenchOptions): TrainBenchResult {
  const { vocab, dim, heads, layers, seq, batch } = options;
  const steps = options.steps ?? 5;
  if (!Number.isSafeInteger(steps) || steps < 1) throw new RangeError(`steps must be a whole number >= 1, got ${steps}`);
  if (options.threads !== undefined) setKernelThreads(options.threads);
  const threads = kernelThreads();
  warmUpKernel();
  if (readyHelpers() < threads - 1) throw new Error(`only ${readyHelpers()} of ${threads - 1} kernel helper threads started`);
  const config: GptConfig = { vocabSize: vocab, contextLength: seq, dim, heads, layers, qkvBias: false, layerNormEps: 1e-5 };
  const seed = options.seed ?? 123;
  const weights = initGptWeights(config, seed);
  const generator = new TorchGenerator(seed + 1);
  const N = batch * seq;
  const inputs = new Int32Array(N);
  const targets = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    inputs[i] = generator.nextUint32() % vocab;
    targets[i] = generator.nextUint32() % vocab;
  }
  const tokens = { B: batch, T: seq, inputs, targets };
  const dropout = options.dropout ?? 0;
  const acts = createGptActivations(config, batch, seq, dropout > 0);
  const gradients = new KernelArena(); // as the Trainer keeps them
  const grads = zeroGptWeights(config, (count) => gradients.floats(count));
  const params = gptParameters(weights);
  const gradList = gptParameters(grads).map((p) => p.data);
  const optimizer = new AdamW(params, { lr: 1e-4, weightDecay: 0.1 });

  const step = (): { forward: number; backward: number; optimizer: number; loss: number } => {
    const t0 = performance.now();
    const loss = gptTrainingForward(weights, config, acts, tokens, { dropout, generator });
    const t1 = performance.now();
    gptBackward(weights, config, acts, grads);
    const t2 = performance.now();
    optimizer.step(gradList);
    const t3 = performance.now();
    return { forward: t1 - t0, backward: t2 - t1, optimizer: t3 - t2, loss };
  };

  const warmupMin = options.warmup ?? 2;
  const warmStart = performance.now();
  let warmup = 0;
  let firstLoss = NaN;
  while (warmup < warmupMin || performance.now() - warmStart < WARMUP_MS) {
    const { loss } = step();
    if (warmup === 0) firstLoss = loss;
    warmup++;
  }
  const samples: ReturnType<typeof step>[] = [];
  for (let i = 0; i < steps; i++) samples.push(step());
  const totals = samples.map((s) => s.forward + s.backward + s.optimizer);
  const msPerStep = median(totals);
  const parameters = params.reduce((sum, p) => sum + p.data.length, 0);
  const flops = 6 * parameters * N + 12 * layers * batch * seq * seq * dim;
  return {
    msPerStep,
    tokensPerSecond: (N * 1000) / msPerStep,
    forwardMs: median(samples.map((s) => s.forward)),
    backwardMs: median(samples.map((s) => s.backward)),
    optimizerMs: median(samples.map((s) => s.optimizer)),
    gflops: flops / (msPerStep * 1e6),
    parameters,
    tokensPerStep: N,
    steps,
    warmup,
    threads,
    samplesMs: totals,
    firstLoss,
    lastLoss: samples[samples.length - 1]!.loss,
  };
}
