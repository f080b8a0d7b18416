// The model sections' chart.js charts: the GELU curve with a block's pre-activations on it, the
// residual stream's norm through the blocks, and the next-token probabilities as bars.
import { Chart, LineController, LineElement, ScatterController, BarController, LinearScale, CategoryScale, PointElement, BarElement, Tooltip, Legend, Title, type ChartConfiguration } from 'chart.js';
import type { NextTokenView, PanelModel } from '../src/shared/protocol';
import { AFTER, BEFORE, applyTheme, themeColor } from './charts';
import { geluCurve, geluCurveAt, geluRange, residualStations } from './modelNotes';
import { visible } from './notes';

Chart.register(LineController, LineElement, ScatterController, BarController, LinearScale, CategoryScale, PointElement, BarElement, Tooltip, Legend, Title);

/** GELU(x) over the pre-activations' range, with each sampled pre-activation drawn on the curve. */
export function geluChart(canvas: HTMLCanvasElement, pre: Float32Array, layer: number): Chart {
  applyTheme();
  const [lo, hi] = geluRange(pre);
  const points = Array.from(pre, (x) => ({ x, y: geluCurveAt(x) }));
  const config: ChartConfiguration<'scatter'> = {
    type: 'scatter',
    data: {
      datasets: [
        { label: 'GELU(x)', data: geluCurve(lo, hi), showLine: true, pointRadius: 0, borderColor: BEFORE[0], borderWidth: 2, order: 2 },
        { label: 'ReLU(x), for comparison', data: [{ x: lo, y: 0 }, { x: 0, y: 0 }, { x: hi, y: hi }], showLine: true, pointRadius: 0, borderColor: 'rgba(128,128,128,.7)', borderDash: [4, 4], borderWidth: 1, order: 3 },
        { label: `layer ${layer + 1}'s pre-activations x`, data: points, pointRadius: 2, backgroundColor: `${AFTER[1]}99`, borderWidth: 0, order: 1 },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { position: 'top', labels: { boxWidth: 14 } },
        tooltip: { callbacks: { label: (item) => `x = ${item.parsed.x?.toFixed(3)}, GELU(x) = ${item.parsed.y?.toFixed(3)}` } },
      },
      scales: {
        x: { type: 'linear', min: lo, max: hi, title: { display: true, text: 'pre-activation x (first linear layer\'s output)' } },
        y: { title: { display: true, text: 'GELU(x), the hidden value' } },
      },
    },
  };
  return new Chart(canvas, config);
}

/** The residual stream's L2 norm at each station of the model: the mean over tokens, and one token's. */
export function residualChart(canvas: HTMLCanvasElement, norms: PanelModel['residualNorms'], token: number, tokenLabel: string): Chart {
  applyTheme();
  const stations = residualStations(norms, token);
  const config: ChartConfiguration<'line'> = {
    type: 'line',
    data: {
      labels: stations.map((s) => s.label),
      datasets: [
        { label: 'mean over tokens', data: stations.map((s) => s.mean), borderColor: BEFORE[0], backgroundColor: BEFORE[0], pointRadius: 3 },
        { label: tokenText(token, tokenLabel), data: stations.map((s) => s.token), borderColor: AFTER[1], backgroundColor: AFTER[1], pointRadius: 3, borderDash: [5, 3] },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { position: 'top', labels: { boxWidth: 14 } },
        tooltip: { callbacks: { label: (i) => `${i.dataset.label}: ‖x‖ = ${Number(i.parsed.y).toFixed(3)}` } },
      },
      scales: {
        x: { title: { display: true, text: 'where in the model (layer L, after each shortcut)' }, ticks: { autoSkip: true, maxRotation: 40 } },
        y: { beginAtZero: true, title: { display: true, text: 'L2 norm ‖x‖ of the residual vector' } },
      },
    },
  };
  return new Chart(canvas, config);
}

const tokenText = (token: number, label: string) => `token ${token} “${label}”`;

/** Follows another selected token in the residual chart. */
export function showResidualToken(chart: Chart, norms: PanelModel['residualNorms'], token: number, tokenLabel: string): void {
  const line = chart.data.datasets[1];
  if (!line) return;
  line.data = residualStations(norms, token).map((s) => s.token);
  line.label = tokenText(token, tokenLabel);
  chart.update();
}

/** The top next tokens as horizontal bars, most likely on top. */
export function nextTokenChart(canvas: HTMLCanvasElement, view: NextTokenView, colours: readonly string[] = BEFORE): Chart {
  applyTheme();
  const config: ChartConfiguration<'bar'> = {
    type: 'bar',
    data: barData(view, colours),
    options: {
      indexAxis: 'y',
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (i) => `p = ${Number(i.parsed.x).toFixed(4)} (${(Number(i.parsed.x) * 100).toFixed(2)}%)` } },
      },
      scales: {
        x: { beginAtZero: true, suggestedMax: 0.1, title: { display: true, text: 'probability of being the next token' } },
        y: { title: { display: true, text: 'next token' }, ticks: { font: { family: themeColor('--vscode-editor-font-family', 'monospace') } } },
      },
    },
  };
  const chart = new Chart(canvas, config);
  markBars(canvas, view);
  return chart;
}

function barData(view: NextTokenView, colours: readonly string[]): ChartConfiguration<'bar'>['data'] {
  return {
    labels: view.tokens.map((t) => `${visible(t.text)}  (${t.id})`),
    datasets: [{ label: 'probability', data: view.tokens.map((t) => t.probability), backgroundColor: colours[1], borderColor: colours[0], borderWidth: 1 }],
  };
}

/** What the chart holds, on its canvas: tests read the bars and their probabilities there. */
function markBars(canvas: HTMLCanvasElement, view: NextTokenView): void {
  canvas.dataset.bars = String(view.tokens.length);
  canvas.dataset.probabilities = view.tokens.map((t) => t.probability).join(',');
  canvas.dataset.position = String(view.position);
}

export function showNextToken(chart: Chart, view: NextTokenView, colours: readonly string[] = BEFORE): void {
  chart.data = barData(view, colours);
  chart.update();
  markBars(chart.canvas, view);
}
