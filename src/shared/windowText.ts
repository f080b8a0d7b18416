// The context window in words, the same for the panel, the editor's hover and the CLI's summary.
import type { ContextWindow } from '../engine/window';

export type { ContextWindow };

/** "tokens 73–136 of 137" in the words the panel and the CLI use (1-based, inclusive, for people). */
export function windowRangeText(window: ContextWindow): string {
  return `tokens ${(window.from + 1).toLocaleString('en-US')}–${window.to.toLocaleString('en-US')} of ${window.of.toLocaleString('en-US')}`;
}

/**
 * Why the model reads only part of the text, and which part fell outside: what the panel says at
 * the top of every section the window affects, and the CLI's summary.
 */
export function windowExplanation(window: ContextWindow, contextLength: number): string {
  const before = window.from;
  const after = window.of - window.to;
  const outside = [
    before > 0 && `the first ${before.toLocaleString('en-US')}`,
    after > 0 && `the last ${after.toLocaleString('en-US')}`,
  ].filter(Boolean).join(' and ');
  return `The model has ${contextLength.toLocaleString('en-US')} positions (its context length: rows of its position embedding), ` +
    `so it reads ${windowRangeText(window)}; ${outside} fell outside the window and play no part here. ` +
    `Position 0 is the window's first token, as when generation crops its input to the last ${contextLength.toLocaleString('en-US')} tokens.`;
}
