// The one numeric comparison helper of the unit tests (tinygrad's assert_close, in TypeScript):
// |actual − expected| <= atol + rtol·|expected| everywhere, and on failure a message with the
// label, the largest difference and where it is.

import type { Matrix } from '../../src/engine/types';

export type Numeric = number | Matrix | Float32Array | Float64Array | readonly (number | null | Numeric)[];

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  label?: string;
}

function isMatrix(value: unknown): value is Matrix {
  return typeof value === 'object' && value !== null && 'rows' in value && 'cols' in value && 'data' in value;
}

/** All numbers of `value` in row-major order (null, as JSON writes a masked score, is −∞). */
export function flatten(value: Numeric | null): number[] {
  if (value === null) return [-Infinity];
  if (typeof value === 'number') return [value];
  if (isMatrix(value)) return Array.from(value.data);
  if (value instanceof Float32Array || value instanceof Float64Array) return Array.from(value);
  return (value as readonly (number | null | Numeric)[]).flatMap((item) => flatten(item));
}

function describeIndex(value: Numeric, index: number): string {
  return isMatrix(value) ? `[${Math.floor(index / value.cols)}][${index % value.cols}]` : `[${index}]`;
}

/** The largest |actual − expected| and its flat index; equal infinities count as 0, NaN as ∞. */
export function maxAbsDiff(actual: Numeric, expected: Numeric): { diff: number; index: number } {
  const a = flatten(actual);
  const e = flatten(expected);
  if (a.length !== e.length) throw new Error(`maxAbsDiff: ${a.length} values against ${e.length}`);
  let diff = 0;
  let index = a.length > 0 ? 0 : -1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    const d = x === y ? 0 : Number.isNaN(x) || Number.isNaN(y) ? Infinity : Math.abs(x - y);
    if (d > diff) {
      diff = d;
      index = i;
    }
  }
  return { diff, index };
}

/** Throws unless every element is within atol + rtol·|expected|; returns the largest difference. */
export function assertClose(actual: Numeric, expected: Numeric, options: CloseOptions = {}): number {
  const { atol = 1e-5, rtol = 0, label = 'value' } = options;
  if (isMatrix(actual) && isMatrix(expected) && (actual.rows !== expected.rows || actual.cols !== expected.cols)) {
    throw new Error(`${label}: shape (${actual.rows}, ${actual.cols}) but expected (${expected.rows}, ${expected.cols})`);
  }
  const a = flatten(actual);
  const e = flatten(expected);
  if (a.length !== e.length) throw new Error(`${label}: ${a.length} values but expected ${e.length}`);
  let worst = 0;
  let worstIndex = 0;
  let failIndex = -1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    const d = x === y ? 0 : Number.isNaN(x) || Number.isNaN(y) ? Infinity : Math.abs(x - y);
    if (d > worst) {
      worst = d;
      worstIndex = i;
    }
    if (d !== 0 && !(d <= atol + rtol * Math.abs(y)) && failIndex < 0) failIndex = i;
  }
  if (failIndex >= 0) {
    const where = describeIndex(actual, worstIndex);
    throw new Error(
      `${label}: max abs diff ${worst} at ${where} (actual ${a[worstIndex]}, expected ${e[worstIndex]}) ` +
        `exceeds atol ${atol}${rtol ? ` + rtol ${rtol}·|expected|` : ''}; first failure at ${describeIndex(actual, failIndex)}`,
    );
  }
  return worst;
}
