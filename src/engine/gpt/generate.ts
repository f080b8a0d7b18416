// Text generation (book section 4.7, generate_text_simple, and 5.3, generate with temperature and
// top-k): repeatedly run the model on the context, take the last position's logits, pick a token
// (gpt/sampling.ts) and append it. The context is cropped to the last contextLength tokens before
// every step, as the book's `idx[:, -context_size:]` does.
//
// Incremental decoding with a key/value cache: a block's keys and values of a position never
// change once computed (causal attention: position t sees only 0..t), so each new token needs one
// row through the model, attending to the cached keys and values, instead of the whole context.
// Per head, the new row's scores q·Kᵀ (1, t+1), its softmax and weights·V (1, headDim) are the
// same float32 sums in the same order as row t of the full causal product (kernels/products.ts sums each
// element over k in increasing order, whatever rows are computed with it), so the cached path
// gives the uncached path's logits bit for bit (a test checks). Once the context is full, the
// crop shifts every position, which invalidates the cache: from then on each step re-runs the
// last contextLength tokens, exactly the uncached step.
//
// Speed: a decode step is one row through every weight, so its cost is reading 124M floats
// (GPT-2 small) once; generation packs the weights for the kernel at its start (packGptWeights:
// no copy or repacking per step, and one-row products shared by both threads by columns) and
// releases them when it ends. The packing is a snapshot: weights changed during a generation are
// not seen by it.

import { CancelledError, EngineError, type CancelSignal } from '../config';
import { matmulInto, softmaxRowsInto } from '../kernels';
import { gptForward, packGptWeights, type PackedGpt } from '../layers/gptModel';
import { causalMultiHead, type BlockAttention } from '../layers/transformerBlock';
import { TorchGenerator } from '../rng';
import { createMatrix, linear } from '../tensor';
import type { Matrix } from '../types';
import { checkSamplingOptions, pickNextToken, type SamplingOptions } from './sampling';
import type { GptModel } from './types';

/**
 * Keys and values of every cached position, per layer, head-major: (heads, contextLength, headDim),
 * so head h's keys of positions 0..t−1 are one contiguous (t, headDim) block the kernel reads as is.
 */
export interface KvCache {
  keys: Float32Array[]; // per layer (heads · contextLength · headDim)
  values: Float32Array[];
  /** Positions 0 .. length−1 are filled. */
  length: number;
}

/** An empty cache for the model: layers · 2 · contextLength · dim floats (75 MB for GPT-2 small). */
export function createKvCache(model: GptModel): KvCache {
  const { layers, contextLength, dim } = model.config;
  const make = () => Array.from({ length: layers }, () => new Float32Array(contextLength * dim));
  return { keys: make(), values: make(), length: 0 };
}

/** Rows of `projected` (n, dim) into the cache at positions start .. start+n−1, split by head. */
function storeRows(cache: Float32Array, projected: Matrix, start: number, heads: number, contextLength: number): void {
  const dim = projected.cols;
  const headDim = dim / heads;
  for (let t = 0; t < projected.rows; t++) {
    for (let h = 0; h < heads; h++) {
      const from = t * dim + h * headDim;
      cache.set(projected.data.subarray(from, from + headDim), (h * contextLength + start + t) * headDim);
    }
  }
}

/**
 * Runs `ids` (the whole context) through the model from position 0, filling the cache with every
 * layer's keys and values. Returns the last position's logits (vocab).
 */
export function prefill(model: GptModel, cache: KvCache, ids: readonly number[], signal?: CancelSignal, packed?: PackedGpt): Float32Array {
  const { heads, contextLength, dim } = model.config;
  cache.length = 0;
  const keys = createMatrix(ids.length, dim); // (T, dim)
  const values = createMatrix(ids.length, dim);
  const attention = (layer: number): BlockAttention => (norm1, block, _heads, packedBlock) => {
    // the projections the attention computes inside its workspace, kept for later rows
    const output = causalMultiHead(norm1, block, heads, packedBlock, { keys: keys.data, values: values.data });
    storeRows(cache.keys[layer]!, keys, 0, heads, contextLength);
    storeRows(cache.values[layer]!, values, 0, heads, contextLength);
    return output;
  };
  const logits = gptForward(model, ids, { logits: 'last', attention, signal, ...(packed && { packed }) }).logits!;
  cache.length = ids.length;
  return logits.data;
}

