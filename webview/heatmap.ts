// A labelled heatmap on one <canvas>: cells through ImageData (fast at any size), token labels on
// both axes, numbers inside cells when they fit, masked cells hatched, dropped cells crossed,
// a tooltip on hover and an outline on the highlighted token.
import type { Matrix } from '../src/engine/types';
import { colorOf, finiteRange, inkOn, type Scale, type ScaleKind } from './colors';

export interface HeatmapSpec {
  /** Path of the matrix in the trace, e.g. "causal.weights": used for ids and CSV export. */
  name: string;
  title: string;
  matrix: Matrix;
  rowLabels: readonly string[];
  /** Column labels; numbers 0..cols-1 when absent (embedding dimensions). */
  colLabels?: readonly string[];
  scale: ScaleKind;
  /** Fixed colour range, e.g. [0, 1] for attention weights. */
  range?: [number, number];
  /** Cells that are not part of the computation (future tokens under the causal mask), hatched. */
  masked?: (row: number, col: number) => boolean;
  /** Cells removed by dropout (drawn crossed). */
  dropped?: (row: number, col: number) => boolean;
  /** Tooltip lines for a cell. */
  describe: (row: number, col: number) => string[];
  /** Whether rows/cols are tokens (then hovering highlights the token everywhere). */
  rowsAreTokens: boolean;
  colsAreTokens: boolean;
}

export interface HeatmapHost {
  onHoverToken(index: number | null): void;
  tooltip: HTMLElement;
}

const FONT = '11px var(--vscode-editor-font-family, monospace)';
const MAX_CELL = 44;
const MIN_LABELLED_CELL = 10;

export class Heatmap {
  readonly canvas: HTMLCanvasElement;
  private readonly base = document.createElement('canvas');
  private layout = { left: 0, top: 0, cell: 0, width: 0, height: 0 };
  private highlighted: number | null = null;
  private hoverCell: [number, number] | null = null;
  private readonly scale: Scale;

  constructor(readonly spec: HeatmapSpec, private readonly host: HeatmapHost) {
    this.canvas = document.createElement('canvas');
    this.canvas.id = `map-${spec.name.replace(/\./g, '-')}`;
    this.canvas.dataset.rows = String(spec.matrix.rows);
    this.canvas.dataset.cols = String(spec.matrix.cols);
    this.canvas.dataset.name = spec.name;
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', `${spec.title}: ${spec.matrix.rows} × ${spec.matrix.cols}`);
    const [min, max] = spec.range ?? finiteRange(spec.matrix.data);
    this.scale = { kind: spec.scale, min, max };
    this.canvas.addEventListener('mousemove', (e) => this.onMove(e));
    this.canvas.addEventListener('mouseleave', () => this.onLeave());
  }

  get colorScale(): Scale {
    return this.scale;
  }

  /** Lays the map out for `width` CSS pixels and paints it. */
  draw(width: number): void {
    const { matrix, rowLabels } = this.spec;
    const ctx = this.base.getContext('2d');
    if (!ctx) return;
    ctx.font = FONT;
    const colLabels = this.colLabels();
    const guessCell = Math.floor((width - 60) / Math.max(1, matrix.cols));
    const labelled = guessCell >= MIN_LABELLED_CELL && matrix.rows <= 200;
    const widest = (labels: readonly string[]) => labels.reduce((w, l) => Math.max(w, ctx.measureText(l).width), 0);
    const left = labelled ? Math.min(120, Math.ceil(widest(rowLabels)) + 10) : 6;
    const top = labelled ? Math.min(90, Math.ceil(widest(colLabels) * 0.72) + 14) : 6;
    const cell = Math.max(1, Math.min(MAX_CELL, Math.floor((width - left - 4) / Math.max(1, matrix.cols))));
    const w = left + cell * matrix.cols + 4;
    const h = top + cell * matrix.rows + 4;
    this.layout = { left, top, cell, width: w, height: h };

    const dpr = window.devicePixelRatio || 1;
    for (const c of [this.base, this.canvas]) {
      c.width = Math.ceil(w * dpr);
      c.height = Math.ceil(h * dpr);
    }
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.font = FONT;
    this.paintCells(ctx);
    if (labelled) this.paintLabels(ctx, colLabels);
    this.present();
  }

