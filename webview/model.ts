// The model's sections (book chapter 4), after the seven stages: feed-forward and shortcuts, the
// transformer blocks (every layer × head map as a thumbnail, one opened large), and the next token
// (bars, sampling knobs, Generate). They draw what the host sends: PanelTrace.model at once, the
// 'blocks' and `block:L` groups on request, next-token views and generation progress as they come.
// main.ts owns the page; it hands these builders the few helpers they share (ModelKit).
import type { Chart } from 'chart.js';
import { MAX_NEW_TOKENS, type LazyGroup, type ModelSectionId, type NextTokenView, type PanelBlock, type PanelBlockThumbs, type PanelMap, type PanelModel, type PanelTrace, type WebviewMessage } from '../src/shared/protocol';
import { CODE_MASKED, MAP_LEVELS, codeAt, levelValue, type MapCodes, type Scale } from '../src/shared/codes';
import type { CellReading } from './cells';
import { showReading } from './cells';
import { colorOf } from './colors';
import type { HeatmapSpec } from './heatmap';
import { isSeeded } from './notes';
import { geluChart, nextTokenChart, residualChart, showNextToken, showResidualToken } from './modelCharts';
import { hiddenShareNote, maxNewTokensProblem, modelWeightsNote, nextTokenSummary, samplingProblem, topKOf } from './modelNotes';

/** What a figure's colour bar says (main.ts's FigureText). */
export interface ModelFigureText {
  measures: string;
  scale: string;
  caption?: string;
}

/** The page's helpers the model sections use. */
export interface ModelKit {
  post(message: WebviewMessage): void;
  section(id: ModelSectionId, step: number, heading: string, formula: string, intro: string): HTMLElement;
  figure(spec: HeatmapSpec, text: ModelFigureText): HTMLElement;
  note(text: string, className?: string): HTMLElement;
  pendingSlot(group: LazyGroup, text: string): HTMLElement;
  legend(scale: Scale, text: ModelFigureText): HTMLElement;
  /** A chart to destroy when its section leaves the page. */
  keep(chart: Chart): void;
  replaceSection(id: ModelSectionId): void;
  /** Colours and the range text of attention weights for T tokens (the stages' rule). */
  weightColours(tokens: number): Pick<HeatmapSpec, 'scale' | 'range'>;
  weightRangeText(tokens: number): string;
}

/** The view of one run: what has arrived for it, and what the learner picked. */
interface RunState {
  runId: number;
  thumbs?: PanelBlockThumbs;
  blocks: Map<number, PanelBlock>;
  /** Token whose next token is shown (and whose norms the residual chart follows). */
  position: number;
  view?: NextTokenView;
}

const WEIGHT_MEASURE = 'attention weight (the share of the query\'s attention; rows sum to 1)';
/** The opened map: kept from run to run while it exists. */
let open: { layer: number; head: number } | undefined;
/** The sampling knobs as typed (kept across runs). */
const knobs = { temperature: '1', topK: '', maxNewTokens: '30' };
let run: RunState = { runId: -1, blocks: new Map(), position: 0 };
type Generation = { state: 'running' | 'done' | 'cancelled' | 'error'; text: string; tokens: number; message?: string };
/** The last generation's progress; a finished one is shown until the trace after its re-analysis. */
let generation: (Generation & { tracesShown?: number }) | undefined;
let residualLine: { chart: Chart; norms: PanelModel['residualNorms'] } | undefined;
let bars: Chart | undefined;
let askTimer: number | undefined;

const isReport = () => document.body.dataset.mode === 'report';
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}) => Object.assign(document.createElement(tag), props);

/** A new trace: what was loaded for the last one no longer applies. */
export function startRun(runId: number, trace: PanelTrace): void {
  if (run.runId === runId) return;
  clearTimeout(askTimer);
  // A finished generation is news for the re-analysis of prompt + continuation, not after it.
  if (generation && generation.state !== 'running' && (generation.tracesShown = (generation.tracesShown ?? 0) + 1) > 1) generation = undefined;
  const T = trace.tokens.length;
  run = { runId, blocks: new Map(), position: Math.max(0, T - 1), ...(trace.model && { view: trace.model.nextToken }) };
  residualLine = undefined;
  bars = undefined;
  if (open && trace.model && (open.layer >= trace.model.config.layers || open.head >= trace.model.config.heads)) open = undefined;
}

