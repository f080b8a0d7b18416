// Engine configuration: defaults and the one place where a configuration and an input are checked.
// Every error says what to change.

import { TOKENIZER_KINDS, type EngineConfig, type Token } from './types';

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

/** Defaults of every setting; vocabSize is the chosen tokenizer's. */
export const DEFAULT_CONFIG: Readonly<Omit<EngineConfig, 'vocabSize'>> = Object.freeze({
  tokenizer: 'word',
  dim: 28,
  attnDim: 28,
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

/** The settings a user chooses, checked before any work starts (vocabSize comes later, from the tokenizer). */
export type EngineSettings = Omit<EngineConfig, 'vocabSize'>;

/** Transformer blocks of the seeded GPT (llm101.layers, --layers) when no checkpoint gives them. */
export const DEFAULT_LAYERS = 2;
/** At most this many blocks in a seeded GPT (GPT-2 XL has 48). */
export const MAX_LAYERS = 48;

/**
 * The one check of a configuration, for the CLI, the settings reader, the panel's knobs and the
 * bench alike: throws an EngineError naming the first field that cannot work and how to fix it.
 */
export function validateSettings(settings: EngineSettings & { layers?: number }, options: { sizesFromWeights?: boolean } = {}): void {
  const tokenizer: unknown = settings.tokenizer;
  if (typeof tokenizer !== 'string' || !(TOKENIZER_KINDS as readonly string[]).includes(tokenizer)) {
    throw new EngineError(`unknown tokenizer ${JSON.stringify(tokenizer)}; use one of ${TOKENIZER_KINDS.join(', ')}`, { setting: 'tokenizer' });
  }
  // With a weights file, dim, attnDim, contextLength and qkvBias are the file's (checked once it is read).
  const sized = options.sizesFromWeights ? (['heads'] as const) : (['dim', 'attnDim', 'heads', 'contextLength'] as const);
  for (const field of sized) {
    const value: unknown = settings[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new EngineError(`${field} must be a positive whole number, got ${String(value)}`, { setting: field });
    }
  }
  if (!options.sizesFromWeights && settings.attnDim % settings.heads !== 0) {
    throw new EngineError(
      `heads (${settings.heads}) must divide attnDim (${settings.attnDim}); ` +
        `valid head counts: ${divisors(settings.attnDim).join(', ')}`,
      { setting: 'heads' },
    );
  }
  const dropout: unknown = settings.dropout;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw new EngineError(`dropout must be at least 0 and below 1 (e.g. 0.4), got ${String(dropout)}`, { setting: 'dropout' });
  }
  const seed: unknown = settings.seed;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new EngineError(`seed must be a whole number >= 0, got ${String(seed)}`, { setting: 'seed' });
  }
  if (!options.sizesFromWeights && typeof settings.qkvBias !== 'boolean') {
    throw new EngineError(`qkvBias must be true or false, got ${String(settings.qkvBias)}`);
  }
  // The seeded GPT's blocks; a checkpoint brings its own, but a bad setting is refused all the same.
  const layers: unknown = settings.layers;
  if (layers !== undefined && !(typeof layers === 'number' && Number.isSafeInteger(layers) && layers >= 1 && layers <= MAX_LAYERS)) {
    throw new EngineError(`layers must be a whole number from 1 to ${MAX_LAYERS}, got ${String(layers)}`, { setting: 'layers' });
  }
}

/** validateSettings plus the vocabulary size and the model's size in weights. */
export function validateConfig(config: EngineConfig): void {
  validateSettings(config);
  const vocab: unknown = config.vocabSize;
  if (typeof vocab !== 'number' || !Number.isSafeInteger(vocab) || vocab < 1) {
    throw new EngineError(`vocabSize must be a positive whole number, got ${String(vocab)}`);
  }
  const { vocabSize, dim, attnDim, contextLength } = config;
  const weightCount = (vocabSize + contextLength) * dim + 6 * attnDim * (dim + 1) + attnDim * (attnDim + 3);
  if (weightCount > MAX_WEIGHTS) {
    throw new EngineError(
      `the model would have ${weightCount.toLocaleString('en-US')} weights, above the ${MAX_WEIGHTS.toLocaleString('en-US')} ` +
        `this playground allows; lower dim, attnDim, contextLength or the vocabulary size`,
    );
  }
}

/** At most this many float32 weights (1 GiB). */
export const MAX_WEIGHTS = 2 ** 28;
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
        `select less text or raise the setting llm101.contextLength (--context-length)`,
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
