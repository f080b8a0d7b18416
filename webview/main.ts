// The panel app: receives a trace from the extension host and draws it. It computes nothing
// about the model; the only arithmetic here is for display (scaling a score for a tooltip).
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { Chart } from 'chart.js';
import { parseHostMessage, KNOBS, MODEL_SECTIONS, type HostMessage, type ModelSectionId, type JourneyAttention, type Knob, type KnobValues, type LazyGroup, type PanelHead, type PanelMap, type PanelTrace, type SectionId, type WebviewMessage } from '../src/shared/protocol';
import { CODE_MASKED, MAP_LEVELS, codeAt, levelValue, weightScale as weightScaleFor } from '../src/shared/codes';
import { ExactCells, showReading, type CellReading } from './cells';
import { Heatmap, formatCell, type HeatmapSpec } from './heatmap';
import { pcaChart, layerNormChart } from './charts';
import { MODEL_BUILDERS, modelContext, receiveGeneration, receiveModelGroup, receiveNextToken, selectPosition, startRun, type ModelKit } from './model';
import type { Scale } from './colors';
import { colorLegend, scaleKindText } from './legend';
import { fixed, isSeeded, journeyNote, knobProblem, marksLegend, saturation, saturated, simpleAttentionNote, validHeads, visible, weightsNote, type Cells } from './notes';

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();
const post = (m: WebviewMessage) => vscode.postMessage(m);

const app = document.getElementById('app') as HTMLElement;
const tooltip = Object.assign(document.createElement('div'), { id: 'tooltip', hidden: true, role: 'tooltip' });
document.body.append(tooltip);

let maps: Heatmap[] = [];
/** Exact values of coded maps (long texts), asked of the host per block of cells. */
const cells = new ExactCells((ask) => { if (current) post({ type: 'requestCells', runId: current.runId, ...ask }); });
let charts: Chart[] = [];
let current: { trace: PanelTrace; labels: string[]; runId: number; title: string; elapsedMs: number } | undefined;
/** The knob values the host last reported (what the settings hold). */
let knobs: KnobValues | undefined;
const views = { embeddings: 'input' as 'token' | 'position' | 'input', self: 'weights' as 'scores' | 'weights', simple: 'weights' as 'scores' | 'weights' };

// ---------- messages ----------
window.addEventListener('message', (event: MessageEvent) => {
  const message = parseHostMessage(event.data);
  if (!message) {
    post({ type: 'log', level: 'error', message: `ignored a malformed message: ${String((event.data as { type?: unknown })?.type)}` });
    return;
  }
  handle(message);
});
window.addEventListener('error', (e) => post({ type: 'log', level: 'error', message: e.message }));

function handle(message: HostMessage): void {
  switch (message.type) {
    case 'trace': {
      const t0 = performance.now();
      vscode.setState({ source: { text: message.source, title: message.title } });
      cells.clear();
      current = { trace: message.trace, labels: labelsOf(message.trace), runId: message.runId, title: message.title, elapsedMs: message.elapsedMs };
      startRun(message.runId, message.trace);
      modelContext(current.labels, message.trace);
      knobsFromWeights(message.trace);
      render();
      requestAnimationFrame(() => post({ type: 'rendered', runId: message.runId, ms: performance.now() - t0 }));
      return;
    }
    case 'busy':
      setStatus(`Computing… ${message.stage}`, 'busy');
      return;
    case 'error':
      showError(message.message, message.section);
      return;
    case 'knobs':
      knobs = message.values;
      setKnobs(message.values);
      return;
    case 'knobRefused':
      showKnobMessage(message.knob, message.message);
      if (knobs) setKnobs(knobs);
      return;
    case 'reveal':
      // Before the first trace there is nothing to scroll to yet: remember it for render().
      pendingReveal = message.section;
      if (current) revealPending();
      return;
    case 'highlightToken':
      highlightEverywhere(message.index, null, false);
      return;
    case 'group':
      receiveGroup(message.runId, message.group, message.data);
      return;
    case 'nextToken':
      receiveNextToken(message.runId, message.view);
      return;
    case 'generation':
      receiveGeneration(message);
      return;
    case 'cells':
      if (message.runId !== current?.runId) return;
      cells.accept(message);
      for (const map of maps) map.refresh();
      return;
  }
}

let pendingReveal: SectionId | undefined;
function revealPending(): void {
  const target = pendingReveal && document.getElementById(pendingReveal);
  if (!target) return;
  pendingReveal = undefined;
  target.scrollIntoView({ block: 'start' });
  target.classList.add('flash');
  setTimeout(() => target.classList.remove('flash'), 1200);
}

// ---------- layout ----------
const toolbar = buildToolbar();
const status = Object.assign(document.createElement('div'), { id: 'status', role: 'status' });
const errorBox = Object.assign(document.createElement('div'), { id: 'error', role: 'alert', hidden: true });
const content = Object.assign(document.createElement('main'), { id: 'content' });
app.replaceChildren(toolbar, status, errorBox, content);
app.dataset.state = 'waiting';
setStatus('Waiting for text: select some in an editor and run “LLM 101: Analyze Selection”.', 'idle');

function setStatus(text: string, state: string): void {
  status.textContent = text;
  status.dataset.state = state;
}

function showError(message: string, section?: SectionId): void {
  errorBox.hidden = false;
  errorBox.replaceChildren(Object.assign(document.createElement('strong'), { textContent: 'Cannot analyze: ' }), document.createTextNode(message));
  app.dataset.state = 'error';
  setStatus(current ? 'Showing the last result that worked.' : '', 'error');
  // A setting made invalid elsewhere: also at the top of the stage it breaks, where the learner reads.
  for (const old of content.querySelectorAll('.section-error')) old.remove();
  const target = section && document.getElementById(section);
  if (target) {
    const box = Object.assign(document.createElement('div'), { className: 'section-error', role: 'alert', textContent: message });
    target.querySelector('h2')?.after(box);
  }
}

