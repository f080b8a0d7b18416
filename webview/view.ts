// The parts every section's template is made of: its heading block, a heatmap figure with its
// caption, export buttons, zoom controls and colour bar, a chart box, a note, a toggle, and the
// slot of a part still on its way. Sections (webview/stages.ts, attention.ts, model.ts, …) are
// built from these and registered in webview/sections.ts.
import { html, nothing, type TemplateResult } from 'lit';
import { ifDefined } from 'lit/directives/if-defined.js';
import { styleMap } from 'lit/directives/style-map.js';
import type { Chart } from 'chart.js';
import { weightScale as weightScaleFor } from '../src/shared/codes';
import type { LazyGroup, PanelTrace } from '../src/shared/protocol';
import type { Scale } from './colors';
import { cells, post } from './host';
import { formatCell, type HeatmapSpec } from './heatmap';
import { isZoomable, mapScale } from './mapScale';
import type { HeatmapElement } from './elements';
import { colorLegend, scaleKindText } from './legend';
import { isSeeded, weightsNote } from './notes';
import { state } from './state';
import { windowNote } from './windowView';

/** What a figure's colour bar says besides its range: what is measured, and whether the scale is shared. */
export interface FigureText {
  /** What a colour stands for, with units: "attention weight (share of the query's attention)". */
  measures: string;
  /** "own scale" or what the scale is shared with. */
  scale: string;
  caption?: string;
}

/**
 * A section's heading, formula and introduction; where its numbers come from weights, whose;
 * and, when the last analysis broke at this stage, why (the page below is the older result).
 */
export function sectionHead(id: string, step: number, heading: string, formula: string, intro: string, weights?: PanelTrace): TemplateResult {
  const error = state.error?.section === id ? state.error.message : undefined;
  return html`<h2>${step}. ${heading}</h2>${error ? html`<div class="section-error" role="alert">${error}</div>` : nothing}
    <code class="formula">${formula}</code><p class="intro">${intro}</p>
    ${windowNote(state.starting?.trace ?? state.run?.trace, id)}
    ${weights ? html`<p class="weights-note"><i class="codicon codicon-${isSeeded(weights.weightsSource) ? 'beaker' : 'file-binary'}"></i> ${weightsNote(weights.weightsSource, weights.config.seed, weights.config.stages, weights.trained, weights.config.vocabSize)}</p>` : nothing}`;
}

export const note = (text: string, className = 'note', id?: string) => html`<p class=${className} id=${ifDefined(id)}>${text}</p>`;

export function iconButton(icon: string, label: string, onClick: (e: Event) => void): TemplateResult {
  return html`<button class="icon" type="button" title=${label} aria-label=${label} @click=${onClick}><i class="codicon codicon-${icon}"></i></button>`;
}

/** The heatmap element inside the figure an event came from. */
const mapIn = (e: Event) => (e.currentTarget as HTMLElement).closest('figure')?.querySelector<HeatmapElement>('llm-heatmap')?.map;

/** Zoom out, zoom in, whole map: visible buttons, not only Ctrl+wheel (class "zoom": the report keeps them). */
function zoomControls(): TemplateResult {
  const button = (icon: string, label: string, act: (e: Event) => void) =>
    html`<button class="zoom" type="button" title=${label} aria-label=${label} @click=${act}><i class="codicon codicon-${icon}"></i></button>`;
  return html`<span class="zoom-controls"><span class="zoom-hint">zoom in to read labels</span>${button('zoom-in', 'Zoom in (or Ctrl+scroll on the map)', (e) => mapIn(e)?.zoomBy(0.5))}${button('zoom-out', 'Zoom out', (e) => mapIn(e)?.zoomBy(2))}${button('screen-full', 'Whole map (or double-click)', (e) => mapIn(e)?.resetView())}</span>`;
}

/** The hint "zoom in to read labels" shows while the whole map is in view. */
function syncZoomHint(e: Event): void {
  const hint = (e.currentTarget as HTMLElement).querySelector<HTMLElement>('.zoom-hint');
  const map = mapIn(e);
  if (hint && map) hint.hidden = map.zoomed;
}

/**
 * A heatmap with its caption (title, shape, PNG and CSV export, zoom) and colour bar.
 * `exports`: 'none' for maps that are not part of the trace, 'png' where the CSV export (which
 * reads the stages' trace) has no such matrix.
 */
