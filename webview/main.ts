// The panel app: receives a trace from the extension host and draws it. It computes nothing
// about the model; the only arithmetic here is for display (scaling a score for a tooltip).
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { Chart } from 'chart.js';
import { parseHostMessage, KNOBS, type HostMessage, type Knob, type KnobValues, type LazyGroup, type PanelHead, type PanelMap, type PanelTrace, type SectionId, type WebviewMessage } from '../src/shared/protocol';
import { weightScale as weightScaleFor } from '../src/display/codes';
import { ExactCells, showReading, type CellReading } from './cells';
import { Heatmap, formatCell, type HeatmapSpec } from './heatmap';
import { pcaChart, layerNormChart } from './charts';
import { colorOf, css } from './colors';

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
      render();
      requestAnimationFrame(() => post({ type: 'rendered', runId: message.runId, ms: performance.now() - t0 }));
      return;
    }
    case 'busy':
      setStatus(`Computing… ${message.stage}`, 'busy');
      return;
    case 'error':
      showError(message.message);
      return;
    case 'knobs':
      setKnobs(message.values);
      return;
    case 'reveal':
      // Before the first trace there is nothing to scroll to yet: remember it for render().
      pendingReveal = message.section;
      if (current) revealPending();
      return;
    case 'highlightToken':
      highlightEverywhere(message.index, false);
      return;
    case 'group':
      receiveGroup(message.runId, message.group, message.data);
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

function showError(message: string): void {
  errorBox.hidden = false;
  errorBox.replaceChildren(Object.assign(document.createElement('strong'), { textContent: 'Cannot analyze: ' }), document.createTextNode(message));
  app.dataset.state = 'error';
  setStatus(current ? 'Showing the last result that worked.' : '', 'error');
}

function buildToolbar(): HTMLElement {
  const bar = Object.assign(document.createElement('form'), { id: 'knobs' });
  bar.addEventListener('submit', (e) => e.preventDefault());
  const field = (knob: Knob, label: string, attrs: Record<string, string>) => {
    const wrap = Object.assign(document.createElement('label'), { className: 'knob' });
    const input = document.createElement('vscode-textfield');
    input.id = `knob-${knob}`;
    input.setAttribute('type', 'number');
    for (const [k, v] of Object.entries(attrs)) input.setAttribute(k, v);
    const commit = () => {
      const value = Number((input as unknown as { value: string }).value);
      if (Number.isFinite(value)) post({ type: 'setKnob', knob, value });
    };
    input.addEventListener('change', commit);
    input.addEventListener('keydown', (e) => { if ((e as KeyboardEvent).key === 'Enter') commit(); });
    wrap.append(Object.assign(document.createElement('span'), { textContent: label }), input);
    return wrap;
  };
  const tokenizer = Object.assign(document.createElement('label'), { className: 'knob' });
  const select = document.createElement('vscode-single-select');
  select.id = 'knob-tokenizer';
  for (const kind of ['word', 'bpe', 'gpt2']) {
    const option = document.createElement('vscode-option');
    option.setAttribute('value', kind);
    option.textContent = kind;
    select.append(option);
  }
  select.addEventListener('change', () => post({ type: 'setKnob', knob: 'tokenizer', value: (select as unknown as { value: string }).value }));
  tokenizer.append(Object.assign(document.createElement('span'), { textContent: 'tokenizer' }), select);

  const exportJson = document.createElement('vscode-button');
  exportJson.id = 'export-json';
  exportJson.setAttribute('secondary', '');
  exportJson.textContent = 'Export trace (JSON)';
  exportJson.addEventListener('click', () => post({ type: 'exportJson' }));

  bar.append(
    field('heads', 'heads', { min: '1', step: '1' }),
    field('dropout', 'dropout', { min: '0', max: '0.99', step: '0.05' }),
    field('seed', 'seed', { min: '0', step: '1' }),
    field('dim', 'dim', { min: '1', step: '1' }),
    tokenizer,
    exportJson,
  );
  return bar;
}

function setKnobs(values: KnobValues): void {
  for (const knob of KNOBS) {
    const el = document.getElementById(`knob-${knob}`) as unknown as { value: string } | null;
    if (el && document.activeElement !== (el as unknown)) el.value = String(values[knob]);
  }
}