/** Sends a knob's new value, or shows why it cannot be written (the host checks again). */
function commitKnob(knob: Knob, value: number | string): void {
  const c = current?.trace.config;
  const ctx = { heads: c?.heads ?? knobs?.heads ?? 1, dim: c?.dim ?? knobs?.dim ?? 1, attnDim: c?.attnDim ?? knobs?.dim ?? 1 };
  if (knobs && String(knobs[knob]) === String(value)) {
    showKnobMessage(knob, undefined);
    return;
  }
  const problem = knobProblem(knob, value, ctx);
  showKnobMessage(knob, problem);
  if (problem) return;
  post({ type: 'setKnob', knob, value: knob === 'tokenizer' ? String(value) : Number(value) });
}

/** The message under a knob (a refused value and its fix), or none. */
function showKnobMessage(knob: Knob, message: string | undefined): void {
  const box = document.getElementById(`knob-${knob}-message`);
  if (!box) return;
  // One message at a time: they hang over the page under their knob and would overlap.
  if (message) for (const other of KNOBS) if (other !== knob) showKnobMessage(other, undefined);
  box.hidden = !message;
  box.textContent = message ?? '';
  box.closest('.knob')?.classList.toggle('invalid', Boolean(message));
}

function buildToolbar(): HTMLElement {
  const bar = Object.assign(document.createElement('form'), { id: 'knobs' });
  bar.addEventListener('submit', (e) => e.preventDefault());
  const knobBox = (knob: Knob, label: string, control: HTMLElement) => {
    const wrap = Object.assign(document.createElement('label'), { className: 'knob' });
    const message = Object.assign(document.createElement('span'), { className: 'knob-message', id: `knob-${knob}-message`, hidden: true, role: 'alert' });
    wrap.append(Object.assign(document.createElement('span'), { textContent: label }), control, message);
    return wrap;
  };
  const field = (knob: Knob, label: string, attrs: Record<string, string>) => {
    const input = document.createElement('vscode-textfield');
    input.id = `knob-${knob}`;
    input.setAttribute('type', 'number');
    for (const [k, v] of Object.entries(attrs)) input.setAttribute(k, v);
    const commit = () => commitKnob(knob, (input as unknown as { value: string }).value);
    input.addEventListener('change', commit);
    input.addEventListener('keydown', (e) => { if ((e as KeyboardEvent).key === 'Enter') commit(); });
    return knobBox(knob, label, input);
  };
  // Heads: only the counts that divide the attention dimension are offered.
  const heads = Object.assign(document.createElement('select'), { id: 'knob-heads', title: 'heads: the divisors of the attention dimension' });
  heads.addEventListener('change', () => commitKnob('heads', heads.value));
  const select = document.createElement('vscode-single-select');
  select.id = 'knob-tokenizer';
  for (const kind of ['word', 'bpe', 'gpt2']) {
    const option = document.createElement('vscode-option');
    option.setAttribute('value', kind);
    option.textContent = kind;
    select.append(option);
  }
  select.addEventListener('change', () => commitKnob('tokenizer', (select as unknown as { value: string }).value));

  const exportJson = Object.assign(document.createElement('button'), { id: 'export-json', type: 'button', className: 'export', title: 'Export the whole trace (every matrix) as JSON' });
  exportJson.append(Object.assign(document.createElement('i'), { className: 'codicon codicon-json' }), document.createTextNode(' JSON'));
  exportJson.addEventListener('click', () => post({ type: 'exportJson' }));

  bar.append(
    knobBox('heads', 'heads', heads),
    // No min or max: the field's own range check would pop up beside ours (ours names the fix).
    field('dropout', 'dropout', { step: '0.05' }),
    field('seed', 'seed', { step: '1' }),
    field('dim', 'dim', { step: '1' }),
    knobBox('tokenizer', 'tokenizer', select),
    exportJson,
  );
  // Headings scrolled to must clear the sticky bar, whatever its height (see scroll-margin-top).
  new ResizeObserver(() => document.documentElement.style.setProperty('--bar-height', `${bar.offsetHeight}px`)).observe(bar);
  return bar;
}

/** The heads select offers the divisors of the attention dimension (and a current invalid value, marked). */
function setHeadsOptions(attnDim: number, heads: number): void {
  const select = document.getElementById('knob-heads') as HTMLSelectElement | null;
  if (!select) return;
  const valid = validHeads(attnDim);
  const options = valid.includes(heads) ? valid : [...valid, heads].sort((a, b) => a - b);
  select.replaceChildren(...options.map((h) => {
    const option = Object.assign(document.createElement('option'), { value: String(h), textContent: valid.includes(h) ? String(h) : `${h} ✗` });
    if (!valid.includes(h)) option.disabled = true;
    return option;
  }));
  select.value = String(heads);
  select.dataset.attnDim = String(attnDim);
}

/**
 * With a weights file the sizes are the file's: the dim and heads knobs show the model's and are
 * read-only (changing the setting would not change the model), with a tooltip that says why.
 */
function knobsFromWeights(trace: PanelTrace): void {
  const source = trace.weightsSource ?? 'seeded';
  const fixed = source !== 'seeded';
  const why = `set by ${source}: LLM 101: Load Model… → Seeded to choose the sizes`;
  const dim = document.getElementById('knob-dim') as (HTMLElement & { value: string; disabled: boolean }) | null;
  const heads = document.getElementById('knob-heads') as HTMLSelectElement | null;
  if (fixed) setHeadsOptions(trace.config.attnDim, trace.config.heads);
  // the tokenizer the trace used (a GPT-2 checkpoint brings gpt2's unless one was chosen)
  const tokenizer = document.getElementById('knob-tokenizer') as (HTMLElement & { value: string }) | null;
  if (tokenizer && document.activeElement !== tokenizer) tokenizer.value = trace.config.tokenizer;
  for (const [el, value] of [[dim, trace.config.dim], [heads, trace.config.heads]] as const) {
    if (!el) continue;
    el.disabled = fixed;
    el.title = fixed ? why : '';
    if (fixed) el.value = String(value);
  }
}

