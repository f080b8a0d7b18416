// Engine configuration: defaults and the one place where a configuration and an input are checked.
// Every error says what to change.

import type { EngineConfig, Token, TokenizerKind } from './types';

/** An input or setting the engine cannot work with; the message names the fix. */
export class EngineError extends Error {
  override readonly name: string = 'EngineError';
}

/** Thrown by runTrace when its AbortSignal fires between stages. */
export class CancelledError extends EngineError {
  override readonly name = 'CancelledError';
  constructor() {
    super('cancelled');
  }
}

export const TOKENIZER_KINDS: readonly TokenizerKind[] = ['word', 'bpe', 'gpt2'];

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

/** Throws an EngineError naming the first field that cannot work and how to fix it. */
export function validateConfig(config: EngineConfig): void {
  const tokenizer: unknown = config.tokenizer;
  if (typeof tokenizer !== 'string' || !(TOKENIZER_KINDS as readonly string[]).includes(tokenizer)) {
    throw new EngineError(`unknown tokenizer ${JSON.stringify(tokenizer)}; use one of ${TOKENIZER_KINDS.join(', ')}`);
  }
  for (const field of ['vocabSize', 'dim', 'attnDim', 'heads', 'contextLength'] as const) {
    const value: unknown = config[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new EngineError(`${field} must be a positive whole number, got ${String(value)}`);
    }
  }
  if (config.attnDim % config.heads !== 0) {
    throw new EngineError(
      `heads (${config.heads}) must divide attnDim (${config.attnDim}); ` +
        `valid head counts: ${divisors(config.attnDim).join(', ')}`,
    );
  }
  const dropout: unknown = config.dropout;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw new EngineError(`dropout must be at least 0 and below 1 (e.g. 0.4), got ${String(dropout)}`);
  }
  const seed: unknown = config.seed;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new EngineError(`seed must be a whole number >= 0, got ${String(seed)}`);
  }
  if (typeof config.qkvBias !== 'boolean') {
    throw new EngineError(`qkvBias must be true or false, got ${String(config.qkvBias)}`);
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
