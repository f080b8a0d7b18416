// The next-token section: the top next tokens after a position as bars, the sampling knobs
// (temperature, top-k), and Generate with its progress and Cancel.
import { html, type TemplateResult } from 'lit';
import type { Chart } from 'chart.js';
import { MAX_NEW_TOKENS, type NextTokenView } from '../src/shared/protocol';
import { fieldValue } from './experiments';
import { isReport, post } from './host';
import { nextTokenChart, showNextToken } from './modelCharts';
import { maxNewTokensProblem, nextTokenSummary, samplingProblem, topKOf } from './modelNotes';
import { modelHeader, sizes } from './model';
import type { Generation, Run } from './state';
import { changed, state } from './state';
import { chart, note, sectionHead } from './view';
import { slidingNote } from './windowView';

let askTimer: number | undefined;

/** Hovering a token in any map or chip picks the position whose next token is shown. */
export function selectPosition(index: number): void {
  const run = state.run;
  if (!run || index < 0 || index >= run.labels.length || index === run.position) return;
  run.position = index;
  changed('feed-forward', 'next-token');
  askNextToken(150);
}

/** Asks the host for the view the knobs and the position name (after `delay` ms: hovering moves fast). */
function askNextToken(delay: number): void {
  clearTimeout(askTimer);
  askTimer = window.setTimeout(() => {
    const run = state.run;
    if (!run) return;
    const { temperature, topK } = state.sampling;
    post({ type: 'requestNextToken', runId: run.runId, position: run.position, temperature: Number(temperature), topK: topKOf(topK) });
  }, delay);
}

/** A new run: a question asked for the old one is moot. */
export function forgetNextTokenAsk(): void {
  clearTimeout(askTimer);
}

/** A next-token view arrived: the bars follow, when it is still what the knobs ask. */
export function receiveNextToken(runId: number, view: NextTokenView): void {
  const run = state.run;
  if (!run || runId !== run.runId || view.position !== run.position) return;
  run.nextToken = view;
  changed('next-token');
}

/** Progress of Continue Text (from the button or the command), as the host reports it. */
export function receiveGeneration(update: Generation): void {
  state.generation = { state: update.state, text: update.text, tokens: update.tokens, ...(update.message !== undefined && { message: update.message }) };
  changed('next-token');
}

const onEnter = (commit: (e: Event) => void) => (e: KeyboardEvent) => { if (e.key === 'Enter') commit(e); };

export function nextTokenSection(run: Run): TemplateResult {
  const { trace, labels } = run;
  const { dim, vocabSize } = sizes(trace);
  const head = sectionHead('next-token', 10, 'Next token',
    `logits = LN_f(x_t)·W_outᵀ   (${dim} → vocabulary ${vocabSize.toLocaleString('en-US')})\np = softmax(logits / temperature), after a top-k cut`,
    'After the last block and a final layer norm, the output head scores every token of the vocabulary as the one to come after position t; softmax turns the scores into probabilities. ' +
      'Generation takes one token from them (the most likely at temperature 0), appends it and repeats.');
  const { model, header } = modelHeader(trace);
  if (!model) return html`${head}${header}`;
  const s = state.sampling;
  const view = run.nextToken ?? model.nextToken;
  const commit = (field: 'temperature' | 'topK') => (e: Event) => {
    const next = { ...s, [field]: fieldValue(e) };
    const problem = samplingProblem(next.temperature, next.topK);
    s.message = problem;
    if (!problem) {
      s.temperature = next.temperature;
      s.topK = next.topK;
      askNextToken(0);
    }
    changed('next-token');
  };
  // The report keeps temperature 1 only (see its note): the field shows that and cannot change.
  const report = isReport();
  const label = labels[view.position] ?? '';
  return html`${head}${header}
    <div class="model-knobs" id="next-token-knobs">
      <span class="knob"><span>after position (hover a token to pick)</span><span class="position-row"><span class="position" id="next-token-position">${run.position} “${labels[run.position] ?? ''}”</span><button type="button" class="zoom" title="The last token of the text" @click=${() => selectPosition(labels.length - 1)}>last</button></span></span>
      <label class="knob"><span>temperature</span><vscode-textfield id="next-token-temperature" type="number" step="0.1" value=${report ? '1' : s.temperature} ?disabled=${report}
        @change=${commit('temperature')} @keydown=${onEnter(commit('temperature'))}></vscode-textfield>
        <span class="knob-message" id="sampling-message" role="alert" ?hidden=${!s.message}>${s.message ?? ''}</span></label>
      <label class="knob"><span>top-k (empty: none)</span><vscode-textfield id="next-token-topk" type="number" step="1" placeholder="none" value=${s.topK}
        @change=${commit('topK')} @keydown=${onEnter(commit('topK'))}></vscode-textfield></label>
    </div>
    ${chart({
      id: 'next-token-chart', canvasId: 'next-token-bars', size: 'tall', height: Math.max(140, 50 + 26 * view.tokens.length),
      caption: `after token ${view.position} “${label}”: the ${view.tokens.length} most likely next tokens of ${vocabSize.toLocaleString('en-US')} ` +
        `(temperature ${view.temperature}${view.topK !== null ? `, top-k ${view.topK}` : ', no top-k cut'})`,
      make: (canvas) => nextTokenChart(canvas, view), data: view, update: (c: Chart, v: NextTokenView) => showNextToken(c, v),
    })}
    ${note(nextTokenSummary(view, vocabSize).text, 'note computed', 'next-token-sum')}
    ${report
      ? note('In this report the knobs are limited: it keeps the 20 most likely next tokens of every position at temperature 1, so it answers temperature 1 only, and top-k up to 20 (renormalised over those tokens). Open the text in VS Code for any temperature and for Generate.', 'note report-limits')
      : generateRow()}`;
}

