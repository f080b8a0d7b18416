// A labelled heatmap on one <canvas>. The matrix is turned into an image once (one pixel per
// cell, through ImageData) and every paint draws a window of it scaled to the canvas, so 5 tokens
// and 5,000 cost the same. On top: token labels, numbers when cells are big enough, hatched masked
// cells, crossed dropped cells, outlines for the hovered cell and the highlighted query and key.
// Both axes are named in the image (so an exported PNG keeps them); when the labels do not fit,
// every few rows and columns get their index instead. Maps too big to label zoom (Ctrl+wheel or
// zoomBy), pan (drag) and show a minimap; double-click resets the view. dispose() removes every
// listener, the window's included.
import type { PanelMap } from '../src/shared/protocol';
import { CODE_DROPPED, CODE_MASKED, MAP_LEVELS, codeAt, levelValue, type MapCodes } from '../src/shared/codes';
import { isZoomable, mapScale } from './mapScale';
import { colorOf, inkOn, type Rgb, type Scale } from './colors';
import { showReading } from './cells';
import { el } from './dom';

export type { HeatmapSpec } from './heatmapSpec';
import type { HeatmapSpec } from './heatmapSpec';

export interface HeatmapHost {
  /** query: the hovered row's token (or column's, when only columns are tokens); key: the hovered column's token. */
  onHoverToken(query: number | null, key: number | null): void;
  tooltip: HTMLElement;
}

/** The visible window of the matrix, in cells. */
interface View {
  r0: number;
  c0: number;
  rows: number;
  cols: number;
}

// A canvas font names its family outright (it does not read CSS variables): the theme's, at paint time.
const font = (px: number) => `${px}px ${themeVar('--vscode-editor-font-family', 'monospace')}`;
const axisFont = () => `italic 11px ${themeVar('--vscode-font-family', 'sans-serif')}`;
/** Room for an axis name: a line of axisFont(). */
const AXIS = 15;
const MAX_CELL = 44;
const MIN_LABELLED_CELL = 10;
/** Cells at least this big (CSS px) are marked: dropped ones, and from 6 px masked ones hatched. */
const MIN_MARKED_CELL = 3;
/** Dropped cells: a cross where it fits, else a dot; this colour reads on every scale's colours. */
const DROPPED_INK = '#ff5c5c';
/** Cells at least this wide show their value. */
const SHOW_NUMBERS = 34;
/** Cells at least this wide and tall show their word (spec.cellText), clipped to the cell. */
const SHOW_TEXT: readonly [number, number] = [20, 13];
const MIN_VIEW = 8;
/** Tallest a map gets, in CSS pixels: long texts shrink rows to fit (zoom in to read them). */
const MAX_HEIGHT = 560;

const isCodes = (m: PanelMap): m is MapCodes => 'codes' in m;

const themeVar = (name: string, fallback: string) => getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;

export class Heatmap {
  readonly canvas: HTMLCanvasElement;
  private readonly pixels = document.createElement('canvas');
  private width = 0;
  private view: View;
  /** cw × ch: a cell's width and height in CSS pixels (fractions when a long text is shrunk). */
  private layout = { left: 0, top: 0, cw: 1, ch: 1, rowLabels: false, colLabels: false };
  /** The highlighted query (row) and key (column) tokens. */
  private highlighted: { query: number | null; key: number | null } = { query: null, key: null };
  private hoverCell: [number, number] | null = null;
  private drag: { x: number; y: number; view: View } | undefined;
  private readonly scale: Scale;
  /** Ends every listener this map added (canvas and window). */
  private readonly listeners = new AbortController();
  /** Whether the map is big enough to zoom into (see ZOOM_ABOVE). */
  readonly zoomable: boolean;