function setKnobs(values: KnobValues): void {
  // Until a trace says otherwise, the attention dimension is dim (llm101.attnDim 0).
  setHeadsOptions(current?.trace.config.attnDim ?? values.dim, values.heads);
  for (const knob of KNOBS) {
    if (knob === 'heads') continue;
    const el = document.getElementById(`knob-${knob}`) as unknown as { value: string } | null;
    if (el && document.activeElement !== (el as unknown)) el.value = String(values[knob]);
  }
}

// ---------- rendering ----------
function labelsOf(trace: PanelTrace): string[] {
  return trace.tokens.map((t) => visible(t.text));
}

type SectionBuilder = (trace: PanelTrace, labels: string[]) => HTMLElement;

/** Each section is built on its own, so a toggle or a lazily sent stage replaces only its section. */
const BUILDERS: Record<SectionId, SectionBuilder> = {
  tokens: tokensSection,
  embeddings: embeddingsSection,
  'attention-simple': simpleSection,
  'attention-self': selfSection,
  'attention-causal': causalSection,
  'attention-heads': headsSection,
  layernorm: layerNormSection,
};

function render(): void {
  if (!current) return;
  const { trace, labels, elapsedMs } = current;
  retire(content);
  errorBox.hidden = true;
  app.dataset.state = 'ready';
  const c = trace.config;
  // A trace ran with the settings as they are: messages about refused values are old news.
  for (const knob of KNOBS) showKnobMessage(knob, undefined);
  setHeadsOptions(c.attnDim, c.heads);
  setStatus(`${trace.tokens.length} tokens · ${c.tokenizer} tokenizer (vocabulary ${c.vocabSize.toLocaleString()}) · dim ${c.dim} · attnDim ${c.attnDim} · ${c.heads} heads × ${c.headDim} columns · dropout ${c.dropout} · seed ${c.seed} · ${elapsedMs.toFixed(0)} ms`, 'ready');
  content.replaceChildren(...(Object.keys(BUILDERS) as SectionId[]).map((id) => BUILDERS[id](trace, labels)));
  // The model's sections (book chapter 4) follow when a model ran, or say why it could not.
  if (trace.model || trace.modelError !== undefined) content.append(...MODEL_SECTIONS.map((id) => MODEL_BUILDERS[id](kit, trace, labels)));
  layoutMaps();
  revealPending();
  requestVisibleGroups();
}

/** Disposes the maps and charts inside `el` (about to leave the page). */
function retire(el: HTMLElement): void {
  maps = maps.filter((map) => {
    if (!el.contains(map.canvas)) return true;
    map.dispose();
    return false;
  });
  charts = charts.filter((chart) => {
    if (!el.contains(chart.canvas)) return true;
    chart.destroy();
    return false;
  });
}

/** Rebuilds one section in place (a toggle, a group that arrived); the rest of the page stays. */
function replaceSection(id: SectionId | ModelSectionId): void {
  const old = document.getElementById(id);
  if (!current || !old) return;
  const fresh = isModelSection(id) ? MODEL_BUILDERS[id](kit, current.trace, current.labels) : BUILDERS[id](current.trace, current.labels);
  retire(old);
  old.replaceWith(fresh);
  for (const map of maps) if (!map.laidOut) layoutMap(map);
  requestVisibleGroups();
}

const isModelSection = (id: string): id is ModelSectionId => (MODEL_SECTIONS as readonly string[]).includes(id);

function section(id: SectionId | ModelSectionId, step: number, heading: string, formula: string, intro: string, weights?: PanelTrace): HTMLElement {
  const el = Object.assign(document.createElement('section'), { id });
  const h = Object.assign(document.createElement('h2'), { textContent: `${step}. ${heading}` });
  const f = Object.assign(document.createElement('code'), { className: 'formula', textContent: formula });
  const p = Object.assign(document.createElement('p'), { className: 'intro', textContent: intro });
  el.append(h, f, p);
  // Where the numbers come from weights, say whose: seeded and untrained, or a file.
  if (weights) {
    const note = Object.assign(document.createElement('p'), { className: 'weights-note' });
    note.append(Object.assign(document.createElement('i'), { className: `codicon codicon-${isSeeded(weights.weightsSource) ? 'beaker' : 'file-binary'}` }),
      document.createTextNode(` ${weightsNote(weights.weightsSource, weights.config.seed, weights.config.stages)}`));
    el.append(note);
  }
  return el;
}

/** What a figure's colour bar says besides its range: what is measured, and whether the scale is shared. */
interface FigureText {
  /** What a colour stands for, with units: "attention weight (share of the query's attention)". */
  measures: string;
  /** "own scale" or what the scale is shared with. */
  scale: string;
  caption?: string;
}

function figure(spec: HeatmapSpec, text: FigureText): HTMLElement {
  // A coded map's numbers (zoomed in) are asked of the host by its path.
  if ('codes' in spec.matrix && !spec.exact) spec = { ...spec, exact: (r, c) => cells.value(spec.name, r, c) };
  const map = new Heatmap(spec, { tooltip, onHoverToken: (query, key) => highlightEverywhere(query, key, true) });
  maps.push(map);
  const fig = Object.assign(document.createElement('figure'), { className: 'map' });
  const cap = document.createElement('figcaption');
  cap.append(Object.assign(document.createElement('span'), { className: 'title', textContent: spec.title }));
  const shape = Object.assign(document.createElement('span'), { className: 'shape', textContent: `${spec.matrix.rows}×${spec.matrix.cols}` });
  const png = iconButton('file-media', `Save ${spec.title} as PNG`, () => post({ type: 'exportPng', name: spec.name, dataUrl: map.canvas.toDataURL('image/png') }));
  const csv = iconButton('table', `Save ${spec.title} as CSV`, () => post({ type: 'exportCsv', matrix: spec.name }));
  cap.append(shape, png, csv);
  if (map.zoomable) cap.append(zoomControls(map));
  const scroll = Object.assign(document.createElement('div'), { className: 'map-scroll' });
  scroll.append(map.canvas);
  fig.append(cap, scroll, legend(map, text));
  if (text.caption) fig.append(Object.assign(document.createElement('p'), { className: 'note', textContent: text.caption }));
  return fig;
}

