// What every experiment section shares: asking the host for an experiment on the run's model,
// taking its progress, result or refusal into the run's slot for that kind, and the row under a
// control that shows progress, Cancel and the message of a refusal. The sections themselves are
// webview/lens.ts, headRoles.ts, ablation.ts, attribution.ts and patching.ts.
import { html, nothing, type TemplateResult } from 'lit';
import type { Matrix } from '../src/engine/types';
import type { ExperimentQuery, ExperimentResult } from '../src/shared/experimentsProtocol';
import type { ExperimentKind, HostMessage } from '../src/shared/protocol';
import { isReport, post } from './host';
import { changed, state, type ExperimentSlot, type Run } from './state';

/** The section whose view shows each kind's result (ablation, the scan and head roles sit under the blocks grid). */
export const SECTION_OF: Record<ExperimentKind, string> = {
  lens: 'logit-lens', headRoles: 'blocks', ablate: 'blocks', scan: 'blocks', attribute: 'attribution', patch: 'patching',
};

let nextRequest = 1;

/**
 * What a section asks when its placeholder (`[data-experiment="kind"]`) comes into view, when that
 * is more than the bare kind (the attribution's position, the heads knocked out).
 */
const autoQueries = new Map<ExperimentKind, (run: Run) => ExperimentQuery>();
export const whenShown = (kind: ExperimentKind, query: (run: Run) => ExperimentQuery) => autoQueries.set(kind, query);

/** Asks the host for `query` on the run on show; the slot of its kind says "running" until it answers. */
export function askExperiment(query: ExperimentQuery): void {
  const run = state.run;
  if (!run || isReport()) return;
  const request = nextRequest++;
  // the last result stays on show (marked as computing) until the new one arrives
  const last = run.experiments.get(query.kind)?.result;
  run.experiments.set(query.kind, { request, state: 'running', ...(last && { result: last }) });
  post({ type: 'experiment', runId: run.runId, request, query });
  changed(SECTION_OF[query.kind]);
}

/** The slot of `kind` on the run on show. */
export const slotOf = (run: Run, kind: ExperimentKind): ExperimentSlot | undefined => run.experiments.get(kind);

/** The result of `kind`, when it arrived for the run on show. */
export function resultOf<K extends ExperimentKind>(run: Run, kind: K): Extract<ExperimentResult, { kind: K }> | undefined {
  const result = run.experiments.get(kind)?.result;
  return result?.kind === kind ? (result as Extract<ExperimentResult, { kind: K }>) : undefined;
}

type ExperimentMessage = Extract<HostMessage, { type: 'experimentProgress' | 'experimentResult' | 'experimentError' }>;

/** A host answer: kept when it answers the newest ask of its kind on the run on show. */
export function receiveExperiment(message: ExperimentMessage): void {
  const run = state.run;
  if (!run || message.runId !== run.runId) return;
  const kind = message.type === 'experimentResult' ? message.result.kind : message.kind;
  const slot = run.experiments.get(kind);
  if (!slot || slot.request !== message.request) return;
  switch (message.type) {
    case 'experimentProgress':
      slot.progress = { done: message.done, total: message.total };
      break;
    case 'experimentResult':
      run.experiments.set(kind, { request: slot.request, state: 'done', result: message.result });
      break;
    case 'experimentError':
      // a refusal keeps the last result beside its message: the section stays as it was
      run.experiments.set(kind, { ...slot, state: message.cancelled ? 'cancelled' : 'error', message: message.message });
      break;
  }
  changed(SECTION_OF[kind]);
}

/**
 * The line under the control that asked: "Computing…" (with progress and Cancel for the long
 * ones), or the refusal's message with its fix, or nothing once the result is drawn.
 */
export function experimentStatus(run: Run, kind: ExperimentKind, what: string): TemplateResult | typeof nothing {
  const slot = slotOf(run, kind);
  if (!slot || slot.state === 'done') return nothing;
  const id = `${kind}-status`;
  if (slot.state === 'running') {
    const p = slot.progress;
    const cancellable = kind === 'scan' || kind === 'patch';
    return html`<div class="experiment-status" id=${id} data-state="running">
      ${p ? html`<progress max=${p.total} .value=${p.done}></progress>` : nothing}
      <span>${p ? `${what}: ${p.done.toLocaleString('en-US')} of ${p.total.toLocaleString('en-US')} runs…` : `${what}…`}</span>
      ${cancellable ? html`<button type="button" class="secondary" id="${kind}-cancel" @click=${() => post({ type: 'cancelExperiment' })}>Cancel</button>` : nothing}
    </div>`;
  }
  return html`<div class="experiment-status ${slot.state === 'error' ? 'section-error' : 'hint'}" id=${id} data-state=${slot.state} role="alert">${slot.message ?? ''}</div>`;
}

/**
 * Asks for the experiments whose placeholders are on screen or near it (`[data-experiment]`:
 * the lens, the head roles and the attribution compute when they come into view, not for every
 * analysis; heads knocked out are knocked out again in a new run).
 */
export function requestVisibleExperiments(): void {
  const run = state.run;
  if (!run || isReport()) return;
  for (const slot of document.querySelectorAll<HTMLElement>('[data-experiment]')) {
    const kind = slot.dataset.experiment as ExperimentKind;
    if (run.experiments.has(kind)) continue;
    const box = slot.getBoundingClientRect();
    if (box.bottom < -400 || box.top > window.innerHeight + 400) continue;
    askExperiment(autoQueries.get(kind)?.(run) ?? ({ kind } as ExperimentQuery));
  }
}

/** A signed number as the experiments write their effects: "+0.1234", "−0.0567". */
export const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}`;

/** A text field's value (vscode-textfield or input). */
export const fieldValue = (e: Event) => String((e.currentTarget as unknown as { value: string }).value ?? '');

/** One matrix per grid a result brought: the same matrix keeps its map's canvas, zoom and hover when the section is drawn again. */
const matrices = new WeakMap<readonly (readonly number[])[], Matrix>();
export function gridMatrix(grid: readonly (readonly number[])[]): Matrix {
  let m = matrices.get(grid);
  if (!m) {
    const rows = grid.length;
    const cols = grid[0]?.length ?? 0;
    m = { rows, cols, data: Float32Array.from(grid.flat()) };
    matrices.set(grid, m);
  }
  return m;
}
