// The book's GPTModel (chapter 4, GPT_CONFIG_124M and friends) as flat tensors. Every field names
// the state_dict key a PyTorch `GPTModel` saves, which is also our checkpoint format; a Hugging
// Face GPT-2 checkpoint is mapped onto the same fields when it is loaded (Conv1D weights
// transposed, c_attn split into query | key | value).
//
// This file is the contract between the model's forward pass (inference, generation), its
// backward pass (training) and the checkpoint readers and writers: change it in one place.

import type { Linear, Matrix } from '../types';

export interface GptConfig {
  /** Rows of tok_emb and out_head: the tokenizer's vocabulary (50,257 for GPT-2). */
  vocabSize: number;
  /** Rows of pos_emb: the longest context in tokens (1,024 for GPT-2). */
  contextLength: number;
  /** emb_dim: width of the residual stream (768 for GPT-2 small). */
  dim: number;
  /** n_heads: must divide dim; headDim = dim / heads. */
  heads: number;
  /** n_layers: transformer blocks. */
  layers: number;
  /** qkv_bias: a bias on W_query, W_key, W_value (false in the book's 124M config, true in GPT-2). */
  qkvBias: boolean;
  /** ε of every layer norm: 1e-5 in the book and in GPT-2 (config.json layer_norm_epsilon). */
  layerNormEps: number;
}

/** A LayerNorm's learned parameters: y = scale · (x − μ)/√(σ² + ε) + shift. (dim) each */
export interface NormWeights {
  scale: Float32Array; // *.scale  (GPT-2: ln_*.weight)
  shift: Float32Array; // *.shift  (GPT-2: ln_*.bias)
}

/** One TransformerBlock, keys under trf_blocks.{i}. */
export interface BlockWeights {
  att: {
    query: Linear; // att.W_query.weight (dim, dim) [+ .bias (dim) with qkvBias]
    key: Linear; // att.W_key.*
    value: Linear; // att.W_value.*
    outProj: Linear; // att.out_proj.weight (dim, dim) + .bias (dim)
  };
  ff: {
    up: Linear; // ff.layers.0.weight (4·dim, dim) + .bias (4·dim)
    down: Linear; // ff.layers.2.weight (dim, 4·dim) + .bias (dim)
  };
  norm1: NormWeights; // norm1.scale / norm1.shift (dim): before attention
  norm2: NormWeights; // norm2.scale / norm2.shift (dim): before feed-forward
}

export interface GptWeights {
  tokEmb: Matrix; // tok_emb.weight (vocabSize, dim)
  posEmb: Matrix; // pos_emb.weight (contextLength, dim)
  blocks: BlockWeights[]; // trf_blocks.{0..layers-1}
  finalNorm: NormWeights; // final_norm.scale / final_norm.shift (dim)
  outHead: Matrix; // out_head.weight (vocabSize, dim), no bias; GPT-2 ties it to wte
}

/** A model: its sizes, its weights, and where they came from (shown in the panel). */
export interface GptModel {
  config: GptConfig;
  weights: GptWeights;
  /** "seeded 123 (untrained)", or the checkpoint's file name. */
  source: string;
}