/** Zoom out, zoom in, whole map: visible buttons, not only Ctrl+wheel (class "zoom": the report keeps them). */
function zoomControls(map: Heatmap): HTMLElement {
  const box = Object.assign(document.createElement('span'), { className: 'zoom-controls' });
  const hint = Object.assign(document.createElement('span'), { className: 'zoom-hint', textContent: 'zoom in to read labels' });
  const sync = () => { hint.hidden = map.zoomed; };
  const button = (icon: string, label: string, act: () => void) => {
    const b = Object.assign(document.createElement('button'), { className: 'zoom', type: 'button', title: label });
    b.setAttribute('aria-label', label);
    b.append(Object.assign(document.createElement('i'), { className: `codicon codicon-${icon}` }));
    b.addEventListener('click', () => { act(); sync(); });
    return b;
  };
  box.append(hint, button('zoom-in', 'Zoom in (or Ctrl+scroll on the map)', () => map.zoomBy(0.5)),
    button('zoom-out', 'Zoom out', () => map.zoomBy(2)), button('screen-full', 'Whole map (or double-click)', () => map.resetView()));
  map.canvas.addEventListener('wheel', () => requestAnimationFrame(sync));
  map.canvas.addEventListener('dblclick', sync);
  return box;
}

function iconButton(icon: string, label: string, onClick: () => void): HTMLElement {
  const b = Object.assign(document.createElement('button'), { className: 'icon', title: label, type: 'button' });
  b.setAttribute('aria-label', label);
  b.append(Object.assign(document.createElement('i'), { className: `codicon codicon-${icon}` }));
  b.addEventListener('click', onClick);
  return b;
}

function legend(map: Heatmap, text: FigureText): HTMLElement {
  return legendFor(map.colorScale, text);
}

/** A colour bar: its ends, what a colour measures, and whether the scale is shared. */
function legendFor(scale: Scale, text: FigureText): HTMLElement {
  return colorLegend(scale, `colour: ${text.measures}; ${scaleKindText(scale.kind)}, ${text.scale}`);
}

function layoutMap(map: Heatmap): void {
  const width = map.canvas.closest('figure')?.clientWidth ?? content.clientWidth;
  map.draw(Math.max(200, width - 8));
}

function layoutMaps(): void {
  maps = maps.filter((m) => m.canvas.isConnected);
  for (const map of maps) layoutMap(map);
}
let resizeTimer: number | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(layoutMaps, 120);
});

/** Lights the query token (a row) and the key token (a column) in every map, the chips and the editor. */
function highlightEverywhere(query: number | null, key: number | null, fromPanel: boolean): void {
  for (const map of maps) map.highlight(query, key ?? query);
  // The token hovered last is the one whose next token the model section shows.
  if (fromPanel && query !== null) selectPosition(kit, query);
  for (const chip of content.querySelectorAll<HTMLElement>('.chip')) {
    const i = Number(chip.dataset.index);
    chip.classList.toggle('hot', i === query || i === key);
  }
  if (fromPanel) post(key !== null && key !== query ? { type: 'hoverToken', index: query, key } : { type: 'hoverToken', index: query });
}

/** A cell's value, or undefined while the host is asked for it. */
type CellValue = (r: number, c: number) => CellReading | undefined;

/** Values of the matrix at `path`: from the trace when it came exact, else from the host. */
function exactOf(m: PanelMap | undefined, path: string): CellValue {
  return m && 'data' in m ? (r, c) => ({ value: m.data[r * m.cols + c] ?? 0 }) : (r, c) => cells.value(path, r, c);
}

/** A shown map's values for a note's statistics: exact, or its display codes' levels (approximate). */
function cellsOf(m: PanelMap): { cells: Cells; approximate: boolean } {
  if ('data' in m) return { cells: { rows: m.rows, cols: m.cols, value: (r, c) => m.data[r * m.cols + c] ?? 0 }, approximate: false };
  const value = (r: number, c: number) => {
    const code = codeAt(m, r, c);
    return code < MAP_LEVELS ? levelValue(m.scale, code) : code === CODE_MASKED ? -Infinity : 0;
  };
  return { cells: { rows: m.rows, cols: m.cols, value }, approximate: true };
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : 'masked');
const ASKING = 'exact values: asking the extension…';
/** The last line of a tooltip that shows values from the report's display codes. */
const APPROXIMATE = '≈: to the colour scale\'s precision (the extension shows exact values)';
const approximateNote = (readings: (CellReading | undefined)[]) => (readings.some((x) => x?.mark) ? [APPROXIMATE] : []);

function attentionDescribe(labels: string[], scores: CellValue, weights: CellValue, scale: number, dropped?: CellValue) {
  return (r: number, c: number) => {
    const lines = [`query ${r} “${labels[r]}” (row) → key ${c} “${labels[c]}” (column)`];
    // All asked at once, so a missing block is one request.
    const s = scores(r, c);
    const w = weights(r, c);
    const d = dropped?.(r, c);
    if (s === undefined || w === undefined || (dropped && d === undefined)) return [...lines, ASKING];
    lines.push(`raw score ${showReading(s, fmt)}`);
    if (scale !== 1) lines.push(`scaled score ${Number.isFinite(s.value) ? showReading({ ...s, value: s.value / scale }, fmt) : 'masked (−∞)'}`);
    lines.push(`weight ${showReading(w, fmt)}`);
    if (d !== undefined) {
      lines.push(c > r ? 'future token: masked' : d.value === 0 && w.value > 0 ? 'dropped by dropout' : `after dropout ${showReading(d, fmt)}`);
    }
    return [...lines, ...approximateNote([s, w, d])];
  };
}

const valueDescribe = (rowLabels: string[], value: CellValue, what: string, rowWhat = 'token') => (r: number, c: number) => {
  const v = value(r, c);
  const row = `${rowWhat} ${r}${rowWhat === 'token' ? ` “${rowLabels[r]}”` : ''}`;
  if (v === undefined) return [row, ASKING];
  return [row, `${what} ${c}: ${showReading(v, (x) => x.toFixed(5))}`, ...approximateNote([v])];
};

