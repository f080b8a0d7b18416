// Ablation under the blocks grid: heads knocked out (clicked in the grid in "knock it out" mode,
// or typed as layer.head), zero or mean; the next-token bars before and after side by side, the
// KL divergence between them and the text's loss before and after, each said with its meaning;
// and "Scan all heads": each head alone knocked out, its loss increase as a layers × heads map,
// with progress and Cancel.
import { html, nothing, type TemplateResult } from 'lit';
import type { Chart } from 'chart.js';
import type { AblationView, ExperimentQuery } from '../src/shared/experimentsProtocol';
import type { NextTokenView } from '../src/shared/protocol';
import { AFTER, BEFORE } from './charts';
import { askExperiment, experimentStatus, fieldValue, gridMatrix, resultOf, signed, whenShown } from './experiments';
import { nextTokenChart, showNextToken } from './modelCharts';
import { visible } from './notes';
import { changed, state, type Run } from './state';
import { chart, figure, note, toggle } from './view';

export const isAblated = (layer: number, head: number) => state.experiments.ablated.some((h) => h.layer === layer && h.head === head);

/** Heads as the panel labels them, from 1: "1.2, 3.4". */
const headsText = (heads: readonly { layer: number; head: number }[]) => heads.map((h) => `${h.layer + 1}.${h.head + 1}`).join(', ');

/** Knocks a head out, or brings it back, and asks for the ablation of the heads now out. */
export function toggleAblated(layer: number, head: number): void {
  const e = state.experiments;
  e.ablated = isAblated(layer, head) ? e.ablated.filter((h) => h.layer !== layer || h.head !== head) : [...e.ablated, { layer, head }];
  e.headsMessage = undefined;
  askAblation();
}

/** The heads knocked out, at the text's last position (what the next-token bars show at first). */
const ablationQuery = (run: Run): ExperimentQuery => ({ kind: 'ablate', heads: state.experiments.ablated, mode: state.experiments.ablation, position: run.labels.length - 1 });
// a new run (another text or model) knocks the same heads out once the grid is in view
whenShown('ablate', ablationQuery);

function askAblation(): void {
  const run = state.run;
  if (!run) return;
  if (state.experiments.ablated.length) askExperiment(ablationQuery(run));
  else run.experiments.delete('ablate');
  changed('blocks');
}

/** "1.2, 3.4" → heads from 0, or why the text is not a list of heads. */
function parseHeads(text: string): { layer: number; head: number }[] | string {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  const heads: { layer: number; head: number }[] = [];
  for (const part of parts) {
    const match = /^(\d{1,4})\.(\d{1,4})$/.exec(part);
    if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) return `“${part}” is not a head: write layer.head, counting from 1, e.g. 1.2, 3.4`;
    heads.push({ layer: Number(match[1]) - 1, head: Number(match[2]) - 1 });
  }
  return heads;
}

export function ablationPanel(run: Run, layers: number, heads: number): TemplateResult {
  const e = state.experiments;
  const commit = (ev: Event) => {
    const parsed = parseHeads(fieldValue(ev));
    if (typeof parsed === 'string') {
      e.headsMessage = parsed;
      changed('blocks');
      return;
    }
    e.headsMessage = undefined;
    e.ablated = parsed;
    askAblation();
  };
  const view = resultOf(run, 'ablate')?.view;
  return html`<div class="ablation" id="ablation" data-experiment=${e.ablated.length ? 'ablate' : nothing}>
    <h3>Knock heads out</h3>
    <p class="hint">Pick “knock it out” above and click heads in the grid (or type them), to see what the model predicts without them.
      Zero: the head's output (before the output projection) is 0 at every position; mean: it is the head's mean over the text's positions, which keeps its average effect and removes what depends on the token.</p>
    <div class="model-knobs">
      <label class="knob"><span>heads knocked out (layer.head)</span><vscode-textfield id="ablation-heads" placeholder="e.g. 1.2, 2.1" value=${headsText(e.ablated)}
        @change=${commit} @keydown=${(ev: KeyboardEvent) => { if (ev.key === 'Enter') commit(ev); }}></vscode-textfield>
        <span class="knob-message" id="ablation-heads-message" role="alert" ?hidden=${!e.headsMessage}>${e.headsMessage ?? ''}</span></label>
      <span class="knob"><span>replace a head's output with</span>${toggle(['zero', 'mean'] as const, e.ablation, (mode) => {
        e.ablation = mode;
        askAblation();
        if (resultOf(run, 'scan')) run.experiments.delete('scan');
      })}</span>
      ${e.ablated.length ? html`<button type="button" class="secondary" id="ablation-clear" @click=${() => { e.ablated = []; askAblation(); }}>Bring all back</button>` : nothing}
    </div>
    ${experimentStatus(run, 'ablate', `Knocking out ${headsText(e.ablated)}`)}
    ${view && e.ablated.length ? ablationResult(run, view) : nothing}
    ${scanPanel(run, layers, heads)}
  </div>`;
}