  /** Outlines token `index` (row and/or column) or clears the outline. */
  highlight(index: number | null): void {
    this.highlighted = index;
    this.present();
  }

  private colLabels(): readonly string[] {
    return this.spec.colLabels ?? Array.from({ length: this.spec.matrix.cols }, (_, i) => String(i));
  }

  private paintCells(ctx: CanvasRenderingContext2D): void {
    const { matrix } = this.spec;
    const { left, top, cell } = this.layout;
    // One pixel per cell, scaled up without smoothing: the same code path for 5 or 5,000 tokens.
    const image = new ImageData(matrix.cols, matrix.rows);
    const masked: number[] = [];
    for (let i = 0; i < matrix.data.length; i++) {
      const v = matrix.data[i] ?? 0;
      const o = i * 4;
      if (!Number.isFinite(v) || this.spec.masked?.(Math.floor(i / matrix.cols), i % matrix.cols)) {
        masked.push(i);
        image.data[o + 3] = 0;
        continue;
      }
      const [r, g, b] = colorOf(this.scale, v);
      image.data[o] = r;
      image.data[o + 1] = g;
      image.data[o + 2] = b;
      image.data[o + 3] = 255;
    }
    const pixels = document.createElement('canvas');
    pixels.width = matrix.cols;
    pixels.height = matrix.rows;
    pixels.getContext('2d')?.putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(pixels, left, top, cell * matrix.cols, cell * matrix.rows);

    const style = getComputedStyle(document.body);
    const fg = style.getPropertyValue('--vscode-foreground').trim() || '#888';
    if (cell >= 6) {
      // Masked (future) positions: a light hatch so "not computed" differs from "zero".
      ctx.strokeStyle = fg;
      ctx.globalAlpha = 0.25;
      ctx.lineWidth = 1;
      for (const i of masked) {
        const x = left + (i % matrix.cols) * cell;
        const y = top + Math.floor(i / matrix.cols) * cell;
        ctx.beginPath();
        for (let d = -cell; d < cell; d += 5) {
          ctx.moveTo(x + Math.max(0, d), y + Math.max(0, -d));
          ctx.lineTo(x + Math.min(cell, cell + d), y + Math.min(cell, cell - d));
        }
        ctx.stroke();
      }
      ctx.globalAlpha = 1;
    }
    const dropped = this.spec.dropped;
    if (dropped && cell >= 8) {
      ctx.lineWidth = Math.max(1, cell / 14);
      for (let r = 0; r < matrix.rows; r++) {
        for (let c = 0; c < matrix.cols; c++) {
          if (!dropped(r, c)) continue;
          const x = left + c * cell;
          const y = top + r * cell;
          ctx.fillStyle = 'rgba(0,0,0,0.35)';
          ctx.fillRect(x, y, cell, cell);
          ctx.strokeStyle = '#ff5c5c';
          const m = cell * 0.28;
          ctx.beginPath();
          ctx.moveTo(x + m, y + m);
          ctx.lineTo(x + cell - m, y + cell - m);
          ctx.moveTo(x + cell - m, y + m);
          ctx.lineTo(x + m, y + cell - m);
          ctx.stroke();
        }
      }
    }
    if (cell >= 34) {
      // The numbers themselves, when a cell is big enough to hold them.
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.font = `${cell >= 40 ? 11 : 10}px var(--vscode-editor-font-family, monospace)`;
      for (let r = 0; r < matrix.rows; r++) {
        for (let c = 0; c < matrix.cols; c++) {
          const v = matrix.data[r * matrix.cols + c] ?? 0;
          if (!Number.isFinite(v) || dropped?.(r, c) || this.spec.masked?.(r, c)) continue;
          ctx.fillStyle = inkOn(colorOf(this.scale, v));
          ctx.fillText(formatCell(v), left + c * cell + cell / 2, top + r * cell + cell / 2);
        }
      }
      ctx.font = FONT;
    }
  }

