// The compare view: two models on the same text. For every map, A's and B's side by side and
// their difference A − B where the shapes agree (or both shapes, and why, where they do not);
// then the next-token probabilities of both. It draws what the engine sent and computes nothing.
import { parseCompareHostMessage, type CompareMap, type CompareSide, type CompareView, type CompareWebviewMessage } from '../src/shared/compareProtocol';
import { codeValues, type MapCodes } from '../src/shared/codes';
import { windowRangeText } from '../src/shared/windowText';
import { Heatmap, formatCell } from './heatmap';
import { colorLegend, scaleKindText } from './legend';
import { visible } from './notes';
import { el, hostLine } from './dom';
import { counted } from '../src/shared/counted';

const post = hostLine<CompareWebviewMessage>().postMessage;

const app = document.getElementById('app') as HTMLElement;
const tooltip = Object.assign(document.createElement('div'), { id: 'tooltip', hidden: true, role: 'tooltip' });
document.body.append(tooltip);

/** Every map drawn, to lay out again when the panel's width changes. */
let maps: Heatmap[] = [];
/** Rows of maps are built when they come near the viewport (a 12 × 12 model has 144 rows). */
const lazy = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    lazy.unobserve(entry.target);
    (entry.target as HTMLElement & { build?: () => void }).build?.();
  }
}, { rootMargin: '600px 0px' });

window.addEventListener('message', (event: MessageEvent) => {
  const message = parseCompareHostMessage(event.data);
  if (!message) {
    post({ type: 'log', level: 'error', message: `ignored a malformed message: ${String((event.data as { type?: unknown })?.type)}` });
    return;
  }
  switch (message.type) {
    case 'busy':
      setStatus(`Comparing… ${message.stage}`, 'busy');
      return;
    case 'error':
      showError(message.message);
      return;
    case 'compare':
      render(message.view, message.title, message.elapsedMs);
  }
});
window.addEventListener('error', (e) => post({ type: 'log', level: 'error', message: e.message }));

const status = el('div', { id: 'status' });
status.setAttribute('role', 'status');
const errorBox = el('div', { id: 'error' });
errorBox.setAttribute('role', 'alert');
errorBox.hidden = true;
const content = el('main', { id: 'content' });
const pick = el('button', { id: 'compare-pick', textContent: 'Compare with another model…' });
pick.type = 'button';
pick.addEventListener('click', () => post({ type: 'pickOther' }));
const bar = el('div', { id: 'compare-bar' });
bar.append(pick);
app.replaceChildren(bar, status, errorBox, content);
app.dataset.state = 'waiting';
setStatus('Waiting for the two models…', 'idle');
post({ type: 'ready' });

function setStatus(text: string, state: string): void {
  status.textContent = text;
  status.dataset.state = state;
}

function showError(message: string): void {
  errorBox.hidden = false;
  errorBox.replaceChildren(el('strong', { textContent: 'Cannot compare: ' }), document.createTextNode(message));
  app.dataset.state = 'error';
  setStatus(content.childElementCount ? 'Showing the last comparison that worked.' : '', 'error');
}

const count = (n: number) => n.toLocaleString('en-US');

function sideCard(side: CompareSide, key: 'a' | 'b'): HTMLElement {
  const card = el('div', { className: `model-card side-${key}` });
  const c = side.config;
  card.append(
    el('h2', { textContent: side.label }),
    el('p', { textContent: `${counted(c.layers, 'block')} · dim ${c.dim} · ${counted(c.heads, 'head')} · context ${count(c.contextLength)} · vocabulary ${count(c.vocabSize)} (${side.tokenizer})` }),
    el('p', {
      className: 'note',
      textContent: side.window
        ? `Reads ${windowRangeText(side.window)}: the text is longer than its ${count(c.contextLength)} positions, so it reads the last ${count(c.contextLength)}.`
        : `Reads all ${count(side.tokens.length)} tokens of the text.`,
    }),
  );
  return card;
}

