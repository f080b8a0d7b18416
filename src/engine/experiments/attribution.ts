// Direct logit attribution: how much each part of the model writes the logit of one token at one
// position straight into the residual stream. The stream leaving the last block is a sum,
//   x_L = embed + Σ_l (Σ_h z_{l,h}·W_{O,l,h}ᵀ + b_{O,l} + mlp_out_l)
// (W_{O,l,h}: the output projection's columns of head h), and with the final norm's scale frozen
// at this position (σ = √(var(x_L) + ε), its centring linear) the logit splits along it:
//   logit = Σ_parts ũ · part + W_out[tok] · shift,   ũ = u − mean(u),  u = W_out[tok] ⊙ scale / σ
// so the parts sum to the logit (up to float rounding).

import { EngineError } from '../config';
import type { GptModel } from '../gpt/types';
import type { Matrix } from '../types';
import { checkPosition, type RunCache } from './run';

export interface Attribution {
  position: number;
  id: number;
  logit: number;
  embed: number;
  /** [L][H]: each head through its columns of the output projection. */
  heads: number[][];
  /** [L]: each attention output projection's bias. */
  attnBias: number[];
  /** [L]: each feed-forward's output. */
  mlps: number[];
  finalNormBias: number;
}

/** ũ · row t of m (dim). */
function dotRow(direction: Float64Array, m: Matrix, t: number): number {
  let sum = 0;
  for (let i = 0; i < direction.length; i++) sum += direction[i]! * m.data[t * m.cols + i]!;
  return sum;
}

/** The attribution of token `id`'s logit at `position`; `cache` was run with z and outputs kept. */
export function attribute(model: GptModel, cache: RunCache, position: number, id: number): Attribution {
  const { config, weights } = model;
  const { dim, heads, layers, vocabSize } = config;
  checkPosition(position, cache.ids.length);
  if (!(Number.isInteger(id) && id >= 0 && id < vocabSize)) throw new EngineError(`token id ${id} is outside the model's vocabulary of ${vocabSize}`);
  const final = cache.residuals[layers]!;
  let mean = 0;
  for (let i = 0; i < dim; i++) mean += final.data[position * dim + i]!;
  mean /= dim;
  let variance = 0;
  for (let i = 0; i < dim; i++) variance += (final.data[position * dim + i]! - mean) ** 2;
  variance /= dim;
  const sigma = Math.sqrt(variance + config.layerNormEps);
  const unembed = weights.outHead.data.subarray(id * dim, (id + 1) * dim); // W_out[tok] (dim)
  const direction = Float64Array.from(unembed, (w, i) => (w * weights.finalNorm.scale[i]!) / sigma);
  const centre = direction.reduce((a, b) => a + b, 0) / dim;
  for (let i = 0; i < dim; i++) direction[i]! -= centre;

  const headDim = dim / heads;
  const headParts: number[][] = [];
  const attnBias: number[] = [];
  const mlps: number[] = [];
  for (let layer = 0; layer < layers; layer++) {
    const { outProj } = weights.blocks[layer]!.att;
    const z = cache.z[layer];
    const mlpOut = cache.mlpOut[layer];
    if (!z || !mlpOut) throw new RangeError('attribute: run the text with z and outputs kept');
    // W_Oᵀ ũ (dim): what a unit of each z column adds to the logit
    const through = new Float64Array(dim);
    for (let i = 0; i < dim; i++) for (let k = 0; k < dim; k++) through[k]! += outProj.weight.data[i * dim + k]! * direction[i]!;
    const row: number[] = [];
    for (let h = 0; h < heads; h++) {
      let sum = 0;
      for (let k = h * headDim; k < (h + 1) * headDim; k++) sum += through[k]! * z.data[position * dim + k]!;
      row.push(sum);
    }
    headParts.push(row);
    const bias = outProj.bias;
    attnBias.push(bias ? direction.reduce((s, u, i) => s + u * bias[i]!, 0) : 0);
    mlps.push(dotRow(direction, mlpOut, position));
  }
  const finalNormBias = unembed.reduce((s, w, i) => s + w * weights.finalNorm.shift[i]!, 0);
  return {
    position,
    id,
    logit: cache.logits.data[position * vocabSize + id]!,
    embed: dotRow(direction, cache.residuals[0]!, position),
    heads: headParts,
    attnBias,
    mlps,
    finalNormBias,
  };
}