export const MODEL_BUILDERS: Record<ModelSectionId, (kit: ModelKit, trace: PanelTrace, labels: string[]) => HTMLElement> = {
  'feed-forward': feedForwardSection,
  blocks: blocksSection,
  'next-token': nextTokenSection,
};

/** Where the numbers come from, or why there are none: under the heading of every model section. */
function header(kit: ModelKit, trace: PanelTrace, s: HTMLElement): PanelModel | undefined {
  const model = trace.model;
  if (!model) {
    s.append(el('div', { className: 'section-error model-error', role: 'alert', textContent: `The model could not run on this text: ${trace.modelError ?? 'no model in this trace'}` }));
    return undefined;
  }
  const noteEl = el('p', { className: 'weights-note' });
  noteEl.append(el('i', { className: `codicon codicon-${isSeeded(model.source) ? 'beaker' : 'file-binary'}` }), document.createTextNode(` ${modelWeightsNote(model.source)}`));
  s.append(noteEl);
  return model;
}

const sizes = (trace: PanelTrace) => trace.model?.config ?? { dim: trace.config.dim, heads: trace.config.heads, layers: 0, vocabSize: trace.config.vocabSize };

// ---------- feed-forward and shortcuts ----------
function feedForwardSection(kit: ModelKit, trace: PanelTrace, labels: string[]): HTMLElement {
  const { dim } = sizes(trace);
  const s = kit.section('feed-forward', 8, 'Feed-forward and shortcuts',
    `FF(x) = GELU(x·W₁ᵀ + b₁)·W₂ᵀ + b₂   (${dim} → 4·dim = ${4 * dim} → ${dim})\n` +
      'GELU(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))\n' +
      'block: x ← x + MultiHead(LN₁(x)),  then x ← x + FF(LN₂(x))',
    'After attention mixes the tokens, each token passes on its own through a small network: widened to four times its size, bent by GELU (a smooth ReLU), narrowed back. ' +
      'Shortcut (residual) connections add each part\'s output to its input, so the input flows on unchanged and every part adds a correction to it.');
  const model = header(kit, trace, s);
  if (!model) return s;
  const ff = model.feedForward;
  const hidden = ff.hidden;
  const T = labels.length;

  const curve = chartFigure('gelu-chart', `GELU and layer ${ff.layer + 1}'s actual pre-activations`, 'wide');
  s.append(curve.figure, kit.note(
    `Each dot is one value x·W₁ᵀ + b₁ of layer ${ff.layer + 1} (${sampled(ff.preActivations.length, T * 4 * dim)}), drawn at GELU(x): what the hidden layer passes on. ` +
      'Below about −3 GELU gives 0, above about 3 it gives x; in between it bends.'));
  s.append(kit.figure({
    name: 'model.feedForward.hidden', title: `hidden activations, layer ${ff.layer + 1} (after GELU)`, matrix: hidden, rowLabels: labels, scale: 'diverging',
    rowAxis: 'tokens', colAxis: `hidden units (4·dim = ${4 * dim})`, rowsAreTokens: true, colsAreTokens: false, minRowHeight: 14,
    describe: valueLines(labels, readingOf(hidden), 'hidden unit', 'GELU output'), ...codedExact(hidden),
  }, { measures: 'GELU output (no unit; at least −0.17)', scale: 'own scale' }));
  s.append(kit.note(hiddenShareNote(ff.hiddenShare, ff.layer), 'note computed'));

  const residual = chartFigure('residual-chart', 'size of the residual stream before and after each shortcut', 'wide');
  s.append(residual.figure, kit.note(
    'Each point is the L2 norm ‖x‖ of a token\'s residual vector: entering layer 1 (the embeddings), after attention\'s shortcut adds its output, after the feed-forward\'s adds its own. ' +
      'The dashed line follows the selected token (hover a token anywhere to pick it).'));
  requestAnimationFrame(() => {
    if (!curve.canvas.isConnected) return;
    kit.keep(geluChart(curve.canvas, ff.preActivations, ff.layer));
    const chart = residualChart(residual.canvas, model.residualNorms, run.position, labels[run.position] ?? '');
    residualLine = { chart, norms: model.residualNorms };
    kit.keep(chart);
  });
  return s;
}