  constructor(readonly spec: HeatmapSpec, private readonly host: HeatmapHost) {
    const { rows, cols } = spec.matrix;
    this.view = { r0: 0, c0: 0, rows, cols };
    this.canvas = document.createElement('canvas');
    this.canvas.id = `map-${spec.name.replace(/\./g, '-')}`;
    this.canvas.dataset.rows = String(rows);
    this.canvas.dataset.cols = String(cols);
    this.canvas.dataset.name = spec.name;
    this.canvas.dataset.rowAxis = spec.rowAxis;
    this.canvas.dataset.colAxis = spec.colAxis;
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', `${spec.title}: ${rows} rows (${spec.rowAxis}) × ${cols} columns (${spec.colAxis})`);
    this.scale = mapScale(spec);
    this.paintPixels();
    const signal = this.listeners.signal;
    this.canvas.addEventListener('mousemove', (e) => this.onMove(e), { signal });
    this.canvas.addEventListener('mouseleave', () => this.onLeave(), { signal });
    this.zoomable = isZoomable(spec);
    if (this.zoomable) {
      this.canvas.classList.add('zoomable');
      this.canvas.title = 'Ctrl+scroll or the + and − buttons to zoom, drag to pan, double-click to reset';
      this.canvas.addEventListener('wheel', (e) => this.onWheel(e), { passive: false, signal });
      this.canvas.addEventListener('mousedown', (e) => {
        this.drag = { x: e.offsetX, y: e.offsetY, view: { ...this.view } };
      }, { signal });
      window.addEventListener('mouseup', () => { this.drag = undefined; }, { signal });
      this.canvas.addEventListener('dblclick', () => this.resetView(), { signal });
    }
  }

  /** Removes the map's listeners (the window's mouseup too); call when its section is replaced. */
  dispose(): void {
    this.listeners.abort();
    this.drag = undefined;
  }

  /** Zooms around the middle of the view: factor < 1 shows fewer cells (larger, labelled). */
  zoomBy(factor: number): void {
    const { r0, c0, rows, cols } = this.view;
    const nr = rows * factor;
    const nc = cols * factor;
    this.setView({ rows: nr, cols: nc, r0: r0 + (rows - nr) / 2, c0: c0 + (cols - nc) / 2 });
  }

  /** Shows the whole matrix again. */
  resetView(): void {
    const { rows, cols } = this.spec.matrix;
    this.setView({ r0: 0, c0: 0, rows, cols });
  }

  /** Whether the view shows less than the whole matrix. */
  get zoomed(): boolean {
    return this.view.rows < this.spec.matrix.rows || this.view.cols < this.spec.matrix.cols;
  }

  get colorScale(): Scale {
    return this.scale;
  }

  /** Whether draw() has laid the map out for a width yet. */
  get laidOut(): boolean {
    return this.width > 0;
  }

  /** The visible window (rows, cols and offsets), e.g. for tests of zooming. */
  get visible(): Readonly<View> {
    return this.view;
  }