// ---------- rendering ----------
function labelsOf(trace: PanelTrace): string[] {
  return trace.tokens.map((t) => visible(t.text));
}

/** Whitespace made visible: a token's text as a label. */
function visible(text: string): string {
  return text.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '→').replace(/\r/g, '␍') || '∅';
}

function render(): void {
  if (!current) return;
  const { trace, labels, elapsedMs } = current;
  for (const chart of charts) chart.destroy();
  charts = [];
  maps = [];
  errorBox.hidden = true;
  app.dataset.state = 'ready';
  const c = trace.config;
  setStatus(`${trace.tokens.length} tokens · ${c.tokenizer} tokenizer (vocabulary ${c.vocabSize.toLocaleString()}) · dim ${c.dim} · attnDim ${c.attnDim} · ${c.heads} heads × ${c.headDim} columns · dropout ${c.dropout} · seed ${c.seed} · ${elapsedMs.toFixed(0)} ms`, 'ready');
  content.replaceChildren(
    tokensSection(trace),
    embeddingsSection(trace, labels),
    simpleSection(trace, labels),
    selfSection(trace, labels),
    causalSection(trace, labels),
    headsSection(trace, labels),
    layerNormSection(trace, labels),
  );
  layoutMaps();
  revealPending();
  requestVisibleGroups();
}

function section(id: SectionId, step: number, heading: string, formula: string, intro: string): HTMLElement {
  const el = Object.assign(document.createElement('section'), { id });
  const h = Object.assign(document.createElement('h2'), { textContent: `${step}. ${heading}` });
  const f = Object.assign(document.createElement('code'), { className: 'formula', textContent: formula });
  const p = Object.assign(document.createElement('p'), { className: 'intro', textContent: intro });
  el.append(h, f, p);
  return el;
}

function figure(spec: HeatmapSpec, caption?: string): HTMLElement {
  // A coded map's numbers (zoomed in) are asked of the host by its path.
  if ('codes' in spec.matrix) spec = { ...spec, exact: (r, c) => cells.value(spec.name, r, c) };
  const map = new Heatmap(spec, { tooltip, onHoverToken: (i) => highlightEverywhere(i, true) });
  maps.push(map);
  const fig = Object.assign(document.createElement('figure'), { className: 'map' });
  const cap = document.createElement('figcaption');
  cap.append(Object.assign(document.createElement('span'), { textContent: spec.title }));
  const shape = Object.assign(document.createElement('span'), { className: 'shape', textContent: `${spec.matrix.rows}×${spec.matrix.cols}` });
  const png = iconButton('file-media', `Save ${spec.title} as PNG`, () => post({ type: 'exportPng', name: spec.name, dataUrl: map.canvas.toDataURL('image/png') }));
  const csv = iconButton('table', `Save ${spec.title} as CSV`, () => post({ type: 'exportCsv', matrix: spec.name }));
  cap.append(shape, png, csv);
  const scroll = Object.assign(document.createElement('div'), { className: 'map-scroll' });
  scroll.append(map.canvas);
  fig.append(cap, scroll, legend(map));
  if (caption) fig.append(Object.assign(document.createElement('p'), { className: 'note', textContent: caption }));
  return fig;
}

function iconButton(icon: string, label: string, onClick: () => void): HTMLElement {
  const b = Object.assign(document.createElement('button'), { className: 'icon', title: label, type: 'button' });
  b.setAttribute('aria-label', label);
  b.append(Object.assign(document.createElement('i'), { className: `codicon codicon-${icon}` }));
  b.addEventListener('click', onClick);
  return b;
}

