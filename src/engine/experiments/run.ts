// One forward of the model on a text with what the experiments read from its hook points kept
// (TransformerLens's run_with_cache): the residual stream entering every block and leaving the
// last, every head's z, every attention map, attn_out and mlp_out. At T = 24 on GPT-2 small this
// is a few MB; the panel asks for it once per text and every experiment reads from it.

import { EngineError } from '../config';
import type { GptHooks } from '../gpt/hooks';
import type { GptModel } from '../gpt/types';
import { gptForward, type GptForwardOptions } from '../layers/gptModel';
import type { Matrix, Tokenizer } from '../types';

export interface RunCache {
  ids: readonly number[];
  /** residuals[l]: the stream entering block l (resid_pre[l]); residuals[layers]: leaving the last block. (T, dim) each */
  residuals: Matrix[];
  /** z[l] (T, dim), head h in columns h·headDim ..; with `keep.z`. */
  z: Matrix[];
  /** patterns[l][h] (T, T); with `keep.patterns`. */
  patterns: Matrix[][];
  /** attnOut[l], mlpOut[l] (T, dim); with `keep.outputs`. */
  attnOut: Matrix[];
  mlpOut: Matrix[];
  /** LN_f of the last block's output. (T, dim) */
  finalNorm: Matrix;
  /** (T, vocab): the model's next-token logits at every position (empty for logits 'none'). */
  logits: Matrix;
}

export interface KeepOptions {
  z?: boolean;
  patterns?: boolean;
  outputs?: boolean;
}

const copy = (m: Matrix): Matrix => ({ rows: m.rows, cols: m.cols, data: m.data.slice() });

/** The forward on `ids`, keeping the residual stream and what `keep` asks for. */
export function runWithCache(model: GptModel, ids: readonly number[], keep: KeepOptions = {}, options: Pick<GptForwardOptions, 'signal' | 'packed' | 'logits'> = {}): RunCache {
  const empty = { rows: 0, cols: 0, data: new Float32Array() };
  const cache: RunCache = { ids, residuals: [], z: [], patterns: [], attnOut: [], mlpOut: [], finalNorm: empty, logits: empty };
  const hooks: GptHooks = {
    residPre: (layer, x) => void (cache.residuals[layer] = x), // the forward never writes to a block's input
    ...(keep.z && { z: (layer: number, z: Matrix) => void (cache.z[layer] = copy(z)) }),
    ...(keep.patterns && { pattern: (layer: number, head: number, weights: Matrix) => void ((cache.patterns[layer] ??= [])[head] = weights) }),
    ...(keep.outputs && {
      attnOut: (layer: number, out: Matrix) => void (cache.attnOut[layer] = copy(out)), // the shortcut is added into it
      mlpOut: (layer: number, out: Matrix) => void (cache.mlpOut[layer] = copy(out)),
    }),
  };
  const forward = gptForward(model, ids, { ...options, keepResiduals: true, hooks });
  cache.residuals[model.config.layers] = forward.blocks.at(-1)?.output ?? forward.embeddings;
  cache.finalNorm = forward.finalNorm;
  if (forward.logits) cache.logits = forward.logits;
  return cache;
}

/** Throws an EngineError naming the layer and head (1-based, as the panel labels them) unless they exist. */
export function checkHead(model: GptModel, layer: number, head: number): void {
  const { layers, heads } = model.config;
  if (!(Number.isInteger(layer) && layer >= 0 && layer < layers)) {
    throw new EngineError(`layer ${layer + 1} does not exist: the model has layers 1 to ${layers}`);
  }
  if (!(Number.isInteger(head) && head >= 0 && head < heads)) {
    throw new EngineError(`head ${head + 1} does not exist: each layer has heads 1 to ${heads}`);
  }
}

/** Throws an EngineError unless `position` is a token of a T-token text (0-based). */
export function checkPosition(position: number, tokens: number): void {
  if (!(Number.isInteger(position) && position >= 0 && position < tokens)) {
    throw new EngineError(`position ${position} is outside the text's ${tokens} tokens; give 0 to ${tokens - 1}`);
  }
}

/** The id of a text that must be exactly one token of `tokenizer`; else an EngineError naming the pieces. */
export function oneTokenId(tokenizer: Tokenizer, text: string, what: string): number {
  const tokens = tokenizer.encode(text);
  if (tokens.length !== 1) {
    const pieces = tokens.length > 0 ? ` (${tokens.map((t) => JSON.stringify(t.text)).join(', ')})` : '';
    const example = tokens[0] ? `, e.g. ${JSON.stringify(tokens[0].text)}` : '';
    throw new EngineError(`${what} ${JSON.stringify(text)} is ${tokens.length} tokens${pieces} for the ${tokenizer.kind} tokenizer; give one token${example}`);
  }
  return tokens[0]!.id;
}
