// The layer × head grid's thumbnails: mean-pooled (a cell is the mean of the causal weights it
// covers, checked against the same sums written out) and each on its own log scale, so two heads
// with different patterns get different codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { thumbnail, thumbScale } from '../../src/worker/modelView';
import { encodeMap } from '../../src/shared/codes';
import { assertClose } from './assertClose';

/** A causal (T, T) map whose row i spreads its weight by `weight(i, j)` over keys j <= i. */
function causal(T: number, weight: (i: number, j: number) => number) {
  const data = new Float32Array(T * T);
  for (let i = 0; i < T; i++) {
    let sum = 0;
    for (let j = 0; j <= i; j++) sum += weight(i, j);
    for (let j = 0; j <= i; j++) data[i * T + j] = weight(i, j) / sum;
  }
  return { rows: T, cols: T, data };
}

test('a thumbnail cell is the mean of the causal weights it covers', () => {
  const m = causal(6, (i, j) => 1 + i + 2 * j);
  const small = thumbnail(m, 3);
  const at = (i: number, j: number) => m.data[i * 6 + j]!;
  // Cell (1, 0) covers rows 2–3, keys 0–1 (all on or below the diagonal); cell (1, 1) rows 2–3, keys 2–3 (j <= i only).
  const expected = new Float32Array(9);
  expected[0] = (at(0, 0) + at(1, 0) + at(1, 1)) / 3;
  expected[3] = (at(2, 0) + at(2, 1) + at(3, 0) + at(3, 1)) / 4;
  expected[4] = (at(2, 2) + at(3, 2) + at(3, 3)) / 3;
  expected[6] = (at(4, 0) + at(4, 1) + at(5, 0) + at(5, 1)) / 4;
  expected[7] = (at(4, 2) + at(4, 3) + at(5, 2) + at(5, 3)) / 4;
  expected[8] = (at(4, 4) + at(5, 4) + at(5, 5)) / 3;
  assertClose(small.data, expected, { atol: 1e-7 });
});

test('pooled thumbnails of two different heads look different on their own scales', () => {
  const T = 200;
  const previous = causal(T, (i, j) => (j === i - 1 || i === 0 ? 1 : 1e-3));
  const uniform = causal(T, () => 1);
  const codes = [previous, uniform].map((m) => {
    const small = thumbnail(m, 40);
    const [lo, hi] = thumbScale(small);
    assert.ok(lo > 0 && lo < hi, `scale ${lo}..${hi}`);
    return encodeMap(small, { kind: 'log', range: [lo, hi] }, { lower: true }).codes;
  });
  let differ = 0;
  for (let i = 0; i < codes[0]!.length; i++) if (Math.abs(codes[0]![i]! - codes[1]![i]!) > 20) differ++;
  assert.ok(differ > codes[0]!.length / 4, `${differ} of ${codes[0]!.length} cells differ by more than 20 levels`);
});
