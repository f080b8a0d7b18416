// The loss chart (#loss-chart): the train loss of every step as a thin line, the train and
// validation losses of each evaluation as markers, and ln(vocabulary) (a uniform guess) as a
// dashed line, on chart.js with only the parts it registers. It is fed as the run goes and
// repaints at most once a frame.
import {
  Chart, LineController, LineElement, PointElement, LinearScale, Legend, Tooltip, type ChartConfiguration, type ChartDataset,
} from 'chart.js';
import type { EvalPoint } from '../../src/shared/trainingRun';
import { formatLoss } from './run';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

type Point = { x: number; y: number };

const themeVar = (name: string, fallback: string) => getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;

/** The chart's colours from the theme (VS Code's chart colours follow dark, light and high contrast). */
function palette() {
  return {
    fg: themeVar('--vscode-foreground', '#888'),
    grid: themeVar('--vscode-charts-lines', 'rgba(128,128,128,0.35)'),
    train: themeVar('--vscode-charts-blue', '#3794ff'),
    val: themeVar('--vscode-charts-orange', '#d18616'),
    uniform: themeVar('--vscode-descriptionForeground', '#888'),
    font: themeVar('--vscode-font-family', 'sans-serif'),
  };
}

export class LossChart {
  readonly chart: Chart<'line', Point[]>;
  private pending = false;
  private stride = 1;

  constructor(readonly canvas: HTMLCanvasElement, steps: number, vocabSize: number) {
    const c = palette();
    Chart.defaults.color = c.fg;
    Chart.defaults.font.family = c.font;
    Chart.defaults.font.size = 12;
    const uniform = Math.log(vocabSize);
    const datasets: ChartDataset<'line', Point[]>[] = [
      { label: 'train loss (each step’s batch)', data: [], borderColor: c.train, backgroundColor: c.train, borderWidth: 1, pointRadius: 0, pointHoverRadius: 3, pointStyle: 'line' },
      { label: 'train loss (evaluation)', data: [], borderColor: c.train, backgroundColor: c.train, showLine: false, pointRadius: 4, pointStyle: 'circle', pointBorderWidth: 1.5 },
      { label: 'validation loss (evaluation)', data: [], borderColor: c.val, backgroundColor: c.val, borderWidth: 1.5, borderDash: [], pointRadius: 4, pointStyle: 'rectRot' },
      {
        label: `uniform guess: ln(${vocabSize.toLocaleString('en-US')}) = ${uniform.toFixed(2)}`,
        data: [{ x: 0, y: uniform }, { x: steps, y: uniform }], borderColor: c.uniform, backgroundColor: c.uniform,
        borderWidth: 1, borderDash: [5, 4], pointRadius: 0, pointHoverRadius: 0, pointStyle: 'line',
      },
    ];
    const config: ChartConfiguration<'line', Point[]> = {
      type: 'line',
      data: { datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        parsing: false,
        normalized: true,
        interaction: { mode: 'nearest', intersect: false, axis: 'x' },
        plugins: {
          legend: { position: 'bottom', labels: { usePointStyle: true, boxWidth: 18, boxHeight: 8, padding: 10, color: c.fg } },
          tooltip: {
            callbacks: {
              title: (items) => (items[0] ? `step ${items[0].parsed.x}` : ''),
              label: (item) => `${item.dataset.label?.replace(/:.*$/, '') ?? ''}: ${formatLoss(item.parsed.y)} nats`,
            },
          },
        },
        scales: {
          x: { type: 'linear', min: 0, max: steps, title: { display: true, text: 'step', color: c.fg }, ticks: { color: c.fg, maxTicksLimit: 8 }, grid: { color: c.grid } },
          y: { type: 'linear', min: 0, suggestedMax: Math.ceil(uniform + 0.5), title: { display: true, text: 'cross-entropy loss (nats)', color: c.fg }, ticks: { color: c.fg }, grid: { color: c.grid } },
        },
      },
    };
    this.chart = new Chart(canvas, config);
  }

  /** Replaces the data (a replayed or growing run) and repaints on the next frame. */
  set(steps: readonly number[], losses: readonly number[], evals: readonly EvalPoint[], stride: number): void {
    const [perStep, trainEval, valEval] = this.chart.data.datasets;
    if (!perStep || !trainEval || !valEval) return;
    // Steps only grow, so the per-step line is appended to rather than rebuilt, until the run
    // thins its curve out (a larger stride): then it is drawn again from the points kept.
    if (stride !== this.stride || perStep.data.length > steps.length) {
      perStep.data = [];
      this.stride = stride;
    }
    for (let i = perStep.data.length; i < steps.length; i++) perStep.data.push({ x: steps[i]!, y: losses[i]! });
    trainEval.data = evals.filter((e) => e.trainLoss !== null).map((e) => ({ x: e.step, y: e.trainLoss! }));
    valEval.data = evals.filter((e) => e.valLoss !== null).map((e) => ({ x: e.step, y: e.valLoss! }));
    this.schedule();
  }

  /** The x axis ends at the run's steps (known once it is prepared). */
  setSteps(steps: number): void {
    const x = this.chart.options.scales?.x;
    if (x) x.max = steps;
    const uniform = this.chart.data.datasets[3];
    const end = uniform?.data[1];
    if (end) end.x = steps;
    this.schedule();
  }

  /** Follows a theme change: VS Code swaps the CSS variables, chart.js needs the colours again. */
  retheme(): void {
    const c = palette();
    Chart.defaults.color = c.fg;
    const [perStep, trainEval, valEval, uniform] = this.chart.data.datasets;
    for (const [set, colour] of [[perStep, c.train], [trainEval, c.train], [valEval, c.val], [uniform, c.uniform]] as const) {
      if (set) Object.assign(set, { borderColor: colour, backgroundColor: colour });
    }
    const legend = this.chart.options.plugins?.legend?.labels;
    if (legend) legend.color = c.fg;
    for (const axis of [this.chart.options.scales?.x, this.chart.options.scales?.y]) {
      if (!axis) continue;
      Object.assign(axis, { grid: { color: c.grid }, ticks: { ...axis.ticks, color: c.fg }, title: { ...(axis as { title?: object }).title, color: c.fg } });
    }
    this.schedule();
  }

  destroy(): void {
    this.chart.destroy();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.chart.update('none');
    });
  }
}