const asNextToken = (view: AblationView, side: 'before' | 'after'): NextTokenView => ({
  position: view.position, temperature: 1, topK: null,
  tokens: view[side].map((b) => ({ id: b.id, text: b.text, probability: b.p })),
});

function ablationResult(run: Run, view: AblationView): TemplateResult {
  const label = visible(run.labels[view.position] ?? '');
  const bars = (side: 'before' | 'after') => {
    const next = asNextToken(view, side);
    return chart({
      id: `ablation-${side}`, canvasId: `ablation-${side}-bars`, size: 'tall', height: Math.max(140, 50 + 24 * next.tokens.length),
      caption: side === 'before' ? 'before: the model as it is' : `after: without ${headsText(view.heads)} (${view.mode})`,
      make: (canvas) => nextTokenChart(canvas, next, side === 'before' ? BEFORE : AFTER), data: next, update: (c: Chart, v: NextTokenView) => showNextToken(c, v, side === 'before' ? BEFORE : AFTER),
    });
  };
  const loss = view.lossBefore !== null && view.lossAfter !== null
    ? `The text's loss (the mean next-token cross-entropy over its ${run.labels.length - 1} predictions, in nats; lower: the model predicts the text better) goes from ${view.lossBefore.toFixed(4)} to ${view.lossAfter.toFixed(4)} (${signed(view.lossAfter - view.lossBefore)}).`
    : 'The text has one token: there is no loss to compare (it needs a token to predict).';
  return html`<p class="hint">The 10 likeliest next tokens after token ${view.position} “${label}” (the text's last), before and after:</p>
    <div class="side-by-side" id="ablation-bars">${bars('before')}${bars('after')}</div>
    ${note(`KL(before ‖ after) = ${view.kl.toFixed(4)} nats: how far the next-token distribution moved when the heads were knocked out (0: not at all; the sum over tokens of p_before·log(p_before / p_after)).`, 'note computed', 'ablation-kl')}
    ${note(loss, 'note computed', 'ablation-loss')}`;
}


function scanPanel(run: Run, layers: number, heads: number): TemplateResult {
  const mode = state.experiments.ablation;
  const scan = resultOf(run, 'scan');
  const running = run.experiments.get('scan')?.state === 'running';
  return html`<div class="scan" id="scan">
    <div class="model-knobs"><button type="button" class="secondary" id="scan-button" ?disabled=${running}
      title="Knocks out each head alone (${mode}) and measures the text's loss: ${layers * heads} runs" @click=${() => askExperiment({ kind: 'scan', mode })}>Scan all heads (${layers * heads} runs, ${mode})</button></div>
    ${experimentStatus(run, 'scan', 'Knocking out each head alone')}
    ${scan ? figure({
      name: 'experiments.scan', title: `loss increase when each head alone is knocked out (${scan.mode})`, matrix: gridMatrix(scan.grid),
      rowLabels: Array.from({ length: scan.grid.length }, (_, l) => `L${l + 1}`), colLabels: Array.from({ length: scan.grid[0]?.length ?? 0 }, (_, h) => `H${h + 1}`),
      rowAxis: 'layers', colAxis: 'heads', scale: 'diverging', rowsAreTokens: false, colsAreTokens: false,
      describe: (r, c) => {
        const d = scan.grid[r]?.[c] ?? 0;
        return [`layer ${r + 1}, head ${c + 1} knocked out alone (${scan.mode})`, `loss ${signed(d)} nats: the model predicts the text ${d > 0 ? 'worse' : d < 0 ? 'better' : 'as well'} without it`];
      },
    }, {
      measures: 'change of the text\'s loss in nats when the head alone is knocked out (red: worse without it, so the head helped; blue: better)', scale: 'own scale',
    }, { exports: 'png' }) : nothing}
  </div>`;
}