function note(text: string, className = 'note'): HTMLElement {
  return Object.assign(document.createElement('p'), { className, textContent: text });
}

function tokensSection(trace: PanelTrace): HTMLElement {
  const el = section('tokens', 1, 'Tokens', `ids = encode(text)   (T = ${trace.tokens.length})`,
    `The ${trace.config.tokenizer} tokenizer splits the text into tokens and maps each to its id in a vocabulary of ${trace.config.vocabSize.toLocaleString()}.`);
  const chips = Object.assign(document.createElement('div'), { className: 'chips' });
  const labels = labelsOf(trace);
  trace.tokens.forEach((t, i) => {
    const chip = Object.assign(document.createElement('span'), { className: `chip c${i % 2}` });
    chip.dataset.index = String(i);
    chip.title = `token ${i}: id ${t.id}, characters ${t.start}–${t.end}`;
    chip.append(Object.assign(document.createElement('span'), { className: 'text', textContent: labels[i] ?? '' }),
      Object.assign(document.createElement('span'), { className: 'id', textContent: String(t.id) }));
    chip.addEventListener('mouseenter', () => highlightEverywhere(i, null, true));
    chip.addEventListener('mouseleave', () => highlightEverywhere(null, null, true));
    chips.append(chip);
  });
  el.append(chips);
  const marks = marksLegend(labels);
  el.append(note(`Each chip: the token's text above its id.${marks ? ` In the text, ${marks}.` : ''}`, 'note marks'));
  const share = trace.tokens.length ? trace.unknownCount / trace.tokens.length : 0;
  if (trace.unknownCount > 0) {
    const hint = Object.assign(document.createElement('p'), { className: share > 0.2 ? 'hint warn' : 'hint', id: 'unk-share' });
    hint.textContent = `${trace.unknownCount} of ${trace.tokens.length} tokens (${(share * 100).toFixed(0)}%) are <|unk|>: words the corpus never had.` +
      (share > 0.2 ? ' Switch the tokenizer to bpe or gpt2, which never produce unknown tokens.' : '');
    el.append(hint);
  }
  return el;
}

function embeddingsSection(trace: PanelTrace, labels: string[]): HTMLElement {
  const d = trace.config.dim;
  const el = section('embeddings', 2, 'Embeddings', `x = tok_emb[ids] + pos_emb[0..T)   (T×${d})`,
    'Each id picks a row of the token embedding; each position adds a row of the positional embedding. Their sum is what attention sees.', trace);
  const pick = toggle(['token', 'position', 'input'], views.embeddings, (v) => {
    views.embeddings = v;
    replaceSection('embeddings');
  });
  const view = views.embeddings;
  const m = trace.embeddings[view];
  const names = { token: 'token embedding', position: 'positional embedding', input: 'input = token + position' };
  // The positional embedding's rows belong to positions, not to the tokens that sit there.
  const positions = view === 'position';
  const rowLabels = positions ? labels.map((_, i) => `pos ${i}`) : labels;
  const scatter = Object.assign(document.createElement('figure'), { className: 'chart', id: 'pca' });
  scatter.append(Object.assign(document.createElement('figcaption'), { textContent: 'input embeddings, first two principal components' }));
  const canvas = document.createElement('canvas');
  const box = Object.assign(document.createElement('div'), { className: 'chart-box' });
  box.append(canvas);
  scatter.append(box, note(pcaNote(labels)));
  // The map and the scatter are read one after the other, each at the full width (labels fit).
  el.append(pick, figure({
    name: `embeddings.${view}`, title: names[view], matrix: m, rowLabels, scale: 'diverging',
    rowAxis: positions ? 'positions' : 'tokens', colAxis: `dimensions (d_in = ${d})`,
    describe: valueDescribe(rowLabels, exactOf(m, `embeddings.${view}`), 'dimension', positions ? 'position' : 'token'), rowsAreTokens: true, colsAreTokens: false,
  }, { measures: 'embedding value (no unit)', scale: 'own scale' }), scatter);
  requestAnimationFrame(() => charts.push(pcaChart(canvas, trace, labels)));
  return el;
}

/** Why a word shows up twice in the scatter: its two positions add two different rows. */
function pcaNote(labels: string[]): string {
  const first = new Map<string, number>();
  let repeat: [string, number, number] | undefined;
  labels.forEach((l, i) => {
    const at = first.get(l);
    if (at === undefined) first.set(l, i);
    else repeat ??= [l, at, i];
  });
  const example = repeat ? ` Here “${repeat[0]}” at positions ${repeat[1]} and ${repeat[2]} is two points.` : '';
  return `Each point is one token's input embedding. The same word at two positions lands in two places: the token row is the same, but each position adds its own row of the positional embedding.${example}`;
}

function toggle<T extends string>(options: T[], value: T, onPick: (v: T) => void): HTMLElement {
  const group = Object.assign(document.createElement('div'), { className: 'toggle', role: 'radiogroup' });
  for (const option of options) {
    const b = Object.assign(document.createElement('button'), { type: 'button', textContent: option });
    b.setAttribute('role', 'radio');
    b.setAttribute('aria-checked', String(option === value));
    b.dataset.value = option;
    b.addEventListener('click', () => onPick(option));
    group.append(b);
  }
  return group;
}

/** A section whose data has not been sent yet (long texts): asked for when it comes into view. */
function pendingSection(el: HTMLElement, group: LazyGroup): HTMLElement {
  el.append(pendingSlot(group, 'The maps of this stage load when it is shown…'));
  return el;
}

function pendingSlot(group: LazyGroup, text: string): HTMLElement {
  const slot = Object.assign(document.createElement('figure'), { className: 'map pending', textContent: text });
  slot.dataset.group = group;
  return slot;
}

const WEIGHT_MEASURE = 'attention weight (the share of the query\'s attention; rows sum to 1)';
const SCORE_MEASURE = 'score (dot product, no unit)';