/**
 * One new token at position cache.length: its row through every block, attending to the cached
 * keys and values (and its own, appended first). Returns its logits (vocab).
 */
export function decodeStep(model: GptModel, cache: KvCache, id: number, packed?: PackedGpt): Float32Array {
  const { heads, contextLength, dim } = model.config;
  const position = cache.length;
  if (position >= contextLength) throw new RangeError(`decodeStep: the cache holds all ${contextLength} positions`);
  const headDim = dim / heads;
  const count = position + 1; // positions the new row attends to
  const attnScores = new Float32Array(count); // (1, t+1)
  const attnWeights = new Float32Array(count);
  const contextVec = new Float32Array(headDim); // (1, headDim)
  const divisor = Math.sqrt(headDim);
  const attention = (layer: number): BlockAttention => (norm1, block, _heads, packedBlock) => {
    const queries = linear(norm1, block.att.query, packedBlock?.query); // (1, dim)
    const keys = cache.keys[layer]!;
    const values = cache.values[layer]!;
    storeRows(keys, linear(norm1, block.att.key, packedBlock?.key), position, heads, contextLength);
    storeRows(values, linear(norm1, block.att.value, packedBlock?.value), position, heads, contextLength);
    const concat = createMatrix(1, dim); // (1, dim): [z_0 | z_1 | …]
    for (let h = 0; h < heads; h++) {
      const headKeys = keys.subarray(h * contextLength * headDim, (h * contextLength + count) * headDim); // (t+1, headDim)
      const headValues = values.subarray(h * contextLength * headDim, (h * contextLength + count) * headDim);
      const query = queries.data.subarray(h * headDim, (h + 1) * headDim); // (1, headDim)
      matmulInto(attnScores, query, headKeys, 1, count, headDim, { bTransposed: true }); // q·Kᵀ (1, t+1)
      softmaxRowsInto(attnWeights, attnScores, 1, count, divisor, false); // nothing to mask: all positions <= t
      matmulInto(contextVec, attnWeights, headValues, 1, headDim, count, { bTransposed: false }); // (1, headDim)
      concat.data.set(contextVec, h * headDim);
    }
    return linear(concat, block.att.outProj, packedBlock?.outProj); // (1, dim)
  };
  const logits = gptForward(model, [id], { logits: 'last', startPosition: position, attention, ...(packed && { packed }) }).logits!;
  cache.length = count;
  return logits.data;
}

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to add (at least 1). */
  maxNewTokens: number;
  /** Seed of the sampler's TorchGenerator (default 123), as `torch.manual_seed(seed)` before the book's generate. */
  seed?: number;
  /** Stop before appending this id (the book's eos_id), e.g. 50256 (<|endoftext|>) for GPT-2. */
  eosId?: number;
  /** Use the key/value cache (default true); false re-runs the whole context every step, as the book does. */
  cache?: boolean;
  /** Checked before every step and between the blocks of a long prompt: once aborted, generation ends with reason 'cancelled'. */
  signal?: CancelSignal;
  /** Checked as signal is (for callers without one). */
  shouldStop?: () => boolean;
  /**
   * Pack the weights for the kernel for this generation (default true): about 4 bytes of kernel
   * memory per parameter while it runs (494 MB for GPT-2 small; the kernel's memory does not
   * shrink, the next packing reuses it), several times faster per token. The same tokens either way.
   */
  packWeights?: boolean;
}

export interface GeneratedToken {
  id: number;
  /** 0 for the first new token. */
  index: number;
}

export type GenerationEnd = { reason: 'length' | 'eos' | 'cancelled'; ids: number[] };

/** Throws an EngineError with the fix for options the generator cannot use. */
export function checkGenerateOptions(options: GenerateOptions): void {
  checkSamplingOptions(options);
  const { maxNewTokens, seed } = options;
  if (!(Number.isSafeInteger(maxNewTokens) && maxNewTokens >= 1)) {
    throw new EngineError(`max new tokens must be a whole number of at least 1, got ${String(maxNewTokens)}`);
  }
  if (seed !== undefined && !(Number.isSafeInteger(seed) && seed >= 0)) {
    throw new EngineError(`seed must be a whole number >= 0, got ${String(seed)}`);
  }
}

