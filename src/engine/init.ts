// Seeded initial weights, identical to PyTorch creating the same modules in the same order after
// torch.manual_seed(seed):
//   tok_emb = nn.Embedding(vocabSize, dim); pos_emb = nn.Embedding(contextLength, dim)
//   self_attn.W_query / W_key / W_value = nn.Linear(dim, attnDim, bias=qkvBias)
//   mha.W_query / W_key / W_value = nn.Linear(dim, attnDim, bias=qkvBias)
//   mha.out_proj = nn.Linear(attnDim, attnDim)
//   norm.scale = ones(attnDim), norm.shift = zeros(attnDim)   (no random draws)

import { TorchGenerator } from './rng';
import { createMatrix } from './tensor';
import type { EngineConfig, Linear, Matrix, Weights } from './types';

/** nn.Embedding's default: every weight drawn from normal(0, 1). (count, dim) */
export function initEmbedding(generator: TorchGenerator, count: number, dim: number): Matrix {
  const table = createMatrix(count, dim);
  generator.normal_(table.data);
  return table;
}

/**
 * nn.Linear's default (reset_parameters): weight (out, in) by kaiming_uniform_(a = √5), i.e.
 * uniform(−bound, bound) with bound = √3 · √(2 / (1 + 5)) / √in, then bias (out) uniform(±1/√in).
 * Both bounds are computed in double with PyTorch's own formulas before rounding.
 */
export function initLinear(generator: TorchGenerator, inFeatures: number, outFeatures: number, bias: boolean): Linear {
  const weight = createMatrix(outFeatures, inFeatures);
  const weightBound = Math.sqrt(3) * (Math.sqrt(2 / (1 + 5)) / Math.sqrt(inFeatures));
  generator.uniform_(weight.data, -weightBound, weightBound);
  if (!bias) return { weight };
  const biasBound = 1 / Math.sqrt(inFeatures);
  return { weight, bias: generator.uniform_(new Float32Array(outFeatures), -biasBound, biasBound) };
}

/** Every weight of the model from config.seed, in the stage order above. */
export function initWeights(config: EngineConfig): Weights {
  const { vocabSize, dim, attnDim, contextLength, qkvBias } = config;
  const generator = new TorchGenerator(config.seed);
  const tokEmb = initEmbedding(generator, vocabSize, dim);
  const posEmb = initEmbedding(generator, contextLength, dim);
  const selfAttn = {
    query: initLinear(generator, dim, attnDim, qkvBias),
    key: initLinear(generator, dim, attnDim, qkvBias),
    value: initLinear(generator, dim, attnDim, qkvBias),
  };
  const mha = {
    query: initLinear(generator, dim, attnDim, qkvBias),
    key: initLinear(generator, dim, attnDim, qkvBias),
    value: initLinear(generator, dim, attnDim, qkvBias),
    outProj: initLinear(generator, attnDim, attnDim, true),
  };
  const norm = { scale: new Float32Array(attnDim).fill(1), shift: new Float32Array(attnDim) };
  return { tokEmb, posEmb, selfAttn, mha, norm };
}