  /** Lays the map out for `width` CSS pixels and paints it. */
  draw(width: number): void {
    this.width = width;
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.font = font(11);
    const { rows, cols } = this.view;
    const widest = (labels: readonly string[]) => labels.slice(0, 400).reduce((w, l) => Math.max(w, ctx.measureText(clip(l)).width), 0);
    const guess = (width - 60) / Math.max(1, cols);
    const colLabels = guess >= MIN_LABELLED_CELL;
    const tall = (cell: number) => Math.max(cell, Math.min(this.spec.minRowHeight ?? 0, MAX_CELL));
    const rowGuess = Math.min(tall(guess >= 1 ? Math.min(MAX_CELL, Math.floor(guess)) : guess), MAX_HEIGHT / Math.max(1, rows));
    const rowLabels = rowGuess >= MIN_LABELLED_CELL;
    // Without labels, index ticks: as wide as the largest index.
    const tickWidth = Math.ceil(ctx.measureText(String(this.spec.matrix.rows - 1)).width) + 8;
    const left = AXIS + (rowLabels ? Math.min(120, Math.ceil(widest(this.spec.rowLabels)) + 10) : tickWidth);
    const top = AXIS + (colLabels ? Math.min(90, Math.ceil(widest(this.colLabels()) * 0.72) + 14) : 14);
    // The last column's label leans right, past the grid.
    const right = colLabels ? Math.min(60, Math.ceil(ctx.measureText(clip(this.colLabels()[this.view.c0 + cols - 1] ?? '')).width * 0.72) + 4) : 4;
    const fit = (width - left - right) / Math.max(1, cols);
    // Whole pixels keep small maps crisp; a zoomable map keeps its width as it zooms (cells grow
    // fractionally instead of the canvas shrinking under the pointer).
    const cw = Math.max(fit >= 1 ? Math.min(MAX_CELL, this.zoomable ? fit : Math.floor(fit)) : fit, this.zoomable ? 0 : this.spec.minColWidth ?? 0);
    // Square cells when they fit under MAX_HEIGHT, else rows are squeezed (long texts).
    const ch = Math.min(tall(cw), MAX_HEIGHT / Math.max(1, rows));
    // Labels only where the margins were made for them and the cells are tall (wide) enough.
    this.layout = { left, top, cw, ch, rowLabels: rowLabels && ch >= MIN_LABELLED_CELL, colLabels: colLabels && cw >= MIN_LABELLED_CELL };
    // Where the cells are, in CSS pixels of the canvas (end-to-end tests hover a given cell).
    this.canvas.dataset.grid = `${left},${top},${cw},${ch}`;
    const w = Math.ceil(left + cw * cols + right);
    // The row axis's name runs down the left edge from the grid's top (paintLabels): a short map
    // grows to hold it rather than lose it.
    ctx.font = axisFont();
    const rowAxisWidth = ctx.measureText(`← ${this.spec.rowAxis}`).width;
    const h = Math.ceil(Math.max(top + ch * rows + 4, Math.max(top, rowAxisWidth + 2) + rowAxisWidth + 2));
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.ceil(w * dpr);
    this.canvas.height = Math.ceil(h * dpr);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.paint();
  }

  /**
   * Outlines the query token's row and the key token's column (a hovered cell), or one token's
   * row and column (key omitted: a hovered token chip); null clears.
   */
  highlight(query: number | null, key: number | null = query): void {
    if (query === this.highlighted.query && key === this.highlighted.key) return;
    this.highlighted = { query, key };
    this.paint();
  }

  /** Shows a window of the matrix (clamped to it) and repaints. */
  setView(view: View): void {
    const { rows, cols } = this.spec.matrix;
    const vr = Math.max(Math.min(MIN_VIEW, rows), Math.min(rows, Math.round(view.rows)));
    const vc = Math.max(Math.min(MIN_VIEW, cols), Math.min(cols, Math.round(view.cols)));
    this.view = {
      rows: vr,
      cols: vc,
      r0: Math.max(0, Math.min(rows - vr, Math.round(view.r0))),
      c0: Math.max(0, Math.min(cols - vc, Math.round(view.c0))),
    };
    this.canvas.dataset.view = `${this.view.r0},${this.view.c0},${this.view.rows},${this.view.cols}`;
    this.draw(this.width);
    // The figure around the map follows (its "zoom in to read labels" hint).
    this.canvas.dispatchEvent(new Event('viewchange', { bubbles: true }));
  }

  private colLabels(): readonly string[] {
    return this.spec.colLabels ?? Array.from({ length: this.spec.matrix.cols }, (_, i) => String(i));
  }

  /** Shows exact values that have arrived since: in the tooltip, and as numbers when zoomed in. */
  refresh(): void {
    if (this.hoverCell && !this.host.tooltip.hidden) this.showTooltip(...this.hoverCell);
    if (isCodes(this.spec.matrix) && Math.min(this.layout.cw, this.layout.ch) >= SHOW_NUMBERS) this.paint();
  }