/** "all 896 of them" or "a sample of 4,096 of its 13,000". */
const sampled = (shown: number, all: number) =>
  shown >= all ? `all ${all.toLocaleString('en-US')} of them` : `an even sample of ${shown.toLocaleString('en-US')} of its ${all.toLocaleString('en-US')}`;

function chartFigure(id: string, caption: string, size: 'wide' | 'tall' = 'wide'): { figure: HTMLElement; canvas: HTMLCanvasElement } {
  const figure = el('figure', { className: 'chart', id });
  const box = el('div', { className: `chart-box ${size}` });
  const canvas = el('canvas');
  box.append(canvas);
  figure.append(el('figcaption', { textContent: caption }), box);
  return { figure, canvas };
}

/** A cell's value: exact, or (display codes, long texts) the level's value marked ≈. */
function readingOf(m: PanelMap): (r: number, c: number) => CellReading {
  if ('data' in m) return (r, c) => ({ value: m.data[r * m.cols + c] ?? 0 });
  return (r, c) => ({ value: codeValue(m, r, c), mark: '≈' });
}

function codeValue(m: MapCodes, r: number, c: number): number {
  const code = codeAt(m, r, c);
  return code < MAP_LEVELS ? levelValue(m.scale, code) : 0;
}

/** Coded maps show the numbers of their codes (marked ≈): the engine does not keep these maps' cells. */
function codedExact(m: PanelMap): Pick<HeatmapSpec, 'exact'> {
  return 'codes' in m ? { exact: readingOf(m) } : {};
}

const APPROXIMATE = '≈: to the colour scale\'s precision (long texts travel as colour codes)';
const valueLines = (labels: string[], value: (r: number, c: number) => CellReading, col: string, what: string) => (r: number, c: number) => {
  const v = value(r, c);
  return [`token ${r} “${labels[r] ?? ''}”`, `${col} ${c}: ${what} ${showReading(v, (x) => x.toFixed(5))}`, ...(v.mark ? [APPROXIMATE] : [])];
};

// ---------- transformer blocks ----------
function blocksSection(kit: ModelKit, trace: PanelTrace, labels: string[]): HTMLElement {
  const { layers, heads, dim } = sizes(trace);
  const s = kit.section('blocks', 9, 'Transformer blocks',
    `x₀ = tok_emb[ids] + pos_emb[0..T)\nfor l = 1…${layers || 'L'}:  x ← x + MultiHead(LN₁(x));  x ← x + FF(LN₂(x))   (T×${dim}, ${heads} heads)`,
    'The GPT model is the same block repeated: causal multi-head attention and the feed-forward network, each behind a layer norm and a shortcut. ' +
      'Each thumbnail below is one head of one layer; click one to open it large.');
  const model = header(kit, trace, s);
  if (!model) return s;
  const c = model.config;
  s.append(kit.note(`${c.layers} layers × ${c.heads} heads, dim ${c.dim}, context ${c.contextLength.toLocaleString('en-US')} tokens, vocabulary ${c.vocabSize.toLocaleString('en-US')}${c.qkvBias ? ', bias on Q, K, V' : ''}: ${model.parameters.toLocaleString('en-US')} parameters.`, 'note model-size'));
  const T = labels.length;
  if (!run.thumbs) {
    const slot = kit.pendingSlot('blocks', `The ${c.layers} × ${c.heads} attention maps load when this section is shown…`);
    slot.classList.add('thumbs-pending');
    s.append(slot);
  } else {
    s.append(thumbGrid(kit, run.thumbs, c.layers, c.heads, T));
  }
  s.append(openedMap(kit, labels));
  // Per layer, each token's residual norm after the block: how big the stream grows.
  const norms: PanelMap = {
    rows: model.residualNorms.length, cols: T,
    data: Float32Array.from(model.residualNorms.flatMap((n) => Array.from(n.output))),
  };
  const layerLabels = model.residualNorms.map((_, l) => `layer ${l + 1}`);
  s.append(kit.figure({
    name: 'model.residualNorms', title: 'residual stream after each layer: L2 norm per token', matrix: norms, rowLabels: layerLabels, colLabels: labels,
    scale: 'sequential', rowAxis: 'layers (output)', colAxis: 'tokens', rowsAreTokens: false, colsAreTokens: true,
    describe: (r, col) => [`layer ${r + 1}, token ${col} “${labels[col] ?? ''}”`, `‖x‖ after the layer: ${(norms.data[r * T + col] ?? 0).toFixed(4)}`],
  }, { measures: 'L2 norm ‖x‖ of the token\'s residual vector (no unit)', scale: 'own scale' }));
  return s;
}

