// What a hovered cell's tooltip says: the tokens of its row and column and its numbers, exact or
// asked of the host (long texts), and the statistics the notes read from a shown map.
import { CODE_MASKED, MAP_LEVELS, codeAt, levelValue } from '../src/shared/codes';
import type { PanelMap } from '../src/shared/protocol';
import { showReading, type CellReading } from './cells';
import { cells } from './host';
import type { Cells } from './notes';

/** A cell's value, or undefined while the host is asked for it. */
export type CellValue = (r: number, c: number) => CellReading | undefined;

/** Values of the matrix at `path`: from the trace when it came exact, else from the host. */
export function exactOf(m: PanelMap | undefined, path: string): CellValue {
  return m && 'data' in m ? (r, c) => ({ value: m.data[r * m.cols + c] ?? 0 }) : (r, c) => cells.value(path, r, c);
}

/** A shown map's values for a note's statistics: exact, or its display codes' levels (approximate). */
export function cellsOf(m: PanelMap): { cells: Cells; approximate: boolean } {
  if ('data' in m) return { cells: { rows: m.rows, cols: m.cols, value: (r, c) => m.data[r * m.cols + c] ?? 0 }, approximate: false };
  const value = (r: number, c: number) => {
    const code = codeAt(m, r, c);
    return code < MAP_LEVELS ? levelValue(m.scale, code) : code === CODE_MASKED ? -Infinity : 0;
  };
  return { cells: { rows: m.rows, cols: m.cols, value }, approximate: true };
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : 'masked');
const ASKING = 'exact values: asking the extension…';
/** The last line of a tooltip that shows values from the report's display codes. */
const APPROXIMATE = '≈: to the colour scale\'s precision (the extension shows exact values)';
const approximateNote = (readings: (CellReading | undefined)[]) => (readings.some((x) => x?.mark) ? [APPROXIMATE] : []);

/** An attention cell: query and key, raw and scaled score, weight, and what dropout did. */
export function attentionDescribe(labels: string[], scores: CellValue, weights: CellValue, scale: number, dropped?: CellValue) {
  return (r: number, c: number) => {
    const lines = [`query ${r} “${labels[r]}” (row) → key ${c} “${labels[c]}” (column)`];
    // All asked at once, so a missing block is one request.
    const s = scores(r, c);
    const w = weights(r, c);
    const d = dropped?.(r, c);
    if (s === undefined || w === undefined || (dropped && d === undefined)) return [...lines, ASKING];
    lines.push(`raw score ${showReading(s, fmt)}`);
    if (scale !== 1) lines.push(`scaled score ${Number.isFinite(s.value) ? showReading({ ...s, value: s.value / scale }, fmt) : 'masked (−∞)'}`);
    lines.push(`weight ${showReading(w, fmt)}`);
    if (d !== undefined) {
      lines.push(c > r ? 'future token: masked' : d.value === 0 && w.value > 0 ? 'dropped by dropout' : `after dropout ${showReading(d, fmt)}`);
    }
    return [...lines, ...approximateNote([s, w, d])];
  };
}

/** A value cell: its row (a token or a position) and its column (`what` and its index). */
export const valueDescribe = (rowLabels: string[], value: CellValue, what: string, rowWhat = 'token') => (r: number, c: number) => {
  const v = value(r, c);
  const row = `${rowWhat} ${r}${rowWhat === 'token' ? ` “${rowLabels[r]}”` : ''}`;
  if (v === undefined) return [row, ASKING];
  return [row, `${what} ${c}: ${showReading(v, (x) => x.toFixed(5))}`, ...approximateNote([v])];
};