/**
 * Yields each new token as soon as it is picked (the editor inserts it); the return value says
 * why it ended and holds every generated id. Cancelling (signal or shouldStop) ends it quietly
 * between two tokens. Same model, prompt and options: the same tokens, with or without the cache.
 */
export function* generateTokens(model: GptModel, prompt: readonly number[], options: GenerateOptions): Generator<GeneratedToken, GenerationEnd, void> {
  checkGenerateOptions(options);
  if (prompt.length === 0) throw new EngineError('the prompt has no tokens; select some text to continue');
  const { contextLength } = model.config;
  const generator = new TorchGenerator(options.seed ?? 123);
  const useCache = options.cache ?? true;
  const cache = useCache ? createKvCache(model) : undefined;
  const tokens = [...prompt];
  const generated: number[] = [];
  const stopped = () => options.signal?.aborted === true || options.shouldStop?.() === true;
  // a whole context through the model (a long prompt) stops between blocks too
  const cancel: CancelSignal = { get aborted() { return stopped(); } };
  const cropped = () => tokens.slice(-contextLength); // idx[:, -context_size:]
  const packed = options.packWeights === false ? undefined : packOrNot(model);

  // the next token's logits (vocab), from the last token picked (undefined: the prompt)
  const step = (last: number | undefined): Float32Array => {
    if (!cache) return lastLogits(model, cropped(), cancel, packed);
    if (last !== undefined && cache.length < contextLength) return decodeStep(model, cache, last, packed);
    return prefill(model, cache, cropped(), cancel, packed); // the prompt, or the crop moved every position
  };
  try {
    let last: number | undefined;
    for (let index = 0; index < options.maxNewTokens; index++) {
      if (stopped()) return { reason: 'cancelled', ids: generated };
      let logits: Float32Array;
      try {
        logits = step(last);
      } catch (err) {
        if (err instanceof CancelledError) return { reason: 'cancelled', ids: generated };
        throw err;
      }
      const id = pickNextToken(logits, options, generator);
      if (id === options.eosId) return { reason: 'eos', ids: generated };
      tokens.push(id);
      generated.push(id);
      last = id;
      yield { id, index };
    }
    return { reason: 'length', ids: generated };
  } finally {
    // also when the caller stops iterating (return()): the packing's memory goes back at once
    packed?.release();
  }
}

/** The model's weights packed, or undefined (the unpacked path, same tokens) when the kernel's memory is too small for them. */
function packOrNot(model: GptModel): PackedGpt | undefined {
  try {
    return packGptWeights(model);
  } catch (err) {
    if (err instanceof RangeError) return undefined;
    throw err;
  }
}

function lastLogits(model: GptModel, ids: readonly number[], signal?: CancelSignal, packed?: PackedGpt): Float32Array {
  return gptForward(model, ids, { logits: 'last', signal, ...(packed && { packed }) }).logits!.data;
}

/**
 * generateTokens to its end, each token passed to `onToken` as it comes. The generation is closed
 * whatever happens: when onToken throws, generateTokens' finally still runs and frees the packed
 * weights (a generator left suspended would keep them: 494 MB for GPT-2 small).
 */
export function generateEach(model: GptModel, prompt: readonly number[], options: GenerateOptions, onToken: (token: GeneratedToken) => void): GenerationEnd {
  const tokens = generateTokens(model, prompt, options);
  try {
    for (let step = tokens.next(); ; step = tokens.next()) {
      if (step.done) return step.value;
      onToken(step.value);
    }
  } finally {
    tokens.return({ reason: 'cancelled', ids: [] });
  }
}

/** All of generateTokens at once: the new ids (without the prompt). */
export function generate(model: GptModel, prompt: readonly number[], options: GenerateOptions): number[] {
  return generateEach(model, prompt, options, () => {}).ids;
}

/**
 * generateTokens as an async iterator that lets the event loop run between tokens (a
 * setImmediate turn), so a worker receives a cancel message while it generates.
 */
export async function* streamTokens(model: GptModel, prompt: readonly number[], options: GenerateOptions): AsyncGenerator<GeneratedToken, GenerationEnd, void> {
  const tokens = generateTokens(model, prompt, options);
  try {
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const step = tokens.next();
      if (step.done) return step.value;
      yield step.value;
    }
  } finally {
    tokens.return({ reason: 'cancelled', ids: [] }); // runs generateTokens' finally if it has not ended
  }
}