/** An attention map's spec parts: rows are queries, columns keys. */
const ATTENTION_AXES = { rowAxis: 'queries', colAxis: 'keys', rowsAreTokens: true, colsAreTokens: true } as const;

/** The body shared by the two non-causal stages: a scores/weights toggle, the map (and its companion), the context. */
function scoresAndWeights(
  el: HTMLElement, labels: string[], stage: 'simple' | 'selfAttention', view: 'self' | 'simple', scoreTitle: string, scale: number,
  s: { scores: PanelMap; weights: PanelMap; context: PanelMap }, companion?: (showScores: boolean) => HTMLElement,
): HTMLElement {
  const pick = toggle(['scores', 'weights'], views[view], (v) => { views[view] = v; replaceSection(el.id as SectionId); });
  const showScores = views[view] === 'scores';
  const main = figure({
    name: `${stage}.${views[view]}`, title: showScores ? scoreTitle : 'attention weights', matrix: showScores ? s.scores : s.weights,
    rowLabels: labels, colLabels: labels, ...(showScores ? { scale: 'diverging' } : weightScale(labels.length)), ...ATTENTION_AXES,
    describe: attentionDescribe(labels, exactOf(s.scores, `${stage}.scores`), exactOf(s.weights, `${stage}.weights`), scale),
  }, showScores ? { measures: SCORE_MEASURE, scale: 'own scale' } : { measures: WEIGHT_MEASURE, scale: `fixed ${weightRangeText(labels.length)}` });
  let body: HTMLElement = main;
  if (companion) {
    body = Object.assign(document.createElement('div'), { className: 'pair' });
    body.append(main, companion(showScores));
  }
  el.append(pick, body, figure({
    name: `${stage}.context`, title: 'context vectors z', matrix: s.context, rowLabels: labels, scale: 'diverging',
    rowAxis: 'tokens', colAxis: 'dimensions', rowsAreTokens: true, colsAreTokens: false,
    describe: valueDescribe(labels, exactOf(s.context, `${stage}.context`), 'dimension'),
  }, { measures: 'context value (no unit)', scale: 'own scale' }));
  return el;
}

/** "0–1", "0–1.67" or "log .01–1": the fixed range weights are drawn on. */
function weightRangeText(tokens: number, p = 0): string {
  const { kind, range } = weightScaleFor(tokens, p);
  const end = (v: number) => (v > 0 && v < 0.01 ? v.toExponential(0) : formatCell(v));
  return `${kind === 'log' ? 'log ' : ''}${end(range[0])}–${end(range[1])}`;
}

function simpleSection(trace: PanelTrace, labels: string[]): HTMLElement {
  const el = section('attention-simple', 3, 'Simple attention (no trainable weights)',
    'ω = x·xᵀ   α = softmax(ω)   z = α·x   (T×T, T×T, T×d)',
    'Every token scores every other token by a dot product of their embeddings; softmax turns each row into weights that sum to 1; the context vector is the weighted sum of embeddings.', trace);
  if (!trace.simple) return pendingSection(el, 'simple');
  const journey = trace.journey;
  scoresAndWeights(el, labels, 'simple', 'simple', 'attention scores ω', 1, trace.simple, journey && ((showScores) => journeyFigure(journey, showScores)));
  const scores = cellsOf(trace.simple.scores);
  const weights = cellsOf(trace.simple.weights);
  const stats = saturation(scores.cells, weights.cells);
  const text = note(simpleAttentionNote(stats, trace.config.dim, isSeeded(trace.weightsSource), scores.approximate || weights.approximate), `note computed${saturated(stats) ? ' warn' : ''}`);
  text.id = 'simple-saturation';
  el.querySelector('.toggle')?.after(text);
  if (!journey) el.append(note('The book\'s 3-d example, “Your journey starts with one step”, mixes its tokens: run llm101 analyze --example journey to see its numbers.'));
  return el;
}

/** The book's six 3-d tokens through the same stage, beside the user's map. */
function journeyFigure(journey: JourneyAttention, showScores: boolean): HTMLElement {
  const labels = journey.tokens;
  const m = showScores ? journey.scores : journey.weights;
  const describe = attentionDescribe(labels, exactOf(journey.scores, ''), exactOf(journey.weights, ''), 1);
  const fig = figure({
    name: `journey.${showScores ? 'scores' : 'weights'}`, title: `book example: ${showScores ? 'scores ω' : 'weights'}`, matrix: m,
    rowLabels: labels, colLabels: labels, ...(showScores ? { scale: 'diverging' as const } : weightScale(labels.length)), ...ATTENTION_AXES,
    // Its tokens are not the user's: hovering them lights nothing else.
    rowsAreTokens: false, colsAreTokens: false, describe,
  }, showScores ? { measures: SCORE_MEASURE, scale: 'own scale' } : { measures: WEIGHT_MEASURE, scale: `fixed ${weightRangeText(labels.length)}` });
  fig.id = 'journey';
  for (const b of fig.querySelectorAll('button.icon')) b.remove(); // not part of the trace: nothing to export
  fig.append(note(journeyNote(saturation(cellsOf(journey.scores).cells, cellsOf(journey.weights).cells))));
  return fig;
}

function selfSection(trace: PanelTrace, labels: string[]): HTMLElement {
  const dk = trace.config.attnDim;
  const el = section('attention-self', 4, 'Self-attention with trainable Q, K, V',
    `Q = x·W_qᵀ  K = x·W_kᵀ  V = x·W_vᵀ   α = softmax(Q·Kᵀ / √${dk})   z = α·V   (T×${dk})`,
    'Trainable matrices turn each embedding into a query, a key and a value. Scores are scaled by √d_k so softmax does not saturate.', trace);
  return trace.selfAttention
    ? scoresAndWeights(el, labels, 'selfAttention', 'self', 'scores Q·Kᵀ', Math.sqrt(dk), trace.selfAttention)
    : pendingSection(el, 'selfAttention');
}

/** Above the diagonal: a key after the query, hidden by the causal mask. */
const future = (r: number, c: number) => c > r;

