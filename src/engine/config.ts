// Engine configuration: defaults and the one place where a configuration and an input are checked.
// Every error says what to change.

import type { GptConfig } from './gpt/types';
import { TOKENIZER_KINDS, type Token, type TokenizerKind } from './types';

export { TOKENIZER_KINDS };

/** An input or setting the engine cannot work with; the message names the fix. */
export class EngineError extends Error {
  override readonly name: string = 'EngineError';
  /** The setting (llm101.<setting>) whose value caused it, when one did: the panel shows the message at the stage it breaks. */
  readonly setting: string | undefined;
  constructor(message: string, options: { setting?: string } = {}) {
    super(message);
    this.setting = options.setting;
  }
}

/** Thrown by long work (a trace, BPE training) when its CancelSignal is set at a check point. */
export class CancelledError extends EngineError {
  override readonly name = 'CancelledError';
  constructor() {
    super('cancelled');
  }
}

/**
 * What long work reads at its check points (between stages, heads, merges): an AbortSignal in
 * the same thread, or a SharedCancel that another thread sets while this one computes.
 */
export interface CancelSignal {
  readonly aborted: boolean;
}

/** Cells of the shared cancel table (SharedCancel): request ids this far apart share a cell. */
export const CANCEL_CELLS = 1024;

/**
 * A cancel flag in shared memory: request `id` is aborted once another thread stores `id` in
 * cell id mod CANCEL_CELLS (cancelRequest). The engine runs synchronously and reads no messages
 * while it computes; this is how the host stops one request at the next check point without
 * terminating the engine (its caches survive) and without touching the requests queued after it.
 */
export class SharedCancel implements CancelSignal {
  constructor(private readonly cells: Int32Array, private readonly id: number) {}
  get aborted(): boolean {
    return Atomics.load(this.cells, this.id % CANCEL_CELLS) === this.id;
  }
}

/** Marks request `id` cancelled in a table of CANCEL_CELLS Int32 cells. */
export function cancelRequest(cells: Int32Array, id: number): void {
  Atomics.store(cells, id % CANCEL_CELLS, id);
}

/**
 * The settings a user chooses, checked before any work starts: the seeded model's sizes (a
 * checkpoint brings its own), the tokenizer, and the dropout and seed of the stages' masks.
 */
export interface EngineSettings {
  tokenizer: TokenizerKind;
  /** emb_dim of the seeded model: the residual stream's width. */
  dim: number;
  /** n_heads: must divide dim. */
  heads: number;
  /** Inverted-dropout probability on the attention weights of stages 5 and 6, 0 <= p < 1. */
  dropout: number;
  /** torch.manual_seed of the seeded model's weights and of the dropout masks. */
  seed: number;
  contextLength: number;
  qkvBias: boolean;
  /** n_layers of the seeded model; default DEFAULT_LAYERS. */
  layers?: number;
}

/** Defaults of every setting. */
export const DEFAULT_CONFIG: Readonly<Omit<EngineSettings, 'layers'>> = Object.freeze({
  tokenizer: 'word',
  dim: 28,
  heads: 7,
  dropout: 0.4,
  seed: 123,
  contextLength: 2048,
  qkvBias: false,
});

/** The divisors of n in increasing order: the head counts that split n columns evenly. */
export function divisors(n: number): number[] {
  const found: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) found.push(d);
  return found;
}

/** Transformer blocks of the seeded model when no setting or checkpoint gives them. */
export const DEFAULT_LAYERS = 2;
/** ε of every layer norm of a seeded model: the book's and GPT-2's (a checkpoint may say otherwise). */
export const LAYER_NORM_EPS = 1e-5;
/** At most this many blocks in a model (GPT-2 XL has 48). */
export const MAX_LAYERS = 48;
/** At most this many float32 weights in a model (2 GiB): GPT-2 medium (355M) fits, large does not. */
export const MAX_WEIGHTS = 2 ** 29;

/** Weights of a model of this configuration (GPT_CONFIG_124M: 163,009,536 with its own out_head). */
export function gptWeightCount(config: GptConfig): number {
  const { vocabSize, contextLength, dim, layers, qkvBias } = config;
  const attention = 3 * dim * dim + (qkvBias ? 3 * dim : 0) + dim * dim + dim;
  const feedForward = 2 * 4 * dim * dim + 4 * dim + dim;
  const norms = 2 * 2 * dim;
  return (2 * vocabSize + contextLength) * dim + layers * (attention + feedForward + norms) + 2 * dim;
}

/**
 * The one check of a model's configuration, seeded or read from a checkpoint: throws an
 * EngineError naming the first field that cannot work, with `setting` set to the setting that
 * chose it (the caller words where to change it: the panel names the setting, the CLI its flag).
 */
