// Display codes: how a heatmap travels to the panel as one byte a cell on its own colour scale,
// and how the panel (and the standalone report) turns codes back into values. Pure functions
// with no Node or DOM: the engine worker encodes, the webview decodes.
import * as v from 'valibot';
import type { Matrix } from '../engine/types';
import { finite, index, uint8 } from './wire';

/**
 * sequential: linear min..max; log: log10 from min to max (attention weights of long texts,
 * which are about 1/T each, would all look alike on a linear scale); diverging: centred on 0.
 */
export const SCALE_KINDS = ['sequential', 'log', 'diverging'] as const;
export type ScaleKind = (typeof SCALE_KINDS)[number];

export const ScaleSchema = v.pipe(
  v.object({ kind: v.picklist(SCALE_KINDS), min: finite, max: finite }),
  v.check((s) => s.kind !== 'log' || (s.min > 0 && s.max > s.min), 'a log scale runs from above 0 upwards'),
);
export type Scale = v.InferOutput<typeof ScaleSchema>;

/**
 * The one rule for colouring attention weights, used by the panel for exact maps and by the host
 * when it encodes codes. Weights lie in [0, 1] (after dropout up to 1/(1−p)). Long texts spread
 * each row over many keys (about 1/T each), so above 32 tokens the scale is logarithmic from
 * 1/(4T) up.
 */
export function weightScale(tokens: number, dropout = 0): { kind: ScaleKind; range: [number, number] } {
  const top = 1 / (1 - dropout);
  return tokens > 32 ? { kind: 'log', range: [1 / (4 * tokens), top] } : { kind: 'sequential', range: [0, top] };
}

/**
 * A heatmap as display codes, one byte a cell: codes 0..MAP_LEVELS-1 are evenly spaced positions
 * on `scale` (in log space for a log scale), CODE_DROPPED a weight that dropout zeroed,
 * CODE_MASKED a cell outside the computation (hatched). With `lower`, only the lower triangle is
 * sent, row by row (T·(T+1)/2 codes), and every cell above the diagonal is masked. Half a level
 * is 1/506 of the colour ramp: below one step of an 8-bit colour channel for our ramps.
 */
export const MapCodesSchema = v.pipe(
  v.object({
    rows: index,
    cols: index,
    scale: ScaleSchema,
    lower: v.boolean(),
    codes: uint8, // (rows·cols) or, with lower, (rows·(rows+1)/2)
  }),
  v.check((m) => (m.lower ? m.rows === m.cols && m.codes.length === (m.rows * (m.rows + 1)) / 2 : m.codes.length === m.rows * m.cols),
    'codes hold rows·cols cells, or a square lower triangle'),
);
export type MapCodes = v.InferOutput<typeof MapCodesSchema>;

export const MAP_LEVELS = 254;
export const CODE_DROPPED = 254;
export const CODE_MASKED = 255;

/** The value a level stands for (the exact value within half a level of it). */
export function levelValue(scale: Scale, level: number): number {
  const t = level / (MAP_LEVELS - 1);
  return scale.kind === 'log' ? scale.min * (scale.max / scale.min) ** t : scale.min + (scale.max - scale.min) * t;
}

/**
 * Encodes `m` for display. `range` fixes the scale's ends (attention weights); without it they are
 * the finite min and max of the cells sent. `before`: the weights before dropout, so a cell that
 * was positive there and is 0 in `m` is coded CODE_DROPPED.
 */