function thumbGrid(kit: ModelKit, thumbs: PanelBlockThumbs, layers: number, heads: number, T: number): HTMLElement {
  const figure = el('figure', { className: 'block-grid', id: 'block-grid' });
  figure.dataset.layers = String(thumbs.thumbs.length);
  figure.dataset.heads = String(heads);
  const side = thumbs.thumbs[0]?.[0]?.rows ?? T;
  figure.append(el('figcaption', {
    textContent: `every layer × head: attention weights, rows = queries ↓, columns = keys → (${T} × ${T}${side < T ? `, max-pooled to ${side} × ${side}: a cell shows the largest weight it covers` : ''})`,
  }));
  const grid = el('div', { className: 'thumbs', role: 'grid' });
  grid.style.gridTemplateColumns = `auto repeat(${heads}, minmax(0, 1fr))`;
  grid.append(el('span', { className: 'corner', textContent: 'layer ╲ head' }));
  for (let h = 0; h < heads; h++) grid.append(el('span', { className: 'col-label', textContent: `head ${h + 1}` }));
  thumbs.thumbs.forEach((row, layer) => {
    grid.append(el('span', { className: 'row-label', textContent: `layer ${layer + 1}` }));
    row.forEach((codes, head) => {
      const button = el('button', { type: 'button', className: 'thumb', title: `layer ${layer + 1}, head ${head + 1}: click to open it large` });
      button.dataset.layer = String(layer);
      button.dataset.head = String(head);
      button.setAttribute('aria-pressed', String(open?.layer === layer && open.head === head));
      button.append(thumbCanvas(codes));
      button.addEventListener('click', () => openMap(kit, layer, head));
      grid.append(button);
    });
  });
  const first = thumbs.thumbs[0]?.[0];
  figure.append(grid);
  if (first) figure.append(kit.legend(first.scale, { measures: WEIGHT_MEASURE, scale: `one ${kit.weightRangeText(T)} scale for every thumbnail` }));
  if (thumbs.thumbs.length < layers) figure.append(kit.note(`Only ${thumbs.thumbs.length} of ${layers} layers arrived (the analysis was stopped).`));
  return figure;
}

