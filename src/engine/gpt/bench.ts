// Times the whole GPT model at inference: the forward pass at given context lengths (logits of
// the last row only, as generation asks for them) and generation speed with the key/value cache
// after a prompt. A seeded model of the given configuration (GPT-2 small's sizes by default:
// GPT_CONFIG_124M); the numbers are the same kernels the panel, the CLI and generation use.
// The forward runs on weights packed once (packGptWeights), as onnxruntime packs a session's
// weights when it creates it; `unpackedMs` is the same forward packing every weight per product.

import { kernelThreads, warmUpKernel } from '../kernels';
import { gptForward, packGptWeights } from '../layers/gptModel';
import { GPT_CONFIG_124M } from './config';
import { generateTokens } from './generate';
import { createSeededGpt } from './init';
import type { GptConfig, GptModel } from './types';

export interface ModelBenchOptions {
  config?: GptConfig;
  /** Context lengths to time the forward at (default 128 and 1,024). */
  seqs?: readonly number[];
  /** Timed forwards per length after one untimed; the result is their median (default 3). */
  reps?: number;
  /** Prompt tokens before generation (default 128) and tokens generated (default 32). */
  promptTokens?: number;
  newTokens?: number;
  seed?: number;
  /** A model to time instead of a seeded one (e.g. a loaded checkpoint). */
  model?: GptModel;
  /** Keep each forward's last-row logits (for comparing with another runtime). */
  keepLogits?: boolean;
}

export interface ModelBenchResult {
  config: GptConfig;
  threads: number;
  /** ms: median forward on packed weights; unpackedMs: one forward packing weights per product. */
  forward: { seq: number; ms: number; samplesMs: number[]; unpackedMs: number; lastLogits?: Float32Array }[];
  /** Packing every weight once (packGptWeights). */
  packMs: number;
  /** firstTokenMs includes packing the weights and the prompt's prefill. */
  generation: { promptTokens: number; newTokens: number; firstTokenMs: number; msPerToken: number; tokensPerSecond: number; ids: number[] };
}

/** Token ids 0.. spread over the vocabulary (deterministic, no tokenizer needed). */
export const sampleIds = (count: number, vocabSize: number) => Array.from({ length: count }, (_, i) => (i * 7919 + 13) % vocabSize);

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export function benchModel(options: ModelBenchOptions = {}): ModelBenchResult {
  const model = options.model ?? createSeededGpt(options.config ?? GPT_CONFIG_124M, options.seed ?? 123);
  const { config } = model;
  warmUpKernel();
  const packStart = performance.now();
  const packed = packGptWeights(model);
  const packMs = performance.now() - packStart;
  let forward: ModelBenchResult['forward'];
  try {
    forward = (options.seqs ?? [128, 1024]).map((seq) => {
      const ids = sampleIds(Math.min(seq, config.contextLength), config.vocabSize);
      gptForward(model, ids, { logits: 'last', packed }); // untimed: JIT, workspace growth
      const samplesMs: number[] = [];
      let lastLogits: Float32Array | undefined;
      for (let r = 0; r < (options.reps ?? 3); r++) {
        const start = performance.now();
        lastLogits = gptForward(model, ids, { logits: 'last', packed }).logits!.data;
        samplesMs.push(performance.now() - start);
      }
      const unpackedStart = performance.now();
      gptForward(model, ids, { logits: 'last' });
      const unpackedMs = performance.now() - unpackedStart;
      return { seq: ids.length, ms: median(samplesMs), samplesMs, unpackedMs, ...(options.keepLogits && lastLogits && { lastLogits }) };
    });
  } finally {
    packed.release(); // generation packs its own
  }

  const promptTokens = Math.min(options.promptTokens ?? 128, config.contextLength - 1);
  const newTokens = Math.max(2, options.newTokens ?? 32);
  const start = performance.now();
  let firstAt = start;
  const ids: number[] = [];
  const tokens = generateTokens(model, sampleIds(promptTokens, config.vocabSize), { maxNewTokens: newTokens });
  for (let step = tokens.next(); !step.done; step = tokens.next()) {
    if (ids.length === 0) firstAt = performance.now(); // packing, the prompt's prefill and the first pick
    ids.push(step.value.id);
  }
  const count = ids.length;
  const msPerToken = (performance.now() - firstAt) / Math.max(1, count - 1);
  return {
    config,
    threads: kernelThreads(),
    forward,
    packMs,
    generation: { promptTokens, newTokens: count, firstTokenMs: firstAt - start, msPerToken, tokensPerSecond: 1000 / msPerToken, ids },
  };
}