  /** What is drawn in a cell: its value (exact, or the level's for codes), masked, dropped. */
  private cell(r: number, c: number): { value: number; masked: boolean; dropped: boolean } {
    const { matrix, masked, dropped } = this.spec;
    if (isCodes(matrix)) {
      const code = codeAt(matrix, r, c);
      return { value: code < MAP_LEVELS ? levelValue(matrix.scale, code) : 0, masked: code === CODE_MASKED, dropped: code === CODE_DROPPED };
    }
    const value = matrix.data[r * matrix.cols + c] ?? 0;
    return { value, masked: !Number.isFinite(value) || (masked?.(r, c) ?? false), dropped: dropped?.(r, c) ?? false };
  }

  /** The whole matrix as an image, one pixel per cell; masked cells transparent. */
  private paintPixels(): void {
    const { matrix } = this.spec;
    const { rows, cols } = matrix;
    this.pixels.width = Math.max(1, cols);
    this.pixels.height = Math.max(1, rows);
    const image = new ImageData(this.pixels.width, this.pixels.height);
    // One 32-bit write a pixel: a 2,048-token map is 4 million of them.
    const pixels = new Uint32Array(image.data.buffer);
    if (isCodes(matrix)) {
      // One colour a code; a dropped weight is drawn as the 0 it became, as for exact maps.
      const palette = new Uint32Array(256);
      for (let k = 0; k < MAP_LEVELS; k++) palette[k] = rgba(colorOf(this.scale, levelValue(matrix.scale, k)));
      palette[CODE_DROPPED] = rgba(colorOf(this.scale, 0));
      const { codes, lower } = matrix;
      for (let r = 0, o = 0; r < rows; r++) {
        const end = lower ? r + 1 : cols;
        for (let c = 0; c < end; c++, o++) pixels[r * cols + c] = palette[codes[o]!]!; // CODE_MASKED stays 0: transparent
      }
    } else {
      for (let i = 0; i < matrix.data.length; i++) {
        const v = matrix.data[i] ?? 0;
        if (!Number.isFinite(v) || this.spec.masked?.(Math.floor(i / cols), i % cols)) continue;
        pixels[i] = rgba(colorOf(this.scale, v));
      }
    }
    this.pixels.getContext('2d')?.putImageData(image, 0, 0);
  }

  /** Paints again with the theme's colours and fonts (after a theme change). */
  repaint(): void {
    if (this.width) this.draw(this.width);
  }

  private paint(): void {
    const ctx = this.canvas.getContext('2d');
    if (!ctx || !this.width) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const { left, top, cw, ch } = this.layout;
    const { r0, c0, rows, cols } = this.view;
    // Enlarged cells stay crisp; shrunk images are averaged so no row vanishes.
    ctx.imageSmoothingEnabled = cw < 1 || ch < 1;
    ctx.drawImage(this.pixels, c0, r0, cols, rows, left, top, cw * cols, ch * rows);
    const fg = themeVar('--vscode-foreground', '#888');
    if (Math.min(cw, ch) >= MIN_MARKED_CELL) this.paintMarks(ctx, fg);
    this.paintLabels(ctx, fg);
    this.paintOutlines(ctx, fg);
    if (rows < this.spec.matrix.rows || cols < this.spec.matrix.cols) this.paintMinimap(ctx, fg);
  }

