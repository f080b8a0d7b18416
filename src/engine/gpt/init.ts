// Seeded initial weights of the book's GPTModel, identical to `torch.manual_seed(seed);
// GPTModel(cfg)` (book section 4.6): PyTorch draws each module's parameters when the module is
// created, in the order __init__ creates them:
//   tok_emb = nn.Embedding(vocab, dim), pos_emb = nn.Embedding(context, dim)     normal(0, 1)
//   per block: att.W_query, W_key, W_value = nn.Linear(dim, dim, bias=qkv_bias)  kaiming-uniform
//              att.out_proj = nn.Linear(dim, dim)
//              ff.layers.0 = nn.Linear(dim, 4·dim), ff.layers.2 = nn.Linear(4·dim, dim)
//              norm1, norm2: scale ones, shift zeros (no draws); the causal mask is a buffer (none)
//   final_norm (no draws), out_head = nn.Linear(dim, vocab, bias=False)
// The dropout modules draw nothing at creation.

import { initEmbedding, initLinear } from '../init';
import { TorchGenerator } from '../rng';
import { validateGptConfig } from '../config';
import type { BlockWeights, GptConfig, GptModel, GptWeights, NormWeights } from './types';

/** scale = ones, shift = zeros: a LayerNorm as created. (dim) */
export function initNorm(dim: number): NormWeights {
  return { scale: new Float32Array(dim).fill(1), shift: new Float32Array(dim) };
}

export function initGptWeights(config: GptConfig, seed: number): GptWeights {
  validateGptConfig(config);
  const { vocabSize, contextLength, dim, layers, qkvBias } = config;
  const generator = new TorchGenerator(seed);
  const tokEmb = initEmbedding(generator, vocabSize, dim); // (vocab, dim)
  const posEmb = initEmbedding(generator, contextLength, dim); // (context, dim)
  const blocks: BlockWeights[] = [];
  for (let l = 0; l < layers; l++) {
    const att = {
      query: initLinear(generator, dim, dim, qkvBias), // (dim, dim)
      key: initLinear(generator, dim, dim, qkvBias),
      value: initLinear(generator, dim, dim, qkvBias),
      outProj: initLinear(generator, dim, dim, true),
    };
    const ff = {
      up: initLinear(generator, dim, 4 * dim, true), // (4·dim, dim)
      down: initLinear(generator, 4 * dim, dim, true), // (dim, 4·dim)
    };
    blocks.push({ att, ff, norm1: initNorm(dim), norm2: initNorm(dim) });
  }
  const finalNorm = initNorm(dim);
  const outHead = initLinear(generator, dim, vocabSize, false).weight; // (vocab, dim)
  return { tokEmb, posEmb, blocks, finalNorm, outHead };
}

/** A seeded, untrained model: the shapes are real, the numbers mean nothing yet. */
export function createSeededGpt(config: GptConfig, seed: number): GptModel {
  return { config: { ...config }, weights: initGptWeights(config, seed), source: `seeded ${seed} (untrained)` };
}