/** Cells dropout zeroed, for exact maps (coded maps mark them in their codes). */
function droppedTest(weights: PanelMap | undefined, droppedWeights: PanelMap) {
  if (!weights || !('data' in weights) || !('data' in droppedWeights)) return undefined;
  const cols = weights.cols;
  return (r: number, c: number) => c <= r && (weights.data[r * cols + c] ?? 0) > 0 && droppedWeights.data[r * cols + c] === 0;
}

function causalSection(trace: PanelTrace, labels: string[]): HTMLElement {
  const s = trace.causal;
  const dk = trace.config.attnDim;
  const p = trace.config.dropout;
  const keep = (1 / (1 - p)).toFixed(3);
  const el = section('attention-causal', 5, 'Causal attention with dropout',
    `α = softmax(mask(Q·Kᵀ) / √${dk})   α' = dropout(α, p = ${p})   z = α'·V`,
    `A token may only look back: scores above the diagonal are masked (hatched) before softmax. In training, dropout zeroes each weight with probability ${p} (crossed cells) and scales the rest by 1/(1−p) = ${keep}.`, trace);
  if (!s) return pendingSection(el, 'causal');
  const describe = attentionDescribe(labels, exactOf(s.maskedScores, 'causal.maskedScores'), exactOf(s.weights, 'causal.weights'),
    Math.sqrt(dk), exactOf(s.droppedWeights, 'causal.droppedWeights'));
  const pair = Object.assign(document.createElement('div'), { className: 'pair' });
  const colours = weightScale(labels.length, p);
  const shared = { measures: WEIGHT_MEASURE, scale: `one ${weightRangeText(labels.length, p)} scale for both maps and every head` };
  pair.append(figure({
    name: 'causal.weights', title: 'weights before dropout', matrix: s.weights, rowLabels: labels, colLabels: labels,
    ...colours, ...ATTENTION_AXES, describe, masked: future,
  }, shared), figure({
    name: 'causal.droppedWeights', title: 'weights after dropout', matrix: s.droppedWeights, rowLabels: labels, colLabels: labels,
    ...colours, ...ATTENTION_AXES, dropped: droppedTest(s.weights, s.droppedWeights), describe, masked: future,
  }, {
    ...shared,
    measures: 'weight after dropout (kept weights × 1/(1−p); rows need not sum to 1)',
    caption: p > 0
      ? `After dropout a row no longer sums to 1: each kept weight is multiplied by 1/(1−p) = ${keep}, so the sum is right on average over many masks, not in each row. Crossed cells were dropped (set to 0).`
      : 'Dropout is 0: nothing is dropped and the two maps are equal.',
  }));
  el.append(pair, figure({
    name: 'causal.context', title: 'context vectors z', matrix: s.context, rowLabels: labels, scale: 'diverging',
    rowAxis: 'tokens', colAxis: 'dimensions', rowsAreTokens: true, colsAreTokens: false,
    describe: valueDescribe(labels, exactOf(s.context, 'causal.context'), 'dimension'),
  }, { measures: 'context value (no unit)', scale: 'own scale' }));
  return el;
}

function headsSection(trace: PanelTrace, labels: string[]): HTMLElement {
  const m = trace.multiHead;
  const c = trace.config;
  const el = section('attention-heads', 6, `Multi-head attention (${c.heads} heads)`,
    `head_h = causal attention on ${c.headDim} of the ${c.attnDim} columns, for h = 1, 2, …, ${c.heads}\nout = concat(head_1, …, head_${c.heads})·W_oᵀ + b   (T×${c.attnDim})`,
    'Each head has its own slice of the query, key and value projections and learns its own pattern; their contexts are concatenated and mixed by an output projection.', trace);
  el.append(note(`Each map is one head's weights after dropout, rows = queries, columns = keys, all on the causal maps' colour scale (${weightRangeText(labels.length, c.dropout)}), so heads compare directly.`));
  const grid = Object.assign(document.createElement('div'), { className: 'heads', id: 'head-grid' });
  m.heads.forEach((head, h) => {
    if (head) {
      grid.append(headFigure(trace, labels, head, h));
      return;
    }
    grid.append(pendingSlot(`head:${h}`, `head ${h + 1}: loads when shown…`));
  });
  const pair = Object.assign(document.createElement('div'), { className: 'pair' });
  pair.append(figure({
    name: 'multiHead.concat', title: 'concatenated head contexts', matrix: m.concat, rowLabels: labels, scale: 'diverging',
    rowAxis: 'tokens', colAxis: `columns (head 1 | … | head ${c.heads})`, rowsAreTokens: true, colsAreTokens: false,
    describe: valueDescribe(labels, exactOf(m.concat, 'multiHead.concat'), 'column'),
  }, { measures: 'context value (no unit)', scale: 'own scale' }), figure({
    name: 'multiHead.output', title: 'output projection', matrix: m.output, rowLabels: labels, scale: 'diverging',
    rowAxis: 'tokens', colAxis: 'columns (d_out)', rowsAreTokens: true, colsAreTokens: false,
    describe: valueDescribe(labels, exactOf(m.output, 'multiHead.output'), 'column'),
  }, { measures: 'output value (no unit)', scale: 'own scale (not the concat map\'s)' }));
  el.append(grid, pair);
  return el;
}

/** Colours for exact attention weights: the shared rule the host also encodes long texts with. */
function weightScale(tokens: number, p = 0): Pick<HeatmapSpec, 'scale' | 'range'> {
  const { kind, range } = weightScaleFor(tokens, p);
  return { scale: kind, range };
}

function headFigure(trace: PanelTrace, labels: string[], head: PanelHead, h: number): HTMLElement {
  const c = trace.config;
  return figure({
    name: `multiHead.heads.${h}.droppedWeights`, title: `head ${h + 1}`, matrix: head.droppedWeights, rowLabels: labels, colLabels: labels,
    ...weightScale(labels.length, c.dropout), ...ATTENTION_AXES, dropped: droppedTest(head.weights, head.droppedWeights), masked: future,
    describe: attentionDescribe(labels, exactOf(head.scores, `multiHead.heads.${h}.scores`), exactOf(head.weights, `multiHead.heads.${h}.weights`),
      Math.sqrt(c.headDim), exactOf(head.droppedWeights, `multiHead.heads.${h}.droppedWeights`)),
  }, { measures: 'weight after dropout', scale: 'shared by every head' });
}

