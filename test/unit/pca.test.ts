// The embedding scatter plot's PCA: rows built from two known orthogonal directions with known
// spreads must come back as their coordinates along those directions (up to each axis's sign),
// whether the covariance (more rows than columns) or the Gram matrix (fewer) is decomposed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pca2 } from '../../src/engine/pca';
import { matrixFrom } from '../../src/engine/tensor';
import { assertClose } from './assertClose';

/** x_r = a_r·u + b_r·v + 0.001·noise_r, u ⟂ v unit vectors of R^d; returns x and the coefficients a, b. */
function twoDirections(rows: number, d: number): { x: ReturnType<typeof matrixFrom>; a: number[]; b: number[] } {
  const u = Array.from({ length: d }, (_, k) => Math.sin(k + 1));
  const norm = (w: number[]) => Math.hypot(...w);
  const uHat = u.map((value) => value / norm(u));
  // v: a second vector with its u part removed (Gram-Schmidt)
  const w = Array.from({ length: d }, (_, k) => Math.cos(3 * k + 0.5));
  const along = w.reduce((sum, value, k) => sum + value * uHat[k]!, 0);
  const vRaw = w.map((value, k) => value - along * uHat[k]!);
  const vHat = vRaw.map((value) => value / norm(vRaw));
  // centred coefficients, b made uncorrelated with a, so u and v are the principal axes
  const centre = (list: number[]) => list.map((value) => value - list.reduce((sum, y) => sum + y, 0) / list.length);
  const dot = (p: number[], q: number[]) => p.reduce((sum, value, r) => sum + value * q[r]!, 0);
  const a = centre(Array.from({ length: rows }, (_, r) => 3 * Math.sin(r * 1.7) + 0.5));
  const bRaw = centre(Array.from({ length: rows }, (_, r) => Math.cos(r * 2.3) - 0.2));
  const b = bRaw.map((value, r) => value - (dot(bRaw, a) / dot(a, a)) * a[r]!);
  const values = [];
  for (let r = 0; r < rows; r++) for (let k = 0; k < d; k++) values.push(a[r]! * uHat[k]! + b[r]! * vHat[k]! + 0.001 * Math.sin(r * 31 + k * 17));
  return { x: matrixFrom(rows, d, values), a, b };
}

for (const [rows, d, regime] of [[40, 6, 'covariance'], [5, 12, 'Gram matrix'], [300, 64, 'covariance']] as const) {
  test(`pca2 finds two known directions through the ${regime} (${rows} rows of ${d})`, () => {
    const { x, a, b } = twoDirections(rows, d);
    const coords = pca2(x);
    for (const [component, expected] of [[0, a], [1, b]] as const) {
      const got = Array.from({ length: rows }, (_, r) => coords.data[r * 2 + component]!);
      const sign = Math.sign(got.reduce((sum, value, r) => sum + value * expected[r]!, 0)) || 1;
      assertClose(Float32Array.from(got, (value) => sign * value), Float32Array.from(expected), { atol: 0.01, label: `PC ${component + 1}` });
    }
  });
}

test('pca2 gives zeros for one row and for identical rows, and the same plot every run', () => {
  assert.deepEqual(Array.from(pca2(matrixFrom(1, 3, [1, 2, 3])).data), [0, 0]);
  assert.deepEqual(Array.from(pca2(matrixFrom(3, 2, [1, 2, 1, 2, 1, 2])).data), [0, 0, 0, 0, 0, 0]);
  const { x } = twoDirections(50, 8);
  assert.deepEqual(pca2(x).data, pca2(x).data);
});
