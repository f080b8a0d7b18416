// The book's configuration (chapter 4, GPT_CONFIG_124M), a model's parameter count, and whether a
// tokenizer fits a model. The one check of a configuration is validateGptConfig (../config.ts).

import { EngineError, gptWeightCount } from '../config';
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

/** A model's parameters, counting a tied out_head (GPT-2 as published: tok_emb itself) once. */
export function gptParameterCount(model: GptModel): number {
  const { config, weights } = model;
  return gptWeightCount(config) - (weights.outHead === weights.tokEmb ? config.vocabSize * config.dim : 0);
}

/**
 * Throws an EngineError naming both vocabulary sizes unless the tokenizer's vocabulary is the
 * model's (its ids index tok_emb and out_head).
 */
export function checkTokenizerFits(config: GptConfig, tokenizer: { kind: string; vocabSize: number }): void {
  if (tokenizer.vocabSize === config.vocabSize) return;
  const fix = config.vocabSize === 50257 ? 'use the gpt2 tokenizer' : 'use the tokenizer the model was trained with';
  throw new EngineError(
    `the ${tokenizer.kind} tokenizer has a vocabulary of ${tokenizer.vocabSize} but the model's is ${config.vocabSize}; ${fix}`,
    { setting: 'tokenizer' },
  );
}
