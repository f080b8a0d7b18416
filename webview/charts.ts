// The two chart.js charts: a PCA scatter of the input embeddings and the layer-norm statistics.
import {
  Chart, ScatterController, BarController, LinearScale, CategoryScale, PointElement, BarElement,
  Tooltip, Legend, Title, type ChartConfiguration,
} from 'chart.js';
import type { PanelTrace } from '../src/shared/protocol';

Chart.register(ScatterController, BarController, LinearScale, CategoryScale, PointElement, BarElement, Tooltip, Legend, Title);

export const themeColor = (name: string, fallback: string) =>
  getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;

export function applyTheme(): void {
  Chart.defaults.color = themeColor('--vscode-foreground', '#888');
  Chart.defaults.borderColor = themeColor('--vscode-editorWidget-border', 'rgba(128,128,128,0.35)');
  Chart.defaults.font.family = themeColor('--vscode-font-family', 'sans-serif');
  Chart.defaults.font.size = 12;
  Chart.defaults.animation = false;
}

// Two hues that stay distinct in dark, light and high-contrast themes and for common colour
// vision deficiencies (blue vs orange), each in a light and a strong tone for before/after.
export const BEFORE = ['#5b9bd5', '#1f5fa8'];
export const AFTER = ['#f4a261', '#c65f12'];

export function pcaChart(canvas: HTMLCanvasElement, trace: PanelTrace, labels: string[]): Chart {
  applyTheme();
  const pca = trace.embeddings.pca;
  const points = labels.map((_, i) => ({ x: pca.data[i * 2] ?? 0, y: pca.data[i * 2 + 1] ?? 0 }));
  const config: ChartConfiguration<'scatter'> = {
    type: 'scatter',
    data: { datasets: [{ label: 'input embedding (PCA)', data: points, pointRadius: 5, pointHoverRadius: 8, backgroundColor: BEFORE[0] }] },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      layout: { padding: { right: 70, top: 10 } }, // room for the last point's token label
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (item) => `${labels[item.dataIndex] ?? ''}  (${item.parsed.x?.toFixed(3)}, ${item.parsed.y?.toFixed(3)})` } },
      },
      scales: { x: { title: { display: true, text: 'PC 1' } }, y: { title: { display: true, text: 'PC 2' } } },
    },
    plugins: [{
      // Token text next to each point: the point of the chart is which tokens sit together.
      id: 'pointLabels',
      afterDatasetsDraw(chart) {
        const ctx = chart.ctx;
        const meta = chart.getDatasetMeta(0);
        if (meta.data.length > 80) return;
        ctx.save();
        ctx.fillStyle = themeColor('--vscode-foreground', '#888');
        ctx.font = `11px ${themeColor('--vscode-editor-font-family', 'monospace')}`;
        meta.data.forEach((point, i) => ctx.fillText(labels[i] ?? '', point.x + 7, point.y - 5));
        ctx.restore();
      },
    }],
  };
  return new Chart(canvas, config);
}

/** Per-token statistic before and after layer norm: one chart for means, one for variances. */
export function layerNormChart(canvas: HTMLCanvasElement, labels: string[], stat: 'mean' | 'variance', before: Float32Array, after: Float32Array): Chart {
  applyTheme();
  const config: ChartConfiguration<'bar'> = {
    type: 'bar',
    data: {
      labels,
      datasets: [
        { label: `${stat} before`, data: Array.from(before), backgroundColor: BEFORE[1] },
        { label: `${stat} after`, data: Array.from(after), backgroundColor: AFTER[1] },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { position: 'top' },
        title: { display: true, text: stat === 'mean' ? 'mean per token (after ≈ 0)' : 'variance per token (after ≈ 1)' },
        tooltip: { callbacks: { label: (i) => `${i.dataset.label}: ${Number(i.parsed.y).toFixed(5)}` } },
      },
      scales: { x: { ticks: { autoSkip: true, maxRotation: 45 } }, y: stat === 'variance' ? { beginAtZero: true } : {} },
    },
  };
  return new Chart(canvas, config);
}