export function validateGptConfig(config: GptConfig): void {
  for (const field of ['vocabSize', 'contextLength', 'dim', 'heads'] as const) {
    const value: unknown = config[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new EngineError(`${field} must be a positive whole number, got ${String(value)}`, { ...(field !== 'vocabSize' && { setting: field }) });
    }
  }
  checkLayers(config.layers);
  if (config.dim % config.heads !== 0) {
    throw new EngineError(`heads (${config.heads}) must divide dim (${config.dim}); valid head counts: ${divisors(config.dim).join(', ')}`, { setting: 'heads' });
  }
  if (typeof config.qkvBias !== 'boolean') throw new EngineError(`qkvBias must be true or false, got ${String(config.qkvBias)}`, { setting: 'qkvBias' });
  const eps: unknown = config.layerNormEps;
  if (typeof eps !== 'number' || !(eps > 0 && eps < 1)) {
    throw new EngineError(`layerNormEps must be a small positive number such as 1e-5, got ${String(eps)}`);
  }
  const count = gptWeightCount(config);
  if (count > MAX_WEIGHTS) {
    throw new EngineError(
      `the model would have ${count.toLocaleString('en-US')} weights, above the ${MAX_WEIGHTS.toLocaleString('en-US')} ` +
        'this playground allows; use fewer layers, a smaller dim, a shorter context or a smaller vocabulary',
    );
  }
}

function checkLayers(layers: unknown): void {
  if (!(typeof layers === 'number' && Number.isSafeInteger(layers) && layers >= 1 && layers <= MAX_LAYERS)) {
    throw new EngineError(`layers must be a whole number from 1 to ${MAX_LAYERS}, got ${String(layers)}`, { setting: 'layers' });
  }
}

/** The dropout of the stages' masks: 0 <= p < 1. */
export function validateDropout(dropout: unknown): void {
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw new EngineError(`dropout must be at least 0 and below 1 (e.g. 0.4), got ${String(dropout)}`, { setting: 'dropout' });
  }
}

/**
 * The one check of the settings, for the CLI, the settings reader, the panel's knobs and the
 * bench alike, before any work: the tokenizer, dropout and seed, and the seeded model's sizes
 * through validateGptConfig (with the smallest vocabulary; the tokenizer's is checked with the
 * model). With a checkpoint (`sizesFromWeights`) its sizes are its own and only heads and layers
 * are checked here. Throws an EngineError whose `setting` names the field.
 */
export function validateSettings(settings: EngineSettings, options: { sizesFromWeights?: boolean } = {}): void {
  const tokenizer: unknown = settings.tokenizer;
  if (typeof tokenizer !== 'string' || !(TOKENIZER_KINDS as readonly string[]).includes(tokenizer)) {
    throw new EngineError(`unknown tokenizer ${JSON.stringify(tokenizer)}; use one of ${TOKENIZER_KINDS.join(', ')}`, { setting: 'tokenizer' });
  }
  validateDropout(settings.dropout);
  const seed: unknown = settings.seed;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new EngineError(`seed must be a whole number >= 0, got ${String(seed)}`, { setting: 'seed' });
  }
  const layers = settings.layers ?? DEFAULT_LAYERS;
  if (options.sizesFromWeights) {
    // the checkpoint's sizes are checked when it is read; a bad setting is refused all the same
    const heads: unknown = settings.heads;
    if (typeof heads !== 'number' || !Number.isSafeInteger(heads) || heads < 1) {
      throw new EngineError(`heads must be a positive whole number, got ${String(heads)}`, { setting: 'heads' });
    }
    checkLayers(layers);
    return;
  }
  const { dim, heads, contextLength, qkvBias } = settings;
  validateGptConfig({ vocabSize: 1, contextLength, dim, heads, layers, qkvBias, layerNormEps: LAYER_NORM_EPS });
}

/** At most this many bytes of (T, T) matrices in one trace. */
export const MAX_TRACE_BYTES = 2 ** 31;

/**
 * Bytes of the (T, T) matrices a trace keeps: simple scores and weights, self-attention scores
 * and weights, causal masked scores, weights and dropped weights, and per head scores, weights
 * and dropped weights (float32), plus one byte per entry for the dropout mask.
 */
export function traceMatrixBytes(tokenCount: number, heads: number): number {
  return ((7 + 3 * heads) * 4 + 1) * tokenCount * tokenCount;
}

/** Refuses a trace too large for memory, saying how many tokens would fit. */
export function checkTraceSize(tokenCount: number, heads: number): void {
  const bytes = traceMatrixBytes(tokenCount, heads);
  if (bytes <= MAX_TRACE_BYTES) return;
  const fits = Math.floor(Math.sqrt(MAX_TRACE_BYTES / traceMatrixBytes(1, heads)));
  throw new EngineError(
    `tracing ${tokenCount} tokens with ${heads} heads needs about ${(bytes / 2 ** 30).toFixed(1)} GiB; ` +
      `select at most ${fits} tokens or use fewer heads`,
  );
}

/**
 * Checks that the tokens fit the model: at least one, at most contextLength, and (when vocabSize
 * is given) every id inside the vocabulary.
 */
export function checkTokens(tokens: readonly Token[], contextLength: number, vocabSize?: number): void {
  if (tokens.length === 0) {
    throw new EngineError('the text has no tokens; select some text');
  }
  if (tokens.length > contextLength) {
    throw new EngineError(
      `the text has ${tokens.length} tokens but the context length is ${contextLength}; ` +
        `select less text or raise the context length`,
      { setting: 'contextLength' },
    );
  }
  if (vocabSize !== undefined) {
    for (const token of tokens) {
      if (!Number.isInteger(token.id) || token.id < 0 || token.id >= vocabSize) {
        throw new EngineError(
          `token ${JSON.stringify(token.text)} has id ${token.id}, outside the vocabulary of ${vocabSize}; ` +
            `use weights made for this tokenizer`,
        );
      }
    }
  }
}