function legend(map: Heatmap): HTMLElement {
  const { min, max, kind } = map.colorScale;
  const el = Object.assign(document.createElement('div'), { className: 'legend' });
  const lo = kind === 'diverging' ? -Math.max(Math.abs(min), Math.abs(max)) : min;
  const hi = kind === 'diverging' ? -lo : max;
  const at = (f: number) => (kind === 'log' ? lo * (hi / lo) ** f : lo + (hi - lo) * f);
  const stops = Array.from({ length: 11 }, (_, i) => css(colorOf(map.colorScale, at(i / 10))));
  const bar = Object.assign(document.createElement('span'), { className: 'bar' });
  bar.style.background = `linear-gradient(to right, ${stops.join(', ')})`;
  const label = (v: number) => (kind === 'log' ? (v < 0.01 ? v.toExponential(0) : formatCell(v)) : formatCell(v));
  el.append(Object.assign(document.createElement('span'), { textContent: label(lo) }), bar,
    Object.assign(document.createElement('span'), { textContent: kind === 'log' ? `${label(hi)} (log scale)` : label(hi) }));
  return el;
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

function highlightEverywhere(index: number | null, fromPanel: boolean): void {
  for (const map of maps) map.highlight(index);
  for (const chip of content.querySelectorAll<HTMLElement>('.chip')) chip.classList.toggle('hot', Number(chip.dataset.index) === index);
  if (fromPanel) post({ type: 'hoverToken', index });
}

/** A cell's value, or undefined while the host is asked for it. */
type CellValue = (r: number, c: number) => CellReading | undefined;

/** Values of the matrix at `path`: from the trace when it came exact, else from the host. */
function exactOf(m: PanelMap | undefined, path: string): CellValue {
  return m && 'data' in m ? (r, c) => ({ value: m.data[r * m.cols + c] ?? 0 }) : (r, c) => cells.value(path, r, c);
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : 'masked');
const ASKING = 'exact values: asking the extension…';
/** The last line of a tooltip that shows values from the report's display codes. */
const APPROXIMATE = '≈: to the colour scale\'s precision (the extension shows exact values)';
const approximateNote = (readings: (CellReading | undefined)[]) => (readings.some((x) => x?.mark) ? [APPROXIMATE] : []);

function attentionDescribe(labels: string[], scores: CellValue, weights: CellValue, scale: number, dropped?: CellValue) {
  return (r: number, c: number) => {
    const lines = [`query ${r} “${labels[r]}” → key ${c} “${labels[c]}”`];
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

const valueDescribe = (labels: string[], value: CellValue, what: string) => (r: number, c: number) => {
  const v = value(r, c);
  if (v === undefined) return [`token ${r} “${labels[r]}”`, ASKING];
  return [`token ${r} “${labels[r]}”`, `${what} ${c}: ${showReading(v, (x) => x.toFixed(5))}`, ...approximateNote([v])];
};

function tokensSection(trace: PanelTrace): HTMLElement {
  const el = section('tokens', 1, 'Tokens', `ids = encode(text)   (T = ${trace.tokens.length})`,
    `The ${trace.config.tokenizer} tokenizer splits the text into tokens and maps each to its id in a vocabulary of ${trace.config.vocabSize.toLocaleString()}.`);
  const chips = Object.assign(document.createElement('div'), { className: 'chips' });
  trace.tokens.forEach((t, i) => {
    const chip = Object.assign(document.createElement('span'), { className: `chip c${i % 2}` });
    chip.dataset.index = String(i);
    chip.title = `token ${i}: id ${t.id}, characters ${t.start}–${t.end}`;
    chip.append(Object.assign(document.createElement('span'), { className: 'text', textContent: visible(t.text) }),
      Object.assign(document.createElement('span'), { className: 'id', textContent: String(t.id) }));
    chip.addEventListener('mouseenter', () => highlightEverywhere(i, true));
    chip.addEventListener('mouseleave', () => highlightEverywhere(null, true));
    chips.append(chip);
  });
  el.append(chips);
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
    'Each id picks a row of the token embedding; each position adds a row of the positional embedding. Their sum is what attention sees.');
  const pick = toggle(['token', 'position', 'input'], views.embeddings, (v) => {
    views.embeddings = v;
    rerenderAt('embeddings');
  });
  const m = trace.embeddings[views.embeddings];
  const names = { token: 'token embedding', position: 'positional embedding', input: 'input = token + position' };
  const grid = Object.assign(document.createElement('div'), { className: 'pair' });
  const scatter = Object.assign(document.createElement('figure'), { className: 'chart', id: 'pca' });
  scatter.append(Object.assign(document.createElement('figcaption'), { textContent: 'input embeddings, first two principal components' }));
  const canvas = document.createElement('canvas');
  const box = Object.assign(document.createElement('div'), { className: 'chart-box' });
  box.append(canvas);
  scatter.append(box);
  grid.append(figure({
    name: `embeddings.${views.embeddings}`, title: names[views.embeddings], matrix: m, rowLabels: labels, scale: 'diverging',
    describe: valueDescribe(labels, exactOf(m, `embeddings.${views.embeddings}`), 'dimension'), rowsAreTokens: true, colsAreTokens: false,
  }), scatter);
  el.append(pick, grid);
  requestAnimationFrame(() => charts.push(pcaChart(canvas, trace, labels)));
  return el;
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

function rerenderAt(id: SectionId): void {
  render();
  document.getElementById(id)?.scrollIntoView({ block: 'start' });
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

/** The body shared by the two non-causal stages: a scores/weights toggle, the map, the context. */
function scoresAndWeights(
  el: HTMLElement, labels: string[], stage: 'simple' | 'selfAttention', view: 'self' | 'simple', scoreTitle: string, scale: number,
  s: { scores: PanelMap; weights: PanelMap; context: PanelMap },
): HTMLElement {
  const pick = toggle(['scores', 'weights'], views[view], (v) => { views[view] = v; rerenderAt(el.id as SectionId); });
  const showScores = views[view] === 'scores';
  el.append(pick, figure({
    name: `${stage}.${views[view]}`, title: showScores ? scoreTitle : 'attention weights', matrix: showScores ? s.scores : s.weights,
    rowLabels: labels, colLabels: labels, ...(showScores ? { scale: 'diverging' } : weightScale(labels.length)),
    describe: attentionDescribe(labels, exactOf(s.scores, `${stage}.scores`), exactOf(s.weights, `${stage}.weights`), scale),
    rowsAreTokens: true, colsAreTokens: true,
  }), figure({
    name: `${stage}.context`, title: 'context vectors z', matrix: s.context, rowLabels: labels, scale: 'diverging',
    describe: valueDescribe(labels, exactOf(s.context, `${stage}.context`), 'dimension'), rowsAreTokens: true, colsAreTokens: false,
  }));
  return el;
}

function simpleSection(trace: PanelTrace, labels: string[]): HTMLElement {
  const el = section('attention-simple', 3, 'Simple attention (no trainable weights)',
    'ω = x·xᵀ   α = softmax(ω)   z = α·x   (T×T, T×T, T×d)',
    'Every token scores every other token by a dot product of their embeddings; softmax turns each row into weights that sum to 1; the context vector is the weighted sum of embeddings.');
  return trace.simple ? scoresAndWeights(el, labels, 'simple', 'simple', 'attention scores ω', 1, trace.simple) : pendingSection(el, 'simple');
}

function selfSection(trace: PanelTrace, labels: string[]): HTMLElement {
  const dk = trace.config.attnDim;
  const el = section('attention-self', 4, 'Self-attention with trainable Q, K, V',
    `Q = x·W_qᵀ  K = x·W_kᵀ  V = x·W_vᵀ   α = softmax(Q·Kᵀ / √${dk})   z = α·V   (T×${dk})`,
    'Trainable matrices turn each embedding into a query, a key and a value. Scores are scaled by √d_k so softmax does not saturate.');
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
  const el = section('attention-causal', 5, 'Causal attention with dropout',
    `α = softmax(mask(Q·Kᵀ) / √${dk})   α' = dropout(α, p = ${p})   z = α'·V`,
    `A token may only look back: scores above the diagonal are masked (hatched) before softmax. In training, dropout zeroes each weight with probability ${p} (crossed cells) and scales the rest by 1/(1−p) = ${(1 / (1 - p)).toFixed(3)}.`);
  if (!s) return pendingSection(el, 'causal');
  const describe = attentionDescribe(labels, exactOf(s.maskedScores, 'causal.maskedScores'), exactOf(s.weights, 'causal.weights'),
    Math.sqrt(dk), exactOf(s.droppedWeights, 'causal.droppedWeights'));
  const pair = Object.assign(document.createElement('div'), { className: 'pair' });
  const colours = weightScale(labels.length, p);
  pair.append(figure({
    name: 'causal.weights', title: 'weights before dropout', matrix: s.weights, rowLabels: labels, colLabels: labels,
    ...colours, describe, rowsAreTokens: true, colsAreTokens: true, masked: future,
  }), figure({
    name: 'causal.droppedWeights', title: 'weights after dropout', matrix: s.droppedWeights, rowLabels: labels, colLabels: labels,
    ...colours, dropped: droppedTest(s.weights, s.droppedWeights), describe,
    rowsAreTokens: true, colsAreTokens: true, masked: future,
  }));
  el.append(pair, figure({
    name: 'causal.context', title: 'context vectors z', matrix: s.context, rowLabels: labels, scale: 'diverging',
    describe: valueDescribe(labels, exactOf(s.context, 'causal.context'), 'dimension'), rowsAreTokens: true, colsAreTokens: false,
  }));
  return el;
}

function headsSection(trace: PanelTrace, labels: string[]): HTMLElement {
  const m = trace.multiHead;
  const c = trace.config;
  const el = section('attention-heads', 6, `Multi-head attention (${c.heads} heads)`,
    `head_h = causal attention on ${c.headDim} of ${c.attnDim} columns   out = concat(head_1…head_${c.heads})·W_oᵀ + b   (T×${c.attnDim})`,
    'Each head has its own slice of the query, key and value projections and learns its own pattern; their contexts are concatenated and mixed by an output projection.');
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
    describe: valueDescribe(labels, exactOf(m.concat, 'multiHead.concat'), 'column'), rowsAreTokens: true, colsAreTokens: false,
  }), figure({
    name: 'multiHead.output', title: 'output projection', matrix: m.output, rowLabels: labels, scale: 'diverging',
    describe: valueDescribe(labels, exactOf(m.output, 'multiHead.output'), 'column'), rowsAreTokens: true, colsAreTokens: false,
  }));
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
    ...weightScale(labels.length, c.dropout), dropped: droppedTest(head.weights, head.droppedWeights), masked: future,
    describe: attentionDescribe(labels, exactOf(head.scores, `multiHead.heads.${h}.scores`), exactOf(head.weights, `multiHead.heads.${h}.weights`),
      Math.sqrt(c.headDim), exactOf(head.droppedWeights, `multiHead.heads.${h}.droppedWeights`)),
    rowsAreTokens: true, colsAreTokens: true,
  });
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

