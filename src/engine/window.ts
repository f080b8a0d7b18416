// The context window: a model has contextLength positions (rows of its position embedding), so
// it reads at most contextLength tokens at once. A longer text is not refused: the model reads a
// window of it, by default the last contextLength tokens, as nanoGPT's `generate` crops its input
// (`idx[:, -block_size:]`) and the book's generate_text_simple does (`idx[:, -context_size:]`).
// Inside the window positions count from 0 again: the first token of the window sits at
// position 0, as it does after the crop. A learner may move the window (`from`) to read another
// stretch of the text; it keeps its length.
import { EngineError } from './config';
import type { Token } from './types';

/** Which tokens the model reads: indices from .. to−1 (to exclusive) of the text's `of` tokens. */
export interface ContextWindow {
  from: number;
  to: number;
  of: number;
}

/**
 * The window of a text of `count` tokens for a model of `contextLength` positions: undefined when
 * the whole text fits (nothing is cropped); else `contextLength` tokens starting at `from` (clamped
 * so the window stays inside the text), by default the last ones.
 */
export function contextWindow(count: number, contextLength: number, from?: number): ContextWindow | undefined {
  if (!Number.isSafeInteger(contextLength) || contextLength < 1) {
    throw new EngineError(`the context length must be a positive whole number, got ${String(contextLength)}`);
  }
  if (from !== undefined && !(Number.isSafeInteger(from) && from >= 0)) {
    throw new EngineError(`the window must start at a token index >= 0, got ${String(from)}`);
  }
  if (count <= contextLength) return undefined;
  const last = count - contextLength; // the latest start that still fills the window
  const start = Math.min(from ?? last, last);
  return { from: start, to: start + contextLength, of: count };
}

/** The tokens the model reads and the window they are (undefined: all of them, nothing cropped). */
export interface Cropped {
  tokens: Token[];
  window?: ContextWindow;
}

/**
 * The tokens inside the window. They keep their character offsets in the whole text, so the
 * editor lights the right characters for position p of the window (tokens[p].start .. end).
 */
export function cropToContext(tokens: readonly Token[], contextLength: number, from?: number): Cropped {
  const window = contextWindow(tokens.length, contextLength, from);
  if (!window) return { tokens: [...tokens] };
  return { tokens: tokens.slice(window.from, window.to), window };
}