function generateRow(): TemplateResult {
  const s = state.sampling;
  const generation = state.generation;
  const running = generation?.state === 'running';
  const max = Number(s.maxNewTokens) || 1;
  const go = (e: Event) => {
    const field = (e.currentTarget as HTMLElement).closest('#generate')?.querySelector('#generate-max') as unknown as { value: string } | null;
    const typed = String(field?.value ?? s.maxNewTokens);
    const problem = maxNewTokensProblem(typed, MAX_NEW_TOKENS) ?? samplingProblem(s.temperature, s.topK);
    s.generateMessage = problem;
    if (!problem) {
      s.maxNewTokens = typed;
      state.generation = { state: 'running', text: '', tokens: 0 };
      post({ type: 'generate', maxNewTokens: Number(typed), temperature: Number(s.temperature), topK: topKOf(s.topK) });
    }
    changed('next-token');
  };
  return html`<div class="model-knobs generate" id="generate">
    <label class="knob"><span>max new tokens</span><vscode-textfield id="generate-max" type="number" step="1" value=${s.maxNewTokens}></vscode-textfield>
      <span class="knob-message" id="generate-message" role="alert" ?hidden=${!s.generateMessage}>${s.generateMessage ?? ''}</span></label>
    <button type="button" class="primary" id="generate-button" ?disabled=${running} title="Continue the text in its editor with the temperature and top-k above (one Undo removes it)" @click=${go}>Generate</button>
    <button type="button" class="secondary" id="generate-cancel" ?hidden=${!running} @click=${() => post({ type: 'cancelGeneration' })}>Cancel</button>
    <progress id="generate-progress" max="1" .value=${running ? Math.min(1, (generation?.tokens ?? 0) / max) : 0} ?hidden=${!running}></progress>
    <p class="hint" id="generate-status" data-state=${generation?.state ?? 'idle'}>${generationText(generation, s.maxNewTokens, max)}</p>
  </div>`;
}

function generationText(generation: Generation | undefined, typed: string, max: number): string {
  const text = generation?.text ? ` “${tail(generation.text)}”` : '';
  switch (generation?.state) {
    case undefined:
      return `Writes up to ${typed} tokens after the analyzed text in its editor, sampled with the temperature and top-k above (temperature 0: always the most likely). One Undo removes them; the panel then shows the longer text.`;
    case 'running':
      return [`Writing… ${generation.tokens} of ${max} tokens${text}`, slidingNote(state.run?.trace, generation.tokens)].filter(Boolean).join(' ');
    case 'done':
      return `Added ${generation.tokens} tokens${text}. One Undo in the editor removes them all.`;
    case 'cancelled':
      return `Cancelled after ${generation.tokens} tokens${text}; what was written stays (Undo removes it).`;
    case 'error':
      return `Could not generate: ${generation.message ?? 'unknown error'}`;
  }
}

const tail = (text: string) => (text.length > 80 ? `…${text.slice(-80)}` : text).replace(/\n/g, '↵');