function render(view: CompareView, title: string, elapsedMs: number): void {
  for (const map of maps) map.dispose();
  maps = [];
  lazy.disconnect();
  errorBox.hidden = true;
  app.dataset.state = 'ready';
  const withDiff = view.maps.filter((m) => m.diff).length;
  setStatus(`${view.maps.length} maps · ${withDiff} with a difference map · ${elapsedMs.toFixed(0)} ms`, 'ready');
  const head = el('section', { id: 'compare-models' });
  const cards = el('div', { className: 'model-cards' });
  cards.append(sideCard(view.a, 'a'), sideCard(view.b, 'b'));
  head.append(
    el('h1', { textContent: 'Two models, one text' }),
    el('p', { className: 'intro', textContent: `“${title}” through both models. Each row: A's map, B's map and A − B, the difference, on a scale centred on 0 (where the shapes agree).` }),
    cards,
  );
  if (!view.sameTokens) {
    head.append(el('p', { className: 'hint warn', textContent: `The models read different tokens (A ${view.a.tokens.length}, B ${view.b.tokens.length}${view.a.tokenizer !== view.b.tokenizer ? `; tokenizers ${view.a.tokenizer} and ${view.b.tokenizer}` : ''}): maps are side by side, with no difference.` }));
  }
  const sections: HTMLElement[] = [head];
  const groups = new Map<string, CompareMap[]>();
  for (const map of view.maps) groups.set(map.group, [...(groups.get(map.group) ?? []), map]);
  let n = 0;
  for (const [group, entries] of groups) {
    const s = el('section', { className: 'compare-group', id: `group-${n++}` });
    s.append(el('h2', { textContent: group }));
    for (const entry of entries) s.append(mapRow(entry, view));
    sections.push(s);
  }
  sections.push(nextTokenSection(view));
  content.replaceChildren(...sections);
}

/** Labels of a map's rows: the side's tokens, or the ranges of tokens a pooled row covers. */
function labelsFor(rows: number, tokens: readonly string[]): string[] {
  if (rows === tokens.length) return tokens.map(visible);
  return Array.from({ length: rows }, (_, r) => {
    const from = Math.floor((r * tokens.length) / rows);
    const to = Math.floor(((r + 1) * tokens.length) / rows) - 1;
    return to > from ? `${from + 1}–${to + 1}` : visible(tokens[from] ?? '');
  });
}

function mapRow(entry: CompareMap, view: CompareView): HTMLElement {
  const row = el('div', { className: 'compare-row' });
  row.dataset.id = entry.id;
  row.append(el('h3', { textContent: entry.title }));
  const figures = el('div', { className: 'compare-figures pending' });
  row.append(figures);
  if (entry.note) row.append(el('p', { className: 'note compare-note', textContent: entry.note }));
  if (entry.pooled) row.append(el('p', { className: 'note', textContent: entry.pooled }));
  (row as HTMLElement & { build?: () => void }).build = () => {
    figures.classList.remove('pending');
    const drawn: Heatmap[] = [];
    const add = (key: 'a' | 'b' | 'diff', matrix: MapCodes | undefined) => {
      if (!matrix) return;
      const side = key === 'b' ? view.b : view.a;
      const what = key === 'diff' ? 'A − B' : key.toUpperCase();
      figures.append(mapFigure(entry, key, what, matrix, labelsFor(matrix.rows, side.tokens), labelsFor(matrix.cols, side.tokens), drawn));
    };
    add('a', entry.a);
    add('b', entry.b);
    add('diff', entry.diff);
    maps.push(...drawn);
    layout(drawn);
  };
  lazy.observe(row);
  return row;
}