export function figure(spec: HeatmapSpec, text: FigureText, options: { id?: string; exports?: 'both' | 'png' | 'none' } = {}): TemplateResult {
  // A coded map's numbers (zoomed in) are asked of the host by its path.
  if ('codes' in spec.matrix && !spec.exact) spec = { ...spec, exact: (r, c) => cells.value(spec.name, r, c) };
  const exports = options.exports ?? 'both';
  const png = (e: Event) => {
    const canvas = (e.currentTarget as HTMLElement).closest('figure')?.querySelector('canvas');
    if (canvas) post({ type: 'exportPng', name: spec.name, dataUrl: canvas.toDataURL('image/png') });
  };
  return html`<figure class="map" id=${ifDefined(options.id)} @viewchange=${syncZoomHint}>
    <figcaption><span class="title">${spec.title}</span><span class="shape">${spec.matrix.rows}×${spec.matrix.cols}</span>
      ${exports !== 'none' ? iconButton('file-media', `Save ${spec.title} as PNG`, png) : nothing}
      ${exports === 'both' ? iconButton('table', `Save ${spec.title} as CSV`, () => post({ type: 'exportCsv', matrix: spec.name })) : nothing}
      ${isZoomable(spec) ? zoomControls() : nothing}</figcaption>
    <div class="map-scroll"><llm-heatmap .spec=${spec}></llm-heatmap></div>
    ${legendFor(mapScale(spec), text)}
    ${text.caption ? note(text.caption) : nothing}
  </figure>`;
}

/** A colour bar: its ends, what a colour measures, and whether the scale is shared (or clipped). */
export function legendFor(scale: Scale & { largest?: number }, text: FigureText): HTMLElement {
  const clipped = scale.largest !== undefined
    ? `; colours stop at ±${formatCell(scale.max)}, which 99% of the values lie within (the largest is ${formatCell(scale.largest)})`
    : '';
  return colorLegend(scale, `colour: ${text.measures}; ${scaleKindText(scale.kind)}, ${text.scale}${clipped}`);
}

/** A Chart.js chart in a box of the given height class; `data` changes go through `update`. */
export function chart<D>(options: {
  id: string; caption: string; size?: 'wide' | 'tall'; canvasId?: string; height?: number;
  make: (canvas: HTMLCanvasElement) => Chart; data?: D; update?: (chart: Chart, data: D) => void;
}, after: unknown = nothing): TemplateResult {
  const style = options.height ? styleMap({ height: `${options.height}px` }) : nothing;
  return html`<figure class="chart" id=${options.id}><figcaption>${options.caption}</figcaption>
    <div class="chart-box ${options.size ?? ''}" style=${style}><llm-chart .canvasId=${options.canvasId ?? ''} .make=${options.make} .update=${options.update} .data=${options.data}></llm-chart></div>${after}</figure>`;
}

/** A row of mutually exclusive buttons (a radio group). */
export function toggle<T extends string>(options: readonly T[], value: T, onPick: (v: T) => void): TemplateResult {
  return html`<div class="toggle" role="radiogroup">${options.map((option) =>
    html`<button type="button" role="radio" aria-checked=${String(option === value)} data-value=${option} @click=${() => onPick(option)}>${option}</button>`)}</div>`;
}

/** A part not sent yet (long texts): asked for when it comes into view (main.ts watches these). */
export function pendingSlot(group: LazyGroup, text: string, className = ''): TemplateResult {
  return html`<figure class="map pending ${className}" data-group=${group}>${text}</figure>`;
}

/** Colours for exact attention weights: the shared rule the host also encodes long texts with. */
export function weightColours(tokens: number, p = 0): Pick<HeatmapSpec, 'scale' | 'range'> {
  const { kind, range } = weightScaleFor(tokens, p);
  return { scale: kind, range };
}

/** "0–1", "0–1.67" or "log .01–1": the fixed range weights are drawn on. */
export function weightRangeText(tokens: number, p = 0): string {
  const { kind, range } = weightScaleFor(tokens, p);
  const end = (v: number) => (v > 0 && v < 0.01 ? v.toExponential(0) : formatCell(v));
  return `${kind === 'log' ? 'log ' : ''}${end(range[0])}–${end(range[1])}`;
}

export const WEIGHT_MEASURE = 'attention weight (the share of the query\'s attention; rows sum to 1)';
export const SCORE_MEASURE = 'score (dot product, no unit)';

/** An attention map's spec parts: rows are queries, columns keys. */
export const ATTENTION_AXES = { rowAxis: 'queries', colAxis: 'keys', rowsAreTokens: true, colsAreTokens: true } as const;

/** Above the diagonal: a key after the query, hidden by the causal mask. */
export const future = (r: number, c: number) => c > r;
