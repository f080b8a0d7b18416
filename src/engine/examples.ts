// The book's chapter 3 example ("Build a Large Language Model (From Scratch)", S. Raschka,
// ch03/01_main-chapter-code/ch03.ipynb in rasbt/LLMs-from-scratch): six tokens with hand-written
// 3-d embeddings, self-attention weights from torch.manual_seed(789), multi-head weights from
// torch.manual_seed(123). With these weights every stage prints the tensors shown in the book.
// It is the one trace that is not the model's block 1 (d_in 3 ≠ d_out 2): `llm101 analyze
// --example journey`, and stage 3's side-by-side example in the panel.

import { TorchGenerator } from './rng';
import { initLinear } from './init';
import { createMatrix, matrixFrom } from './tensor';
import type { BookChapter3Weights, StageRun, StageSource } from './trace';
import type { Token } from './types';

export const JOURNEY_TEXT = 'Your journey starts with one step';

/** The `inputs` tensor of book section 3.3.1, one row per word of JOURNEY_TEXT. (6, 3) */
const JOURNEY_EMBEDDINGS = [
  [0.43, 0.15, 0.89], // Your
  [0.55, 0.87, 0.66], // journey
  [0.57, 0.85, 0.64], // starts
  [0.22, 0.58, 0.33], // with
  [0.77, 0.25, 0.1], // one
  [0.05, 0.8, 0.55], // step
];

export interface JourneyExample {
  text: string;
  tokens: Token[];
  /** The book's chapter 3 modules: SelfAttention_v2(3, 2), MultiHeadAttention(3, 2, num_heads=2), LayerNorm(2). */
  source: StageSource & { kind: 'book chapter 3' };
  /** The dropout and seed of the masks (the book's section 3.5.2 uses 0.5 and 123). */
  run: StageRun;
}

export function journeyExample(options: { dropout?: number; seed?: number } = {}): JourneyExample {
  const text = JOURNEY_TEXT;
  const tokens: Token[] = [];
  const wordPattern = /\S+/g;
  for (let match = wordPattern.exec(text); match; match = wordPattern.exec(text)) {
    tokens.push({ id: tokens.length, text: match[0], start: match.index, end: match.index + match[0].length });
  }
  const dim = 3;
  const attnDim = 2;

  // torch.manual_seed(789); SelfAttention_v2(3, 2): W_query, W_key, W_value = nn.Linear(3, 2, bias=False)
  const selfAttnGenerator = new TorchGenerator(789);
  const selfAttn = {
    query: initLinear(selfAttnGenerator, dim, attnDim, false),
    key: initLinear(selfAttnGenerator, dim, attnDim, false),
    value: initLinear(selfAttnGenerator, dim, attnDim, false),
  };
  // torch.manual_seed(123); MultiHeadAttention(3, 2, 6, dropout, num_heads=2) creates
  // W_query, W_key, W_value (no bias) and then out_proj = nn.Linear(2, 2) with bias.
  const mhaGenerator = new TorchGenerator(123);
  const mha = {
    query: initLinear(mhaGenerator, dim, attnDim, false),
    key: initLinear(mhaGenerator, dim, attnDim, false),
    value: initLinear(mhaGenerator, dim, attnDim, false),
    outProj: initLinear(mhaGenerator, attnDim, attnDim, true),
  };

  const weights: BookChapter3Weights = {
    tokEmb: matrixFrom(tokens.length, dim, JOURNEY_EMBEDDINGS.flat()),
    posEmb: createMatrix(tokens.length, dim), // positions add nothing: the book's inputs are final
    selfAttn,
    mha,
    norm: { scale: new Float32Array(attnDim).fill(1), shift: new Float32Array(attnDim) },
  };
  return {
    text, tokens, source: { kind: 'book chapter 3', weights, heads: 2 },
    run: { tokenizer: 'word', dropout: options.dropout ?? 0, seed: options.seed ?? 123 },
  };
}