  /** Hatching for masked cells, crosses for dropped ones, numbers when they fit: visible cells only. */
  private paintMarks(ctx: CanvasRenderingContext2D, fg: string): void {
    const { left, top, cw, ch } = this.layout;
    const cell = Math.min(cw, ch);
    const coded = isCodes(this.spec.matrix);
    const { r0, c0, rows, cols } = this.view;
    const showNumbers = cell >= SHOW_NUMBERS;
    const cellText = cw >= SHOW_TEXT[0] && ch >= SHOW_TEXT[1] ? this.spec.cellText : undefined;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.font = font(cell >= 40 ? 11 : 10);
    for (let r = r0; r < r0 + rows; r++) {
      for (let c = c0; c < c0 + cols; c++) {
        const x = left + (c - c0) * cw;
        const y = top + (r - r0) * ch;
        const { value, masked, dropped } = this.cell(r, c);
        if (masked) {
          if (cell < 6) continue;
          ctx.strokeStyle = fg;
          ctx.globalAlpha = 0.25;
          ctx.lineWidth = 1;
          ctx.beginPath();
          for (let d = -cell; d < cell; d += 5) {
            ctx.moveTo(x + Math.max(0, d), y + Math.max(0, -d));
            ctx.lineTo(x + Math.min(cell, cell + d), y + Math.min(cell, cell - d));
          }
          ctx.stroke();
          ctx.globalAlpha = 1;
        } else if (dropped && cell < 8) {
          // Too small for a cross: a dot in the middle, with a dark rim so it shows on yellow too.
          const d = Math.max(2, cell * 0.6);
          ctx.fillStyle = 'rgba(0,0,0,0.6)';
          ctx.fillRect(x + (cell - d) / 2 - 0.5, y + (cell - d) / 2 - 0.5, d + 1, d + 1);
          ctx.fillStyle = DROPPED_INK;
          ctx.fillRect(x + (cell - d) / 2, y + (cell - d) / 2, d, d);
        } else if (dropped) {
          ctx.fillStyle = 'rgba(0,0,0,0.35)';
          ctx.fillRect(x, y, cell, cell);
          ctx.strokeStyle = DROPPED_INK;
          ctx.lineWidth = Math.max(1, cell / 14);
          const m = cell * 0.28;
          ctx.beginPath();
          ctx.moveTo(x + m, y + m);
          ctx.lineTo(x + cell - m, y + cell - m);
          ctx.moveTo(x + cell - m, y + m);
          ctx.lineTo(x + m, y + cell - m);
          ctx.stroke();
        } else if (cellText) {
          ctx.fillStyle = inkOn(colorOf(this.scale, value));
          ctx.fillText(clipTo(ctx, cellText(r, c), cw - 3), x + cw / 2, y + ch / 2);
        } else if (showNumbers) {
          // A coded map's number is the one the host sent, never the code's level unmarked.
          const reading = coded ? this.spec.exact?.(r, c) : { value };
          if (reading === undefined) continue;
          ctx.fillStyle = inkOn(colorOf(this.scale, reading.value));
          ctx.fillText(showReading(reading, formatCell, ''), x + cell / 2, y + cell / 2);
        }
      }
    }
    ctx.font = font(11);
  }

  private paintLabels(ctx: CanvasRenderingContext2D, fg: string): void {
    const { left, top, cw, ch, rowLabels, colLabels } = this.layout;
    const { r0, c0, rows, cols } = this.view;
    const labels = this.colLabels();
    ctx.fillStyle = fg;
    ctx.textBaseline = 'middle';
    // Axis names: the columns' along the top edge, the rows' up the left edge.
    ctx.font = axisFont();
    ctx.textAlign = 'left';
    ctx.fillText(`${this.spec.colAxis} →`, left, AXIS / 2);
    // Read upwards from the grid's top edge, or lower where a short map has no room above it.
    const rowAxis = `← ${this.spec.rowAxis}`;
    const height = this.canvas.height / (window.devicePixelRatio || 1);
    ctx.save();
    ctx.translate(AXIS / 2, Math.min(height - 2, Math.max(top, ctx.measureText(rowAxis).width + 2)));
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'right';
    ctx.fillText(rowAxis, 0, 0);
    ctx.restore();
    ctx.font = font(11);
    if (!rowLabels) {
      ctx.textAlign = 'right';
      const step = tickStep(ch);
      for (let r = Math.ceil(r0 / step) * step; r < r0 + rows; r += step) ctx.fillText(String(r), left - 4, top + (r - r0 + 0.5) * ch);
    }
    if (!colLabels) {
      ctx.textAlign = 'center';
      const step = tickStep(cw);
      for (let c = Math.ceil(c0 / step) * step; c < c0 + cols; c += step) ctx.fillText(String(c), left + (c - c0 + 0.5) * cw, top - 7);
    }
    if (rowLabels) {
      ctx.textAlign = 'right';
      for (let r = r0; r < r0 + rows; r++) ctx.fillText(clip(this.spec.rowLabels[r] ?? ''), left - 5, top + (r - r0) * ch + ch / 2);
    }
    if (colLabels) {
      ctx.textAlign = 'left';
      for (let c = c0; c < c0 + cols; c++) {
        ctx.save();
        ctx.translate(left + (c - c0) * cw + cw / 2, top - 5);
        ctx.rotate(-Math.PI / 4);
        ctx.fillText(clip(labels[c] ?? ''), 0, 0);
        ctx.restore();
      }
    }
  }

