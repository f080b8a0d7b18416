// Checks of a GPT configuration, and the book's configurations (chapter 4, GPT_CONFIG_124M).
// Every message names the fix.

import { divisors, EngineError } from '../config';
import type { GptConfig, GptModel } from './types';

/** The book's GPT_CONFIG_124M (section 4.1) with qkv_bias False, as its section 4.7 runs it. */
export const GPT_CONFIG_124M: Readonly<GptConfig> = Object.freeze({
  vocabSize: 50257,
  contextLength: 1024,
  dim: 768,
  heads: 12,
  layers: 12,
  qkvBias: false,
  layerNormEps: 1e-5,
});

/** At most this many float32 weights in a model (2 GiB): GPT-2 medium (355M) fits, large does not. */
export const MAX_GPT_WEIGHTS = 2 ** 29;

/** Weights of a model of this configuration (GPT_CONFIG_124M: 163,009,536 with its own out_head). */
export function gptWeightCount(config: GptConfig): number {
  const { vocabSize, contextLength, dim, layers, qkvBias } = config;
  const attention = 3 * dim * dim + (qkvBias ? 3 * dim : 0) + dim * dim + dim;
  const feedForward = 2 * 4 * dim * dim + 4 * dim + dim;
  const norms = 2 * 2 * dim;
  return (2 * vocabSize + contextLength) * dim + layers * (attention + feedForward + norms) + 2 * dim;
}

/** A model's parameters, counting a tied out_head (GPT-2 as published: tok_emb itself) once. */
export function gptParameterCount(model: GptModel): number {
  const { config, weights } = model;
  return gptWeightCount(config) - (weights.outHead === weights.tokEmb ? config.vocabSize * config.dim : 0);
}

/**
 * Throws an EngineError naming the first field that cannot work. `headsSource` says where heads
 * came from, so the message points at the setting to change.
 */
export function validateGptConfig(config: GptConfig, headsSource = 'the setting llm101.heads (--heads)'): void {
  for (const field of ['vocabSize', 'contextLength', 'dim', 'heads', 'layers'] as const) {
    const value: unknown = config[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new EngineError(`${field} must be a positive whole number, got ${String(value)}`);
    }
  }
  if (config.dim % config.heads !== 0) {
    throw new EngineError(
      `heads (${config.heads}) must divide dim (${config.dim}); set ${headsSource} to one of ${divisors(config.dim).join(', ')}`,
    );
  }
  if (typeof config.qkvBias !== 'boolean') throw new EngineError(`qkvBias must be true or false, got ${String(config.qkvBias)}`);
  const eps: unknown = config.layerNormEps;
  if (typeof eps !== 'number' || !(eps > 0 && eps < 1)) {
    throw new EngineError(`layerNormEps must be a small positive number such as 1e-5, got ${String(eps)}`);
  }
  const count = gptWeightCount(config);
  if (count > MAX_GPT_WEIGHTS) {
    throw new EngineError(
      `the model would have ${count.toLocaleString('en-US')} weights, above the ${MAX_GPT_WEIGHTS.toLocaleString('en-US')} ` +
        'this playground allows; use fewer layers, a smaller dim or a shorter context',
    );
  }
}

/**
 * Throws an EngineError naming both vocabulary sizes unless the tokenizer's vocabulary is the
 * model's (its ids index tok_emb and out_head).
 */
export function checkTokenizerFits(config: GptConfig, tokenizer: { kind: string; vocabSize: number }): void {
  if (tokenizer.vocabSize === config.vocabSize) return;
  const fix = config.vocabSize === 50257 ? 'use the gpt2 tokenizer' : 'use the tokenizer the model was trained with';
  throw new EngineError(
    `the ${tokenizer.kind} tokenizer has a vocabulary of ${tokenizer.vocabSize} but the model's is ${config.vocabSize}; ${fix} (setting llm101.tokenizer, --tokenizer)`,
  );
}