function mapFigure(entry: CompareMap, key: 'a' | 'b' | 'diff', what: string, matrix: MapCodes, rowLabels: string[], colLabels: string[], siblings: Heatmap[]): HTMLElement {
  const tokensOnCols = entry.colAxis === 'keys';
  const value = (r: number, c: number) => codeValues(matrix, r, c, 1, 1).values[0] ?? NaN;
  const map = new Heatmap({
    name: `${entry.id}.${key}`, title: `${what}: ${entry.title}`, matrix, rowLabels, ...(tokensOnCols && { colLabels }),
    rowAxis: entry.rowAxis, colAxis: entry.colAxis, scale: matrix.scale.kind,
    describe: (r, c) => [
      `${entry.rowAxis === 'queries' ? 'query' : 'token'} ${rowLabels[r] ?? r}`,
      `${tokensOnCols ? `key ${colLabels[c] ?? c}` : `dimension ${c}`}`,
      `${what} ≈ ${Number.isFinite(value(r, c)) ? formatCell(value(r, c)) : 'masked (a future token)'}`,
    ],
    rowsAreTokens: true, colsAreTokens: tokensOnCols,
  }, {
    tooltip,
    // the same cell in A, B and A − B
    onHoverToken: (query, keyToken) => { for (const sibling of siblings) sibling.highlight(query, keyToken ?? query); },
  });
  siblings.push(map);
  const fig = el('figure', { className: `map compare-${key}` });
  const cap = el('figcaption');
  cap.append(el('span', { className: 'title', textContent: what }), el('span', { className: 'shape', textContent: shapeOf(entry, key, matrix) }));
  const scroll = el('div', { className: 'map-scroll' });
  scroll.append(map.canvas);
  const measures = key === 'diff'
    ? `A − B of ${entry.measures}: above 0, A's is larger; below 0, B's. Largest |A − B| ${formatCell(entry.maxAbsDiff ?? 0)}`
    : entry.measures;
  fig.append(cap, scroll, colorLegend(map.colorScale, `colour: ${measures}; ${scaleKindText(map.colorScale.kind)}, own scale`));
  return fig;
}

function shapeOf(entry: CompareMap, key: 'a' | 'b' | 'diff', matrix: MapCodes): string {
  const exact = key === 'b' ? entry.shapes.b : entry.shapes.a;
  const shape = exact ? `${exact[0]}×${exact[1]}` : `${matrix.rows}×${matrix.cols}`;
  return exact && (exact[0] !== matrix.rows || exact[1] !== matrix.cols) ? `${shape} (drawn ${matrix.rows}×${matrix.cols})` : shape;
}

function layout(list: Heatmap[]): void {
  for (const map of list) {
    const width = map.canvas.closest('figure')?.clientWidth ?? content.clientWidth;
    map.draw(Math.max(160, width - 8));
  }
}

let resizeTimer: number | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(() => layout(maps), 120);
});

function bars(rows: { text: string; values: { key: 'a' | 'b'; p: number }[] }[]): HTMLElement {
  const list = el('div', { className: 'prob-bars' });
  for (const row of rows) {
    const line = el('div', { className: 'prob-row' });
    line.append(el('span', { className: 'prob-token', textContent: visible(row.text) }));
    const cells = el('span', { className: 'prob-cells' });
    for (const { key, p } of row.values) {
      const cell = el('span', { className: `prob-cell side-${key}` });
      const fill = el('span', { className: 'prob-fill' });
      fill.style.width = `${Math.max(0.5, p * 100).toFixed(1)}%`;
      cell.append(fill, el('span', { className: 'prob-value', textContent: `${key.toUpperCase()} ${(p * 100).toFixed(1)}%` }));
      cells.append(cell);
    }
    line.append(cells);
    list.append(line);
  }
  return list;
}

function nextTokenSection(view: CompareView): HTMLElement {
  const s = el('section', { className: 'compare-group', id: 'compare-next-token' });
  const last = (side: CompareSide) => visible(side.tokens.at(-1) ?? '');
  s.append(el('h2', { textContent: 'Next token' }), el('p', {
    className: 'intro',
    textContent: `The probability of each next token after the last token each model read (A: “${last(view.a)}”, B: “${last(view.b)}”), temperature 1.`,
  }));
  const { both } = view.nextToken;
  if (both) {
    s.append(el('p', { className: 'note', textContent: 'One vocabulary: each token of either model\'s top ten, with both models\' probabilities.' }),
      bars(both.map((t) => ({ text: t.text, values: [{ key: 'a', p: t.a }, { key: 'b', p: t.b }] }))));
    return s;
  }
  s.append(el('p', { className: 'note', textContent: `Different vocabularies (A ${view.a.tokenizer}, ${count(view.a.config.vocabSize)}; B ${view.b.tokenizer}, ${count(view.b.config.vocabSize)}): each model's top ten on its own.` }));
  const columns = el('div', { className: 'compare-figures' });
  for (const key of ['a', 'b'] as const) {
    const col = el('div');
    col.append(el('h3', { textContent: key.toUpperCase() }), bars(view.nextToken[key].tokens.map((t) => ({ text: t.text, values: [{ key, p: t.probability }] }))));
    columns.append(col);
  }
  s.append(columns);
  return s;
}
