// The logit lens, "What each layer would predict": the residual stream after each block read
// through the final layer norm and the output head, as if the model stopped there. A layers ×
// positions map whose cells name the top token and whose colour is its probability; hover for
// the top 5; a position picked below draws, as a line, how likely the model's final prediction
// already is at each layer.
import { html, type TemplateResult } from 'lit';
import { Chart, type ChartConfiguration } from 'chart.js';
import type { LensView } from '../src/shared/experimentsProtocol';
import { AFTER, applyTheme } from './charts';
import { experimentStatus, gridMatrix, resultOf } from './experiments';
import { modelHeader, sizes } from './model';
import { visible } from './notes';
import { changed, state, type Run } from './state';
import { chart, figure, note, sectionHead } from './view';

const percent = (p: number) => `${(100 * p).toFixed(p >= 0.1 ? 1 : 2)}%`;

/** The row names: the embeddings, then after each block; the last one is the model's output. */
const readingNames = (lens: LensView) => lens.readings.map((r, l) => (l === lens.readings.length - 1 && l > 0 ? 'output' : r));

export function lensSection(run: Run): TemplateResult {
  const { layers, dim } = sizes(run.trace);
  const head = sectionHead('logit-lens', 11, 'What each layer would predict',
    `lens_l(t) = softmax(LN_f(x_l(t))·W_outᵀ)   x_0 = embeddings, x_l = after block l (l = 1…${layers}), ${dim} → vocabulary`,
    'The logit lens reads the residual stream after every block as if the model ended there: through the final layer norm and the output head, ' +
      'the same way the last block\'s output becomes the next-token prediction. Where the word in a column stops changing, that position\'s prediction was decided.');
  const { model, header } = modelHeader(run.trace);
  if (!model) return html`${head}${header}`;
  const lens = resultOf(run, 'lens')?.view;
  if (!lens) {
    return html`${head}${header}<figure class="map pending" data-experiment="lens">${run.experiments.has('lens') ? experimentStatus(run, 'lens', 'Reading every layer through the output head') : 'The lens is computed when this section comes into view…'}</figure>`;
  }
  return html`${head}${header}${lensMap(run, lens)}${experimentStatus(run, 'lens', 'Reading every layer')}${lensChart(run, lens)}`;
}

function lensMap(run: Run, lens: LensView): TemplateResult {
  const names = readingNames(lens);
  const top1 = lens.top.map((row) => row.map((cell) => cell[0]?.p ?? 0));
  const first = lens.positions[0] ?? 0;
  const T = run.labels.length;
  const cut = first > 0 ? ` (the last ${lens.positions.length} of ${T} positions)` : '';
  return figure({
    name: 'experiments.lens', title: `top next token read after each layer${cut}`, matrix: gridMatrix(top1),
    rowLabels: names, colLabels: lens.positions.map((t, i) => `${t} ${visible(lens.tokens[i] ?? '')}`),
    rowAxis: 'layer read', colAxis: 'position (the token read so far)', scale: 'sequential', range: [0, 1], minRowHeight: 26, minColWidth: 44,
    cellText: (r, c) => visible(lens.top[r]?.[c]?.[0]?.text ?? ''),
    // columns are the text's tokens only when the lens starts at the first (else the hover would light others)
    rowsAreTokens: false, colsAreTokens: first === 0,
    describe: (r, c) => {
      const cell = lens.top[r]?.[c] ?? [];
      const t = lens.positions[c] ?? 0;
      return [`${names[r] ?? ''}, after position ${t} “${visible(lens.tokens[c] ?? '')}”: the 5 likeliest next tokens`,
        ...cell.slice(0, 5).map((b, i) => `${i + 1}. “${visible(b.text)}” (id ${b.id}) p = ${b.p.toFixed(4)} (${percent(b.p)})`)];
    },
  }, {
    measures: 'probability of the top next token at that layer (0 to 1; the word in the cell)', scale: 'one 0–1 scale for every cell',
    caption: 'Each cell names the token the model would predict after that position if it stopped at that layer; its colour is that token\'s probability. ' +
      `Rows: the embeddings, after each block, and the output (after block ${lens.readings.length - 1}): the model's own prediction, the next-token section's top bar. Hover a cell for its 5 likeliest tokens.`,
  }, { exports: 'png' });
}

/** The picked position (a token index among the lens's), the last by default. */
function lensPosition(lens: LensView): number {
  const picked = state.experiments.lensPosition;
  return picked !== undefined && lens.positions.includes(picked) ? picked : lens.positions.at(-1) ?? 0;
}

function lensChart(run: Run, lens: LensView): TemplateResult {
  const position = lensPosition(lens);
  const column = lens.positions.indexOf(position);
  const names = readingNames(lens);
  const finalToken = lens.top.at(-1)?.[column]?.[0];
  const series = lens.final.map((row) => row[column] ?? 0);
  const pick = (e: Event) => {
    state.experiments.lensPosition = Number((e.currentTarget as HTMLSelectElement).value);
    changed('logit-lens');
  };
  const label = `p(“${visible(finalToken?.text ?? '')}”)`;
  return html`<div class="model-knobs" id="lens-knobs"><label class="knob"><span>position for the line chart</span>
      <select id="lens-position" @change=${pick}>${lens.positions.map((t, i) => html`<option value=${t} ?selected=${t === position}>${t} “${visible(lens.tokens[i] ?? '')}”</option>`)}</select></label></div>
    ${chart({
      id: 'lens-chart', canvasId: 'lens-line', size: 'wide',
      caption: `after position ${position} “${visible(run.labels[position] ?? '')}”: the probability, at each layer, of the model's final prediction “${visible(finalToken?.text ?? '')}”`,
      make: (canvas) => lensLineChart(canvas, names, series, label), data: { series, label },
      update: (c: Chart, d: { series: number[]; label: string }) => {
        const line = c.data.datasets[0];
        if (line) {
          line.data = d.series;
          line.label = d.label;
        }
        c.canvas.dataset.series = d.series.join(',');
        c.update();
      },
    })}
    ${note(finalNote(series, names), 'note computed', 'lens-note')}`;
}

/** Where the final prediction first becomes the likeliest it will be, in words. */
function finalNote(series: number[], names: string[]): string {
  const last = series.at(-1) ?? 0;
  const half = series.findIndex((p) => p >= last / 2);
  return `The final prediction has p = ${last.toFixed(4)} at the output; it first reaches half of that (${(last / 2).toFixed(4)}) at “${names[half] ?? ''}”.`;
}

function lensLineChart(canvas: HTMLCanvasElement, names: string[], series: number[], label: string): Chart {
  applyTheme();
  canvas.dataset.series = series.join(',');
  const config: ChartConfiguration<'line'> = {
    type: 'line',
    data: { labels: names, datasets: [{ label, data: series, borderColor: AFTER[1], backgroundColor: AFTER[1], pointRadius: 3 }] },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { position: 'top', labels: { boxWidth: 14 } },
        tooltip: { callbacks: { label: (i) => `${i.dataset.label ?? ''} = ${Number(i.parsed.y).toFixed(4)}` } },
      },
      scales: {
        x: { title: { display: true, text: 'layer read (embeddings → output)' }, ticks: { autoSkip: true, maxRotation: 40 } },
        y: { min: 0, max: 1, title: { display: true, text: 'probability of the final prediction' } },
      },
    },
  };
  return new Chart(canvas, config);
}
