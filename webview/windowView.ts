// The context window in the panel: when the text has more tokens than the model has positions,
// every section says which tokens its numbers are of, the tokens section shows the text that fell
// outside and lets the learner move the window, and generation says how the window slides.
// Display only: the window itself comes from the engine (trace.window).
import { MODEL_SECTIONS, SECTIONS, type ModelSectionId, type PanelStart, type PanelTrace, type SectionId } from '../src/shared/protocol';
import { windowExplanation, windowRangeText, type ContextWindow } from '../src/shared/windowText';
import { el } from './dom';

const count = (n: number) => n.toLocaleString('en-US');

/** What the window means for one section's numbers (rows, maps, the next token). */
export function windowSentence(window: ContextWindow, contextLength: number, section: SectionId | ModelSectionId): string {
  const T = window.to - window.from;
  const outside = window.of - T;
  const range = windowRangeText(window);
  switch (section) {
    case 'tokens':
      return windowExplanation(window, contextLength);
    case 'embeddings':
      return `Rows are the window's ${count(T)} tokens (${range}) at positions 0–${count(T - 1)}: the text's token ${count(window.from + 1)} sits at position 0 ` +
        `(pos_emb row 0), as after generation's crop. The model has no row for a position ${count(contextLength)} or later.`;
    case 'attention-simple':
    case 'attention-self':
    case 'attention-causal':
    case 'attention-heads':
    case 'blocks':
      return `Each map is ${count(T)} × ${count(T)}, the window's tokens (${range}): they attend only to each other; ` +
        `the ${count(outside)} tokens outside the window are no query's keys.`;
    case 'layernorm':
    case 'feed-forward':
      return `Rows are the window's ${count(T)} tokens (${range}); the ${count(outside)} outside it have no row.`;
    case 'next-token':
      return window.to === window.of
        ? `The prediction after the text's last token reads only the window's ${count(T)} tokens (${range}), as generation does.`
        : `The window ends at token ${count(window.to)} of ${count(window.of)}: these predictions follow token ${count(window.to)}, not the text's end. Move the window to the end (section 1) to predict what follows the text.`;
    case 'logit-lens':
    case 'attribution':
    case 'patching':
      return `The experiments run the model on the window's ${count(T)} tokens (${range}) only; the ${count(outside)} outside it are not read.`;
  }
}

const isSection = (id: string): id is SectionId | ModelSectionId => (SECTIONS as readonly string[]).includes(id) || (MODEL_SECTIONS as readonly string[]).includes(id);

/** The note at the top of a section when the trace is a window of a longer text; undefined otherwise. */
export function windowNote(trace: PanelStart | undefined, section: string): HTMLElement | undefined {
  const window = trace?.window;
  if (!trace || !window || !isSection(section)) return undefined;
  const note = el('p', { className: 'window-note' });
  note.dataset.section = section;
  note.append(el('i', { className: 'codicon codicon-eye-closed' }), document.createTextNode(` ${windowSentence(window, trace.config.contextLength, section)}`));
  return note;
}

/** A long stretch of text shortened in the middle, so the strip stays a few lines high. */
function shorten(text: string, keep: number, side: 'start' | 'end'): string {
  if (text.length <= keep) return text;
  return side === 'end' ? `…${text.slice(-keep)}` : `${text.slice(0, keep)}…`;
}

/**
 * The tokens section's window strip: the text before and after the window (faded, struck as the
 * editor fades it) around the window, and a slider that moves the window through the text.
 * `move(from)` asks for a new window (null: back to the last tokens).
 */
export function windowStrip(trace: PanelStart, source: string, move: (from: number | null) => void): HTMLElement | undefined {
  const { window, tokens } = trace;
  const first = tokens[0];
  const last = tokens.at(-1);
  if (!window || !first || !last) return undefined;
  const T = window.to - window.from;
  const strip = el('div', { className: 'window-strip', id: 'window-strip' });
  const before = source.slice(0, first.start);
  const after = source.slice(last.end);
  const outside = (text: string, n: number, where: 'before' | 'after') => {
    const box = el('div', { className: `outside outside-${where}` });
    box.append(
      el('span', { className: 'outside-count', textContent: `${count(n)} token${n === 1 ? '' : 's'} ${where} the window, not read:` }),
      el('span', { className: 'outside-text', textContent: shorten(text.trim(), 240, where === 'before' ? 'end' : 'start') }),
    );
    return box;
  };
  if (window.from > 0) strip.append(outside(before, window.from, 'before'));
  strip.append(el('div', { className: 'inside', textContent: `The window: ${windowRangeText(window)} (the chips below, positions 0–${count(T - 1)})` }));
  if (window.to < window.of) strip.append(outside(after, window.of - window.to, 'after'));

  const controls = el('div', { className: 'window-controls' });
  const label = el('label', { htmlFor: 'window-from' });
  const slider = document.createElement('input');
  Object.assign(slider, { type: 'range', id: 'window-from', min: '0', max: String(window.of - T), step: '1', value: String(window.from) });
  slider.setAttribute('aria-label', 'first token of the context window');
  const say = () => { label.textContent = `Window starts at token ${count(Number(slider.value) + 1)} of ${count(window.of)}`; };
  say();
  slider.addEventListener('input', say);
  slider.addEventListener('change', () => move(Number(slider.value)));
  const toEnd = document.createElement('button');
  Object.assign(toEnd, { type: 'button', id: 'window-end', textContent: 'Last tokens (as generation reads)', disabled: window.to === window.of });
  toEnd.addEventListener('click', () => move(null));
  controls.append(label, slider, toEnd);
  strip.append(controls);
  return strip;
}

/**
 * While the model writes after the analyzed text: once prompt and new tokens pass the context,
 * the model reads only the last contextLength of them, a window that slides by one per token.
 */
export function slidingNote(trace: PanelTrace | undefined, generated: number): string | undefined {
  if (!trace) return undefined;
  const contextLength = trace.model?.config.contextLength ?? trace.config.contextLength;
  const promptTokens = trace.window?.of ?? trace.tokens.length;
  const total = promptTokens + generated;
  if (total <= contextLength) return undefined;
  return `The model reads only the last ${count(contextLength)} tokens (its context): the window slides one token per new token, ` +
    `and the first ${count(total - contextLength)} are outside it now.`;
}
