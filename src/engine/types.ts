// Shared shapes of the engine: what every stage produces and what the panel and CLI read.
// No `vscode` and no DOM here: the engine runs in the extension host, a worker, the CLI and tests.

/** A row-major float32 matrix: element (r, c) is data[r * cols + c]. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

/** The tokenizers, in the order settings and help list them: the one list of kinds. */
export const TOKENIZER_KINDS = ['word', 'bpe', 'gpt2'] as const;
export type TokenizerKind = (typeof TOKENIZER_KINDS)[number];

/** One token of the input: `text === input.slice(start, end)` (the surface form, also for <|unk|>). */
export interface Token {
  readonly id: number;
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

export interface Tokenizer {
  readonly kind: TokenizerKind;
  readonly vocabSize: number;
  encode(text: string): Token[];
  decode(ids: readonly number[]): string;
  /** The vocabulary entry for an id (for bpe/gpt2 a byte sequence shown as text). */
  idToToken(id: number): string;
}

export interface EngineConfig {
  tokenizer: TokenizerKind;
  /** Size of the tokenizer's vocabulary = rows of the token embedding. */
  vocabSize: number;
  /** d_in: embedding size. */
  dim: number;
  /** d_out of the attention modules. */
  attnDim: number;
  heads: number;
  /** Inverted-dropout probability on attention weights, 0 <= p < 1. */
  dropout: number;
  seed: number;
  contextLength: number;
  qkvBias: boolean;
}

export interface HeadTrace {
  queries: Matrix; // (T, headDim)
  keys: Matrix; // (T, headDim)
  values: Matrix; // (T, headDim)
  /** Unscaled Q·Kᵀ with -Infinity above the diagonal. (T, T) */
  scores: Matrix;
  weights: Matrix; // (T, T), 0 above the diagonal
  droppedWeights: Matrix; // (T, T)
  context: Matrix; // (T, headDim)
}

export interface Trace {
  config: EngineConfig & { headDim: number };
  tokens: Token[];
  embeddings: { token: Matrix; position: Matrix; input: Matrix }; // each (T, dim)
  simple: { scores: Matrix; weights: Matrix; context: Matrix }; // (T,T) (T,T) (T,dim)
  selfAttention: {
    queries: Matrix; // (T, attnDim)
    keys: Matrix;
    values: Matrix;
    scores: Matrix; // (T, T) unscaled
    weights: Matrix; // (T, T) softmax(scores / sqrt(attnDim))
    context: Matrix; // (T, attnDim)
  };
  causal: {
    maskedScores: Matrix; // (T, T), -Infinity above the diagonal (null in JSON)
    weights: Matrix;
    droppedWeights: Matrix;
    context: Matrix; // (T, attnDim)
  };
  multiHead: { heads: HeadTrace[]; concat: Matrix; output: Matrix }; // concat/output (T, attnDim)
  layerNorm: {
    input: Matrix; // (T, attnDim)
    mean: Float32Array; // (T)
    variance: Float32Array; // (T), biased
    output: Matrix; // (T, attnDim)
    outputMean: Float32Array;
    outputVariance: Float32Array;
  };
  /**
   * What self-attention, causal and multi-head attention read when it is not embeddings.input:
   * with a GPT checkpoint, block 0's LN₁(x). (T, dim)
   */
  attentionInput?: Matrix;
}

/** A PyTorch nn.Linear: weight (out, in) row-major, optional bias (out). y = x·Wᵀ + b. */
export interface Linear {
  weight: Matrix;
  bias?: Float32Array;
}

/**
 * Every trainable tensor of the model, in PyTorch layouts. The safetensors names are given
 * beside each field; dim, attnDim, vocabSize and contextLength follow from the shapes.
 */
export interface Weights {
  tokEmb: Matrix; // tok_emb.weight (vocabSize, dim)
  posEmb: Matrix; // pos_emb.weight (contextLength, dim)
  selfAttn: {
    query: Linear; // self_attn.W_query.weight (attnDim, dim) [+ .bias (attnDim)]
    key: Linear; // self_attn.W_key.*
    value: Linear; // self_attn.W_value.*
  };
  mha: {
    query: Linear; // mha.W_query.weight (attnDim, dim) [+ .bias]
    key: Linear; // mha.W_key.*
    value: Linear; // mha.W_value.*
    outProj: Linear; // mha.out_proj.weight (attnDim, attnDim) + mha.out_proj.bias (attnDim)
  };
  norm: { scale: Float32Array; shift: Float32Array }; // norm.scale, norm.shift (attnDim)
}
