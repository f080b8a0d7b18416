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

/** Corpora the engine generates instead of reading files (`llm101 train --task`, Train Model's choices; copyTask.ts). */
export const TRAIN_TASKS = ['copying'] as const;
export type TrainTask = (typeof TRAIN_TASKS)[number];
/** How a run, its checkpoint's metadata and the training panel name a task's corpus. */
export const TASK_LABELS: Record<TrainTask, string> = { copying: 'the copying task (generated)' };

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

/**
 * How a trace ran its seven stages: as block 1 of the model (what the panel always shows, seeded
 * or loaded), or as the book's chapter 3 worked example (its own small modules, d_in 3 / d_out 2).
 */
export type StagesKind = 'block 1' | 'book chapter 3';

/** What a trace ran with: the model's sizes (attnDim = dim for block 1), the tokenizer, dropout and seed. */
export interface TraceConfig {
  stages: StagesKind;
  tokenizer: TokenizerKind;
  /** Rows of the token embedding: the tokenizer's vocabulary. */
  vocabSize: number;
  /** d_in: embedding size, the residual stream's width. */
  dim: number;
  /** d_out of the attention stages: dim for block 1; the book's example has its own (2). */
  attnDim: number;
  heads: number;
  /** attnDim / heads: the columns of one head. */
  headDim: number;
  /** Inverted-dropout probability on attention weights (stages 5 and 6), 0 <= p < 1. */
  dropout: number;
  /** Seed of the dropout masks (and of the seeded model's weights). */
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
  config: TraceConfig;
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
   * block 1's LN₁(x). Absent for the book's chapter 3 example, which attends to the inputs. (T, dim)
   */
  attentionInput?: Matrix;
}

/** A PyTorch nn.Linear: weight (out, in) row-major, optional bias (out). y = x·Wᵀ + b. */
export interface Linear {
  weight: Matrix;
  bias?: Float32Array;
}
