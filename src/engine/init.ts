// PyTorch's default initialisation of the two modules that draw: nn.Embedding and nn.Linear, each
// drawing from the one generator in the order the modules are created. The model's seeded init
// (gpt/init.ts, as torch.manual_seed(seed); GPTModel(cfg)) and the book's chapter 3 example
// (examples.ts) are built from these.

import { TorchGenerator } from './rng';
import { createMatrix } from './tensor';
import type { Linear, Matrix } from './types';

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