export function encodeMap(
  m: Matrix, scale: { kind: ScaleKind; range?: readonly [number, number] }, options: { lower?: boolean; before?: Matrix } = {},
): MapCodes {
  const lower = options.lower ?? false;
  const { rows, cols, data } = m;
  if (lower && rows !== cols) throw new Error(`a lower triangle needs a square matrix, not ${rows}×${cols}`);
  const rowEnd = (r: number) => (lower ? r + 1 : cols);
  const [min, max] = scale.range ?? finiteRange(data, cols, lower);
  const map: MapCodes = { rows, cols, scale: { kind: scale.kind, min, max }, lower, codes: new Uint8Array(lower ? (rows * (rows + 1)) / 2 : rows * cols) };
  const before = options.before?.data;
  // Level = round(position on the scale · (MAP_LEVELS − 1)), the position clamped to [0, 1]; on a
  // log scale it is measured in log space and 0 or less is the bottom.
  const log = scale.kind === 'log';
  const origin = log ? Math.log(min) : min;
  const perLevel = (log ? Math.log(max / min) : max - min) / (MAP_LEVELS - 1) || 1;
  const { codes } = map;
  for (let r = 0, o = 0; r < rows; r++) {
    for (let c = 0, end = rowEnd(r), i = r * cols; c < end; c++, o++, i++) {
      const v = data[i]!;
      if (!Number.isFinite(v)) codes[o] = CODE_MASKED;
      else if (before && v === 0 && before[i]! > 0) codes[o] = CODE_DROPPED;
      else {
        const level = Math.round(((log ? (v > 0 ? Math.log(v) : -Infinity) : v) - origin) / perLevel);
        codes[o] = level < 0 ? 0 : level > MAP_LEVELS - 1 ? MAP_LEVELS - 1 : level;
      }
    }
  }
  return map;
}

/**
 * The finite min and max of a matrix's cells (row-major, `cols` wide; with `lower`, only j <= i):
 * masked scores (−∞) take no part. [0, 1] when nothing is finite (every cell is masked anyway).
 */
export function finiteRange(data: Float32Array, cols: number, lower = false): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  const rows = cols > 0 ? data.length / cols : 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0, end = lower ? Math.min(r + 1, cols) : cols, i = r * cols; c < end; c++, i++) {
      const v = data[i]!;
      if (!Number.isFinite(v)) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return min > max ? [0, 1] : [min, max];
}

/**
 * A window of `rows`×`cols` cells from (r0, c0) clipped to matrices that must all have one shape:
 * its clipped size, or undefined when a matrix is missing, the shapes differ or nothing is inside.
 * Answers 'requestCells' from the engine's exact trace and from the report's display codes alike.
 */
export function clipWindow(
  shapes: readonly ({ rows: number; cols: number } | undefined)[], r0: number, c0: number, rows: number, cols: number,
): { rows: number; cols: number } | undefined {
  const first = shapes[0];
  if (!first || shapes.some((m) => !m || m.rows !== first.rows || m.cols !== first.cols)) return undefined;
  const h = Math.min(rows, first.rows - r0);
  const w = Math.min(cols, first.cols - c0);
  return h >= 1 && w >= 1 ? { rows: h, cols: w } : undefined;
}

/** The code of cell (r, c). */
export function codeAt(map: MapCodes, r: number, c: number): number {
  if (!map.lower) return map.codes[r * map.cols + c] ?? CODE_MASKED;
  return c > r ? CODE_MASKED : map.codes[(r * (r + 1)) / 2 + c] ?? CODE_MASKED;
}

/**
 * The values the codes of a window stand for, row by row (rows·cols): a level its value, a dropped
 * weight 0; a masked cell what the trace holds there: −∞ for scores (diverging scale), 0 for
 * weights (above the diagonal of a causal map). `floor`: values at or below it stand for anything
 * from 0 up to it (the top of a log scale's lowest level, where every smaller weight is coded);
 * −∞ on linear scales, whose range covers every value coded.
 */
export function codeValues(map: MapCodes, r0: number, c0: number, rows: number, cols: number): { values: Float32Array; floor: number } {
  const { scale } = map;
  const values = new Float32Array(rows * cols);
  const masked = scale.kind === 'diverging' ? -Infinity : 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const code = codeAt(map, r0 + r, c0 + c);
      values[r * cols + c] = code < MAP_LEVELS ? levelValue(scale, code) : code === CODE_DROPPED ? 0 : masked;
    }
  }
  return { values, floor: scale.kind === 'log' ? levelValue(scale, 0.5) : -Infinity };
}

export const isMapCodes = (x: unknown): x is MapCodes => v.is(MapCodesSchema, x);
