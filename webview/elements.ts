// The two custom elements the sections' templates use: <llm-heatmap> (one Heatmap on its canvas)
// and <llm-chart> (one Chart.js chart). Each builds its drawing when it enters the page, lays it
// out for its own width as that width changes, and frees it when it leaves (listeners removed,
// canvas memory given back, chart destroyed), so replacing a section needs no clean-up by hand.
import type { Chart } from 'chart.js';
import { applyTheme } from './charts';
import { Heatmap, type HeatmapHost, type HeatmapSpec } from './heatmap';

/** What every map shares: the one tooltip and what hovering a token does. Set once by main.ts. */
let host: HeatmapHost | undefined;
export function setMapHost(h: HeatmapHost): void {
  host = h;
}

/** The maps on the page now (connected elements), for highlighting and refreshing exact values. */
const liveMaps = new Set<HeatmapElement>();
export function* maps(): Iterable<Heatmap> {
  for (const element of liveMaps) if (element.map) yield element.map;
}

/** The chart elements on the page now. */
const liveCharts = new Set<{ remake(): void }>();

/**
 * VS Code marks the theme on the body's class (vscode-light, vscode-dark, vscode-high-contrast):
 * maps and charts take their label and grid colours from the theme when they paint, so a theme
 * change paints them again.
 */
new MutationObserver(() => {
  applyTheme();
  for (const map of maps()) map.repaint();
  // Chart.js resolves its colours when a chart is made: made again, with the new theme's.
  for (const chart of liveCharts) chart.remake();
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

/** Narrowest a map is drawn (CSS px): below this its figure scrolls sideways. */
const MIN_MAP_WIDTH = 200;

/** A canvas's backing store, given back at once rather than when the node is collected. */
function freeCanvas(canvas: HTMLCanvasElement): void {
  canvas.width = 0;
  canvas.height = 0;
}

export class HeatmapElement extends HTMLElement {
  map: Heatmap | undefined;
  private current: HeatmapSpec | undefined;
  private width = 0;
  private readonly resize = new ResizeObserver(() => this.layout());

  /**
   * The map to draw. The same matrix under the same name is the same map: a section drawn again
   * (a toggle, a hover) keeps its canvas, its zoom and its hover.
   */
  set spec(spec: HeatmapSpec) {
    const old = this.current;
    this.current = spec;
    if (old && old.matrix === spec.matrix && old.name === spec.name && old.title === spec.title) return;
    if (this.isConnected) this.build();
  }

  get spec(): HeatmapSpec | undefined {
    return this.current;
  }

  connectedCallback(): void {
    liveMaps.add(this);
    this.resize.observe(this);
    if (!this.map && this.current) this.build();
  }

  disconnectedCallback(): void {
    liveMaps.delete(this);
    this.resize.disconnect();
    this.free();
  }

  private build(): void {
    this.free();
    if (!this.current || !host) return;
    this.map = new Heatmap(this.current, host);
    this.replaceChildren(this.map.canvas);
    this.width = 0;
    this.layout();
  }

  private layout(): void {
    const width = Math.max(MIN_MAP_WIDTH, this.clientWidth);
    if (!this.map || !this.clientWidth || width === this.width) return;
    this.width = width;
    this.map.draw(width);
  }

  private free(): void {
    if (!this.map) return;
    this.map.dispose();
    freeCanvas(this.map.canvas);
    this.map = undefined;
  }
}

/**
 * A Chart.js chart: `make` builds it on the element's canvas once the element is on the page (in
 * the next frame, when its box has a size); `data` changes after that go through `update`.
 */
export class ChartElement<D = unknown> extends HTMLElement {
  make: ((canvas: HTMLCanvasElement) => Chart) | undefined;
  update: ((chart: Chart, data: D) => void) | undefined;
  /** The canvas's id (tests and the page's scripts find a chart by it). */
  canvasId = '';
  private chart: Chart | undefined;
  private value: D | undefined;
  private frame = 0;

  set data(value: D) {
    const changed = value !== this.value;
    this.value = value;
    if (changed && this.chart && this.update) this.update(this.chart, value);
  }

  get data(): D | undefined {
    return this.value;
  }

  connectedCallback(): void {
    liveCharts.add(this);
    this.frame = requestAnimationFrame(() => this.build());
  }

  disconnectedCallback(): void {
    liveCharts.delete(this);
    cancelAnimationFrame(this.frame);
    this.free();
  }

  /** Builds the chart again (its data as it is now). */
  remake(): void {
    this.free();
    this.build();
  }

  private build(): void {
    if (!this.isConnected || !this.make || this.chart) return;
    const canvas = document.createElement('canvas');
    if (this.canvasId) canvas.id = this.canvasId;
    this.replaceChildren(canvas);
    this.chart = this.make(canvas);
    if (this.value !== undefined && this.update) this.update(this.chart, this.value);
  }

  private free(): void {
    const canvas = this.chart?.canvas;
    this.chart?.destroy();
    this.chart = undefined;
    if (canvas) freeCanvas(canvas);
    this.replaceChildren();
  }
}

customElements.define('llm-heatmap', HeatmapElement);
customElements.define('llm-chart', ChartElement);

declare global {
  interface HTMLElementTagNameMap {
    'llm-heatmap': HeatmapElement;
    'llm-chart': ChartElement;
  }
}
