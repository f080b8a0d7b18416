// What a heatmap is asked to draw, in its own file so that the heatmap and its scale both read it
// without importing each other.
import type { PanelMap } from '../src/shared/protocol';
import type { ScaleKind } from './colors';
import type { CellReading } from './cells';

export interface HeatmapSpec {
  /** Path of the matrix in the trace, e.g. "causal.weights": used for ids and CSV export. */
  name: string;
  title: string;
  /** Exact values, or display codes (long texts) whose scale and masked/dropped cells come with them. */
  matrix: PanelMap;
  rowLabels: readonly string[];
  /** Column labels; numbers 0..cols-1 when absent (embedding dimensions). */
  colLabels?: readonly string[];
  /** What the rows and the columns are, drawn beside the axes: "queries", "keys", "dimensions". */
  rowAxis: string;
  colAxis: string;
  /** The colour scale of an exact matrix (codes carry their own). */
  scale: ScaleKind;
  /** Fixed colour range, e.g. [0, 1] for attention weights. */
  range?: [number, number];
  /** Cells that are not part of the computation (future tokens under the causal mask), hatched. */
  masked?: (row: number, col: number) => boolean;
  /** Cells removed by dropout (drawn crossed). */
  dropped?: (row: number, col: number) => boolean;
  /**
   * A word drawn in each cell instead of its number, where it fits (the logit lens's top token):
   * the colour then stands for a value the tooltip gives.
   */
  cellText?: (row: number, col: number) => string;
  /**
   * Columns at least this wide (CSS px), the figure scrolling sideways where the panel is narrower:
   * a map whose cells hold words (cellText) is unreadable at a few pixels a column.
   */
  minColWidth?: number;
  /** Tooltip lines for a cell. */
  describe: (row: number, col: number) => string[];
  /**
   * The value of a cell of a coded map (exact from the extension's host, marked approximate in the
   * report), or undefined while it is asked for (call refresh() when it arrives): the numbers drawn
   * in cells zoomed in far enough.
   */
  exact?: (row: number, col: number) => CellReading | undefined;
  /**
   * Rows at least this tall (CSS px) while the map stays under its height limit: a wide map of
   * few rows (T × 4·dim) would otherwise get square cells a few pixels high and no row labels.
   */
  minRowHeight?: number;
  /** Whether rows/cols are tokens (then hovering highlights the token everywhere). */
  rowsAreTokens: boolean;
  colsAreTokens: boolean;
}