/**
 * Asks the host for every pending group that is on screen or within 400 px of it, nearest the
 * middle of the screen first: the host answers in order over one channel, so the section the
 * user scrolled to comes before its neighbours.
 */
function requestVisibleGroups(): void {
  if (!current) return;
  const wanted: { slot: HTMLElement; fromMiddle: number }[] = [];
  for (const slot of document.querySelectorAll<HTMLElement>('figure.pending[data-group]:not([data-requested])')) {
    const box = slot.getBoundingClientRect();
    if (box.bottom < -400 || box.top > window.innerHeight + 400) continue;
    wanted.push({ slot, fromMiddle: Math.abs((box.top + box.bottom) / 2 - window.innerHeight / 2) });
  }
  wanted.sort((a, b) => a.fromMiddle - b.fromMiddle);
  for (const { slot } of wanted) {
    slot.dataset.requested = '1';
    post({ type: 'requestGroup', runId: current.runId, group: slot.dataset.group as LazyGroup });
  }
}
let scrollTimer: number | undefined;
window.addEventListener('scroll', () => {
  clearTimeout(scrollTimer);
  scrollTimer = window.setTimeout(requestVisibleGroups, 80);
}, { passive: true });

const GROUP_SECTIONS: Record<'simple' | 'selfAttention' | 'causal', SectionId> = {
  simple: 'attention-simple',
  selfAttention: 'attention-self',
  causal: 'attention-causal',
};

function receiveGroup(runId: number, group: LazyGroup, data: object): void {
  if (!current || runId !== current.runId) return;
  const { trace, labels } = current;
  if (group.startsWith('head:')) {
    const index = Number(group.slice(5));
    const head = data as PanelHead;
    trace.multiHead.heads[index] = head;
    document.querySelector(`figure.pending[data-group="${group}"]`)?.replaceWith(headFigure(trace, labels, head, index));
    for (const map of maps) if (!map.laidOut) layoutMap(map);
    requestVisibleGroups();
    return;
  }
  if (receiveModelGroup(kit, runId, group, data)) return;
  const key = group as keyof typeof GROUP_SECTIONS;
  (trace as unknown as Record<string, object>)[key] = data;
  replaceSection(GROUP_SECTIONS[key]);
}

function layerNormSection(trace: PanelTrace, labels: string[]): HTMLElement {
  const ln = trace.layerNorm;
  const el = section('layernorm', 7, 'Layer normalisation',
    'y = scale · (x − μ) / √(σ² + ε) + shift   (ε = 1e-5)\nμ, σ²: mean and variance of each token\'s columns',
    'Each token\'s multi-head output is shifted to mean 0 and scaled to variance 1 (then scale and shift, 1 and 0 before training).', trace);
  el.append(note('This page follows the book\'s chapter 3 order: multi-head attention, then layer norm. A GPT block normalises first and adds the input back (the residual, or shortcut): x + MultiHead(LayerNorm(x)). The residual is not drawn here.', 'note residual'));
  const fig = Object.assign(document.createElement('figure'), { className: 'chart pair', id: 'layernorm-chart' });
  const chartCanvas = () => {
    const box = Object.assign(document.createElement('div'), { className: 'chart-box wide' });
    const canvas = document.createElement('canvas');
    box.append(canvas);
    fig.append(box);
    return canvas;
  };
  const meanCanvas = chartCanvas();
  const varianceCanvas = chartCanvas();
  const table = document.createElement('table');
  table.id = 'layernorm-table';
  table.innerHTML = '<thead><tr><th>#</th><th>token</th><th>mean before</th><th>variance before</th><th>mean after</th><th>variance after</th></tr></thead>';
  const body = document.createElement('tbody');
  const rows = Math.min(labels.length, 512);
  for (let i = 0; i < rows; i++) {
    const tr = document.createElement('tr');
    for (const cell of [String(i), labels[i] ?? '', ln.mean[i], ln.variance[i], ln.outputMean[i], ln.outputVariance[i]]) {
      tr.append(Object.assign(document.createElement('td'), { textContent: typeof cell === 'number' ? fixed(cell) : cell ?? '' }));
    }
    body.append(tr);
  }
  table.append(body);
  const tableBox = Object.assign(document.createElement('div'), { className: 'table-box' });
  tableBox.append(table);
  el.append(fig, figure({
    name: 'layerNorm.output', title: 'normalised output', matrix: ln.output, rowLabels: labels, scale: 'diverging',
    rowAxis: 'tokens', colAxis: 'columns', rowsAreTokens: true, colsAreTokens: false,
    describe: valueDescribe(labels, exactOf(ln.output, 'layerNorm.output'), 'column'),
  }, { measures: 'normalised value (standard deviations from the token\'s mean)', scale: 'own scale' }), tableBox,
  note('Variance after is σ² / (σ² + ε), a little under 1 (0.9999… for these sizes), because ε = 1e-5 keeps the division safe. Means after are 0 up to float32 rounding (about 1e-8), shown as 0.00000.', 'note epsilon'));
  requestAnimationFrame(() => charts.push(
    layerNormChart(meanCanvas, labels, 'mean', ln.mean, ln.outputMean),
    layerNormChart(varianceCanvas, labels, 'variance', ln.variance, ln.outputVariance),
  ));
  return el;
}

/** What the model sections (webview/model.ts) use of this page. */
const kit: ModelKit = {
  post,
  section: (id, step, heading, formula, intro) => section(id, step, heading, formula, intro),
  figure,
  note,
  pendingSlot,
  legend: legendFor,
  keep: (chart) => { charts.push(chart); },
  replaceSection,
  weightColours: (tokens) => weightScale(tokens),
  weightRangeText: (tokens) => weightRangeText(tokens),
};

post({ type: 'ready' });