  private paintLabels(ctx: CanvasRenderingContext2D, colLabels: readonly string[]): void {
    const { left, top, cell } = this.layout;
    const fg = getComputedStyle(document.body).getPropertyValue('--vscode-foreground').trim() || '#888';
    ctx.fillStyle = fg;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    this.spec.rowLabels.forEach((label, r) => ctx.fillText(clip(label), left - 5, top + r * cell + cell / 2));
    ctx.textAlign = 'left';
    colLabels.forEach((label, c) => {
      ctx.save();
      ctx.translate(left + c * cell + cell / 2, top - 5);
      ctx.rotate(-Math.PI / 4);
      ctx.fillText(clip(label), 0, 0);
      ctx.restore();
    });
  }

  /** Copies the painted base and draws the outlines on top. */
  private present(): void {
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.drawImage(this.base, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const { left, top, cell } = this.layout;
    const { rows, cols } = this.spec.matrix;
    const focus = getComputedStyle(document.body).getPropertyValue('--vscode-focusBorder').trim() || '#0090f1';
    ctx.strokeStyle = focus;
    ctx.lineWidth = 2;
    const i = this.highlighted;
    if (i !== null) {
      if (this.spec.rowsAreTokens && i < rows) ctx.strokeRect(left - 1, top + i * cell - 1, cols * cell + 2, cell + 2);
      if (this.spec.colsAreTokens && i < cols) ctx.strokeRect(left + i * cell - 1, top - 1, cell + 2, rows * cell + 2);
    }
    if (this.hoverCell) {
      const [r, c] = this.hoverCell;
      ctx.strokeStyle = getComputedStyle(document.body).getPropertyValue('--vscode-foreground').trim() || '#fff';
      ctx.strokeRect(left + c * cell, top + r * cell, cell, cell);
    }
  }

  /** The cell under a mouse position, or null outside the grid. */
  cellAt(offsetX: number, offsetY: number): [number, number] | null {
    const { left, top, cell } = this.layout;
    const c = Math.floor((offsetX - left) / cell);
    const r = Math.floor((offsetY - top) / cell);
    const { rows, cols } = this.spec.matrix;
    return r >= 0 && r < rows && c >= 0 && c < cols ? [r, c] : null;
  }

  private onMove(e: MouseEvent): void {
    const hit = this.cellAt(e.offsetX, e.offsetY);
    const tip = this.host.tooltip;
    if (!hit) {
      this.onLeave();
      return;
    }
    const [r, c] = hit;
    if (!this.hoverCell || this.hoverCell[0] !== r || this.hoverCell[1] !== c) {
      this.hoverCell = hit;
      tip.replaceChildren(...this.spec.describe(r, c).map((line) => Object.assign(document.createElement('div'), { textContent: line })));
      this.host.onHoverToken(this.spec.rowsAreTokens ? r : this.spec.colsAreTokens ? c : null);
      this.present();
    }
    tip.hidden = false;
    const x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    const y = e.clientY + 16 + tip.offsetHeight > window.innerHeight ? e.clientY - tip.offsetHeight - 10 : e.clientY + 16;
    tip.style.left = `${Math.max(4, x)}px`;
    tip.style.top = `${Math.max(4, y)}px`;
  }

  private onLeave(): void {
    this.host.tooltip.hidden = true;
    if (this.hoverCell) {
      this.hoverCell = null;
      this.host.onHoverToken(null);
      this.present();
    }
  }
}

export function formatCell(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2).replace(/^(-?)0\./, '$1.');
}

function clip(label: string, max = 14): string {
  return label.length > max ? `${label.slice(0, max - 1)}…` : label;
}