/** One thumbnail: a pixel a cell, scaled up by CSS; masked cells (future keys) transparent. */
function thumbCanvas(codes: MapCodes): HTMLCanvasElement {
  const canvas = el('canvas', { width: codes.cols, height: codes.rows });
  const ctx = canvas.getContext('2d');
  if (!ctx) return canvas;
  const image = ctx.createImageData(codes.cols, codes.rows);
  const scale = codes.scale;
  for (let r = 0; r < codes.rows; r++) {
    for (let c = 0; c < codes.cols; c++) {
      const code = codeAt(codes, r, c);
      if (code === CODE_MASKED) continue;
      const [red, green, blue] = colorOf(scale, code < MAP_LEVELS ? levelValue(scale, code) : 0);
      const i = (r * codes.cols + c) * 4;
      image.data[i] = red;
      image.data[i + 1] = green;
      image.data[i + 2] = blue;
      image.data[i + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

function openMap(kit: ModelKit, layer: number, head: number): void {
  open = { layer, head };
  if (!run.blocks.has(layer)) kit.post({ type: 'requestGroup', runId: run.runId, group: `block:${layer}` });
  kit.replaceSection('blocks');
  document.getElementById('block-detail')?.scrollIntoView({ block: 'nearest' });
}

function openedMap(kit: ModelKit, labels: string[]): HTMLElement {
  const box = el('div', { id: 'block-detail' });
  if (!open) {
    box.append(kit.note('Click a thumbnail to open its map large, with the query and key tokens and the weight of the hovered cell.', 'hint'));
    return box;
  }
  const { layer, head } = open;
  const block = run.blocks.get(layer);
  const map = block?.heads[head];
  if (!map) {
    box.append(el('p', { className: 'hint', textContent: `Loading layer ${layer + 1}, head ${head + 1}…` }));
    return box;
  }
  const T = labels.length;
  const weight = readingOf(map);
  box.append(kit.figure({
    name: `blocks.${layer}.heads.${head}`, title: `layer ${layer + 1}, head ${head + 1}: attention weights`, matrix: map,
    rowLabels: labels, colLabels: labels, ...kit.weightColours(T), rowAxis: 'queries', colAxis: 'keys', rowsAreTokens: true, colsAreTokens: true,
    masked: (r, c) => c > r, ...codedExact(map),
    describe: (r, c) => {
      const w = weight(r, c);
      return [`query ${r} “${labels[r] ?? ''}” (row) → key ${c} “${labels[c] ?? ''}” (column)`,
        c > r ? 'future token: masked' : `weight ${showReading(w, (x) => x.toFixed(4))}`, ...(w.mark ? [APPROXIMATE] : [])];
    },
  }, { measures: WEIGHT_MEASURE, scale: `the thumbnails' ${kit.weightRangeText(T)} scale` }));
  // The CSV export reads the stages' trace, which does not hold the model's maps.
  for (const b of box.querySelectorAll('button.icon[title*="CSV"]')) b.remove();
  return box;
}

/** A 'blocks' or `block:L` group arrived; true when it was one of the model's. */
export function receiveModelGroup(kit: ModelKit, runId: number, group: LazyGroup, data: object): boolean {
  if (group !== 'blocks' && !group.startsWith('block:')) return false;
  if (runId !== run.runId) return true;
  if (group === 'blocks') run.thumbs = data as PanelBlockThumbs;
  else run.blocks.set(Number(group.slice('block:'.length)), data as PanelBlock);
  kit.replaceSection('blocks');
  return true;
}

// ---------- next token ----------
function nextTokenSection(kit: ModelKit, trace: PanelTrace, labels: string[]): HTMLElement {
  const { dim, vocabSize } = sizes(trace);
  const s = kit.section('next-token', 10, 'Next token',
    `logits = LN_f(x_t)·W_outᵀ   (${dim} → vocabulary ${vocabSize.toLocaleString('en-US')})\np = softmax(logits / temperature), after a top-k cut`,
    'After the last block and a final layer norm, the output head scores every token of the vocabulary as the one to come after position t; softmax turns the scores into probabilities. ' +
      'Generation takes one token from them (the most likely at temperature 0), appends it and repeats.');
  const model = header(kit, trace, s);
  if (!model) return s;
  const controls = el('div', { className: 'model-knobs', id: 'next-token-knobs' });
  const position = el('span', { className: 'position', id: 'next-token-position' });
  const last = el('button', { type: 'button', className: 'zoom', textContent: 'last', title: 'The last token of the text' });
  last.addEventListener('click', () => selectPosition(kit, labels.length - 1, labels));
  const positionBox = el('span', { className: 'knob' });
  positionBox.append(el('span', { textContent: 'after position (hover a token to pick)' }), el('span', { className: 'position-row' }));
  positionBox.lastElementChild?.append(position, last);
  const message = el('span', { className: 'knob-message', id: 'sampling-message', hidden: true, role: 'alert' });
  // The report keeps temperature 1 only (see its note): the field shows that and cannot change.
  const temperature = textField('next-token-temperature', isReport() ? '1' : knobs.temperature, '0.1');
  if (isReport()) temperature.setAttribute('disabled', '');
  const topK = textField('next-token-topk', knobs.topK, '1');
  topK.setAttribute('placeholder', 'none');
  const commit = () => {
    const t = fieldValue(temperature);
    const k = fieldValue(topK);
    const problem = samplingProblem(t, k);
    message.hidden = !problem;
    message.textContent = problem ?? '';
    if (problem) return;
    knobs.temperature = t;
    knobs.topK = k;
    askNextToken(kit, 0);
  };
  for (const f of [temperature, topK]) {
    f.addEventListener('change', commit);
    f.addEventListener('keydown', (e) => { if ((e as KeyboardEvent).key === 'Enter') commit(); });
  }
  const knob = (label: string, control: HTMLElement) => {
    const wrap = el('label', { className: 'knob' });
    wrap.append(el('span', { textContent: label }), control);
    return wrap;
  };
  const temperatureBox = knob('temperature', temperature);
  temperatureBox.append(message);
  controls.append(positionBox, temperatureBox, knob('top-k (empty: none)', topK));
  s.append(controls);

  const view = run.view ?? model.nextToken;
  const chart = chartFigure('next-token-chart', '', 'tall');
  chart.canvas.id = 'next-token-bars';
  const summary = kit.note('', 'note computed');
  summary.id = 'next-token-sum';
  s.append(chart.figure, summary);
  if (isReport()) {
    s.append(kit.note('In this report the knobs are limited: it keeps the 20 most likely next tokens of every position at temperature 1, so it answers temperature 1 only, and top-k up to 20 (renormalised over those tokens). Open the text in VS Code for any temperature and for Generate.', 'note report-limits'));
  } else {
    s.append(generateRow(kit));
  }
  requestAnimationFrame(() => {
    if (!chart.canvas.isConnected) return;
    bars = nextTokenChart(chart.canvas, view);
    kit.keep(bars);
  });
  showView(view, labels, vocabSize, chart.figure, summary, position);
  return s;
}

function textField(id: string, value: string, step: string): HTMLElement {
  const f = document.createElement('vscode-textfield');
  f.id = id;
  f.setAttribute('type', 'number');
  f.setAttribute('step', step);
  f.setAttribute('value', value);
  return f;
}
const fieldValue = (f: HTMLElement) => String((f as unknown as { value: string }).value ?? '');

/** The caption, the sentence under the chart and the position label for a view. */
function showView(view: NextTokenView, labels: string[], vocabSize: number, figure?: Element | null, summary?: Element | null, position?: Element | null): void {
  const label = labels[view.position] ?? '';
  const cap = (figure ?? document.getElementById('next-token-chart'))?.querySelector('figcaption');
  if (cap) {
    cap.textContent = `after token ${view.position} “${label}”: the ${view.tokens.length} most likely next tokens of ${vocabSize.toLocaleString('en-US')} ` +
      `(temperature ${view.temperature}${view.topK !== null ? `, top-k ${view.topK}` : ', no top-k cut'})`;
  }
  const sum = summary ?? document.getElementById('next-token-sum');
  if (sum) sum.textContent = nextTokenSummary(view, vocabSize).text;
  const pos = position ?? document.getElementById('next-token-position');
  if (pos) pos.textContent = `${run.position} “${labels[run.position] ?? ''}”`;
  const box = (figure ?? document.getElementById('next-token-chart'))?.querySelector<HTMLElement>('.chart-box');
  if (box) box.style.height = `${Math.max(140, 50 + 26 * view.tokens.length)}px`;
}

let labelsNow: string[] = [];
let vocabNow = 0;
/** Hovering a token in any map or chip picks the position whose next token is shown. */
export function selectPosition(kit: ModelKit, index: number, labels = labelsNow): void {
  if (index < 0 || index >= labels.length || index === run.position) return;
  run.position = index;
  const pos = document.getElementById('next-token-position');
  if (pos) pos.textContent = `${index} “${labels[index] ?? ''}”`;
  if (residualLine?.chart.canvas.isConnected) showResidualToken(residualLine.chart, residualLine.norms, index, labels[index] ?? '');
  askNextToken(kit, 150);
}

/** Asks the host for the view the knobs and the position name (after `delay` ms: hovering moves fast). */
function askNextToken(kit: ModelKit, delay: number): void {
  clearTimeout(askTimer);
  askTimer = window.setTimeout(() => {
    kit.post({ type: 'requestNextToken', runId: run.runId, position: run.position, temperature: Number(knobs.temperature), topK: topKOf(knobs.topK) });
  }, delay);
}

/** Remembers the trace's labels and vocabulary for hover-driven updates. */
export function modelContext(labels: string[], trace: PanelTrace): void {
  labelsNow = labels;
  vocabNow = trace.model?.config.vocabSize ?? trace.config.vocabSize;
}

/** A next-token view arrived: the bars follow, when it is still what the knobs ask. */
export function receiveNextToken(runId: number, view: NextTokenView): void {
  if (runId !== run.runId || view.position !== run.position) return;
  run.view = view;
  if (bars?.canvas.isConnected) showNextToken(bars, view);
  showView(view, labelsNow, vocabNow);
}

// ---------- generate ----------
function generateRow(kit: ModelKit): HTMLElement {
  const row = el('div', { className: 'model-knobs generate', id: 'generate' });
  const max = textField('generate-max', knobs.maxNewTokens, '1');
  const maxBox = el('label', { className: 'knob' });
  const message = el('span', { className: 'knob-message', id: 'generate-message', hidden: true, role: 'alert' });
  maxBox.append(el('span', { textContent: 'max new tokens' }), max, message);
  const go = el('button', { type: 'button', className: 'primary', id: 'generate-button', textContent: 'Generate' });
  go.title = 'Continue the text in its editor with the temperature and top-k above (one Undo removes it)';
  const cancel = el('button', { type: 'button', className: 'secondary', id: 'generate-cancel', textContent: 'Cancel' });
  cancel.addEventListener('click', () => kit.post({ type: 'cancelGeneration' }));
  go.addEventListener('click', () => {
    const n = fieldValue(max);
    const problem = maxNewTokensProblem(n, MAX_NEW_TOKENS) ?? samplingProblem(knobs.temperature, knobs.topK);
    message.hidden = !problem;
    message.textContent = problem ?? '';
    if (problem) return;
    knobs.maxNewTokens = n;
    generation = { state: 'running', text: '', tokens: 0 };
    showGeneration();
    kit.post({ type: 'generate', maxNewTokens: Number(n), temperature: Number(knobs.temperature), topK: topKOf(knobs.topK) });
  });
  const progress = el('progress', { id: 'generate-progress', max: 1, value: 0 });
  const status = el('p', { className: 'hint', id: 'generate-status' });
  row.append(maxBox, go, cancel, progress, status);
  queueMicrotask(showGeneration);
  return row;
}

/** Progress of Continue Text (from the button or the command), as the host reports it. */
export function receiveGeneration(update: Generation): void {
  generation = { state: update.state, text: update.text, tokens: update.tokens, ...(update.message !== undefined && { message: update.message }) };
  showGeneration();
}

function showGeneration(): void {
  const go = document.getElementById('generate-button') as HTMLButtonElement | null;
  const cancel = document.getElementById('generate-cancel') as HTMLButtonElement | null;
  const progress = document.getElementById('generate-progress') as HTMLProgressElement | null;
  const status = document.getElementById('generate-status');
  if (!go || !cancel || !progress || !status) return;
  const running = generation?.state === 'running';
  const max = Number(knobs.maxNewTokens) || 1;
  go.disabled = running;
  cancel.hidden = !running;
  progress.hidden = !running;
  progress.value = running ? Math.min(1, (generation?.tokens ?? 0) / max) : 0;
  status.dataset.state = generation?.state ?? 'idle';
  const text = generation?.text ? ` “${tail(generation.text)}”` : '';
  switch (generation?.state) {
    case undefined:
      status.textContent = `Writes up to ${knobs.maxNewTokens} tokens after the analyzed text in its editor, sampled with the temperature and top-k above (temperature 0: always the most likely). One Undo removes them; the panel then shows the longer text.`;
      return;
    case 'running':
      status.textContent = `Writing… ${generation.tokens} of ${max} tokens${text}`;
      return;
    case 'done':
      status.textContent = `Added ${generation.tokens} tokens${text}. One Undo in the editor removes them all.`;
      return;
    case 'cancelled':
      status.textContent = `Cancelled after ${generation.tokens} tokens${text}; what was written stays (Undo removes it).`;
      return;
    case 'error':
      status.textContent = `Could not generate: ${generation.message ?? 'unknown error'}`;
  }
}

const tail = (text: string) => (text.length > 80 ? `…${text.slice(-80)}` : text).replace(/\n/g, '↵');
