// One matrix of a trace as CSV (the panel's "Save as CSV"): found by its path, one row per token.
import type { Matrix, Trace } from './types';

export function findMatrix(trace: Trace, path: string): Matrix | undefined {
  let node: unknown = trace;
  for (const key of path.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  const m = node as Matrix | undefined;
  return m && typeof m === 'object' && m.data instanceof Float32Array ? m : undefined;
}

/** One row per token, the token's text first; -Infinity (masked) is written as an empty cell. */
export function matrixToCsv(matrix: Matrix, trace: Trace): string {
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const square = matrix.cols === trace.tokens.length;
  const header = ['token', ...Array.from({ length: matrix.cols }, (_, c) => (square ? quote(trace.tokens[c]?.text ?? '') : String(c)))];
  const lines = [header.join(',')];
  for (let r = 0; r < matrix.rows; r++) {
    const row = [quote(trace.tokens[r]?.text ?? String(r))];
    for (let c = 0; c < matrix.cols; c++) {
      const v = matrix.data[r * matrix.cols + c] ?? 0;
      row.push(Number.isFinite(v) ? String(v) : '');
    }
    lines.push(row.join(','));
  }
  return `${lines.join('\n')}\n`;
}