  private paintOutlines(ctx: CanvasRenderingContext2D, fg: string): void {
    const { left, top, cw, ch } = this.layout;
    const { r0, c0, rows, cols } = this.view;
    ctx.lineWidth = 2;
    ctx.strokeStyle = themeVar('--vscode-focusBorder', '#0090f1');
    const { query, key } = this.highlighted;
    // A map whose only token axis is its columns highlights the query there.
    const rowToken = this.spec.rowsAreTokens ? query : null;
    const colToken = this.spec.colsAreTokens ? (this.spec.rowsAreTokens ? key : query) : null;
    if (rowToken !== null && rowToken >= r0 && rowToken < r0 + rows) ctx.strokeRect(left - 1, top + (rowToken - r0) * ch - 1, cols * cw + 2, Math.max(ch, 1) + 2);
    if (colToken !== null && colToken >= c0 && colToken < c0 + cols) ctx.strokeRect(left + (colToken - c0) * cw - 1, top - 1, Math.max(cw, 1) + 2, rows * ch + 2);
    if (this.hoverCell && Math.min(cw, ch) >= 3) {
      const [r, c] = this.hoverCell;
      ctx.strokeStyle = fg;
      ctx.strokeRect(left + (c - c0) * cw, top + (r - r0) * ch, cw, ch);
    }
  }