const GROUP_SECTIONS = {
  simple: ['attention-simple', simpleSection],
  selfAttention: ['attention-self', selfSection],
  causal: ['attention-causal', causalSection],
} as const;

function receiveGroup(runId: number, group: LazyGroup, data: object): void {
  if (!current || runId !== current.runId) return;
  const { trace, labels } = current;
  if (group.startsWith('head:')) {
    const index = Number(group.slice(5));
    const head = data as PanelHead;
    trace.multiHead.heads[index] = head;
    document.querySelector(`figure.pending[data-group="${group}"]`)?.replaceWith(headFigure(trace, labels, head, index));
  } else {
    const key = group as keyof typeof GROUP_SECTIONS;
    (trace as unknown as Record<string, object>)[key] = data;
    const [id, build] = GROUP_SECTIONS[key];
    document.getElementById(id)?.replaceWith(build(trace, labels));
  }
  // Maps whose canvas left the page are dropped; the new ones are laid out.
  maps = maps.filter((m) => m.canvas.isConnected);
  for (const map of maps) if (!map.laidOut) layoutMap(map);
  requestVisibleGroups();
}

function layerNormSection(trace: PanelTrace, labels: string[]): HTMLElement {
  const ln = trace.layerNorm;
  const el = section('layernorm', 7, 'Layer normalisation',
    'y = scale · (x − μ) / √(σ² + 1e-5) + shift   per token, over its columns',
    'Each token\'s multi-head output is shifted to mean 0 and scaled to variance 1 (then scale and shift, 1 and 0 before training).');
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
      tr.append(Object.assign(document.createElement('td'), { textContent: typeof cell === 'number' ? cell.toFixed(5) : cell ?? '' }));
    }
    body.append(tr);
  }
  table.append(body);
  const tableBox = Object.assign(document.createElement('div'), { className: 'table-box' });
  tableBox.append(table);
  el.append(fig, figure({
    name: 'layerNorm.output', title: 'normalised output', matrix: ln.output, rowLabels: labels, scale: 'diverging',
    describe: valueDescribe(labels, exactOf(ln.output, 'layerNorm.output'), 'column'), rowsAreTokens: true, colsAreTokens: false,
  }), tableBox);
  requestAnimationFrame(() => charts.push(
    layerNormChart(meanCanvas, labels, 'mean', ln.mean, ln.outputMean),
    layerNormChart(varianceCanvas, labels, 'variance', ln.variance, ln.outputVariance),
  ));
  return el;
}

post({ type: 'ready' });