  /** The whole map in a corner, with the visible window outlined. */
  private paintMinimap(ctx: CanvasRenderingContext2D, fg: string): void {
    const { rows, cols } = this.spec.matrix;
    const size = 110;
    const k = size / Math.max(rows, cols);
    const w = cols * k;
    const h = rows * k;
    const x = this.canvas.width / (window.devicePixelRatio || 1) - w - 10;
    const y = this.layout.top + 6;
    ctx.fillStyle = themeVar('--vscode-editor-background', '#1e1e1e');
    ctx.fillRect(x - 3, y - 3, w + 6, h + 6);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.pixels, x, y, w, h);
    ctx.strokeStyle = fg;
    ctx.lineWidth = 1;
    ctx.strokeRect(x - 3, y - 3, w + 6, h + 6);
    ctx.strokeStyle = themeVar('--vscode-focusBorder', '#0090f1');
    ctx.lineWidth = 2;
    ctx.strokeRect(x + this.view.c0 * k, y + this.view.r0 * k, Math.max(2, this.view.cols * k), Math.max(2, this.view.rows * k));
  }

  /** The cell under a mouse position, or null outside the grid. */
  cellAt(offsetX: number, offsetY: number): [number, number] | null {
    const { left, top, cw, ch } = this.layout;
    const c = Math.floor((offsetX - left) / cw);
    const r = Math.floor((offsetY - top) / ch);
    return r >= 0 && r < this.view.rows && c >= 0 && c < this.view.cols ? [r + this.view.r0, c + this.view.c0] : null;
  }

  private onWheel(e: WheelEvent): void {
    // Plain scrolling keeps scrolling the page; Ctrl (or a pinch, which sends Ctrl) zooms.
    if (!e.ctrlKey && !e.metaKey) return;
    e.preventDefault();
    const { left, top, cw, ch } = this.layout;
    const factor = e.deltaY < 0 ? 0.8 : 1.25;
    // Keep the cell under the pointer where it is.
    const fc = (e.offsetX - left) / cw;
    const fr = (e.offsetY - top) / ch;
    const rows = this.view.rows * factor;
    const cols = this.view.cols * factor;
    this.setView({
      rows, cols,
      r0: this.view.r0 + fr - (fr / this.view.rows) * rows,
      c0: this.view.c0 + fc - (fc / this.view.cols) * cols,
    });
  }

  private onMove(e: MouseEvent): void {
    if (this.drag) {
      const { cw, ch } = this.layout;
      const from = this.drag.view;
      this.setView({ ...from, r0: from.r0 - (e.offsetY - this.drag.y) / ch, c0: from.c0 - (e.offsetX - this.drag.x) / cw });
      return;
    }
    const hit = this.cellAt(e.offsetX, e.offsetY);
    const tip = this.host.tooltip;
    if (!hit) {
      this.onLeave();
      return;
    }
    const [r, c] = hit;
    if (!this.hoverCell || this.hoverCell[0] !== r || this.hoverCell[1] !== c) {
      this.hoverCell = hit;
      this.showTooltip(r, c);
      const { rowsAreTokens, colsAreTokens } = this.spec;
      this.host.onHoverToken(rowsAreTokens ? r : colsAreTokens ? c : null, rowsAreTokens && colsAreTokens ? c : null);
      this.paint();
    }
    tip.hidden = false;
    this.placeTooltip(r, c, e.clientX);
  }

  /**
   * Puts the tooltip above the hovered cell's row (below it when there is no room), within the
   * map's own width where it fits: it never covers the cell it describes, nor a map beside this one.
   */
  private placeTooltip(r: number, c: number, pointerX: number): void {
    const tip = this.host.tooltip;
    const box = this.canvas.getBoundingClientRect();
    const { left, top, cw, ch } = this.layout;
    tip.style.maxWidth = `${Math.max(220, Math.min(360, box.width))}px`;
    const cellTop = box.top + top + (r - this.view.r0) * ch;
    const cellLeft = box.left + left + (c - this.view.c0) * cw;
    const gap = 6;
    const above = cellTop - gap - tip.offsetHeight;
    const y = above >= 4 ? above : cellTop + Math.max(ch, 1) + gap;
    // Centred on the pointer, then kept inside the map, then inside the window.
    let x = Math.min(Math.max(pointerX - tip.offsetWidth / 2, box.left), box.right - tip.offsetWidth);
    x = Math.min(Math.max(4, x), window.innerWidth - tip.offsetWidth - 4);
    tip.style.left = `${x}px`;
    tip.style.top = `${y}px`;
    tip.dataset.cell = `${cellLeft},${cellTop},${cw},${ch}`;
  }

  private showTooltip(r: number, c: number): void {
    this.host.tooltip.replaceChildren(...this.spec.describe(r, c).map((line) => el('div', { textContent: line })));
  }

  private onLeave(): void {
    this.host.tooltip.hidden = true;
    if (this.hoverCell) {
      this.hoverCell = null;
      this.host.onHoverToken(null, null);
      this.paint();
    }
  }
}

/** An opaque colour as one little-endian RGBA word of ImageData, channels rounded as ImageData rounds them. */
const rgba = ([r, g, b]: Rgb) => (((255 << 24) | (Math.round(b) << 16) | (Math.round(g) << 8) | Math.round(r)) >>> 0);

/** `text` cut to `width` pixels in the context's font, with … where it was cut. */
function clipTo(ctx: CanvasRenderingContext2D, text: string, width: number): string {
  if (ctx.measureText(text).width <= width) return text;
  let n = text.length;
  while (n > 1 && ctx.measureText(`${text.slice(0, n)}…`).width > width) n--;
  return `${text.slice(0, n)}…`;
}

export function formatCell(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2).replace(/^(-?)0\./, '$1.');
}

/** Every how many rows (or columns) an index is drawn when labels do not fit: ticks ≥ 30 px apart. */
export function tickStep(cell: number): number {
  const want = 30 / Math.max(cell, 1e-6);
  for (let base = 1; ; base *= 10) {
    for (const k of [1, 2, 5]) if (k * base >= want) return k * base;
  }
}

function clip(label: string, max = 14): string {
  return label.length > max ? `${label.slice(0, max - 1)}…` : label;
}
