// Attention in the kernel (kernels/attention.ts): a training step's against the formulas written
// out in double here (train/layers.ts gives them), with and without dropout, for head widths and
// lengths around the kernel's blocks, and the same bits on one thread and on two with the helper
// made to take heads; the panel's traced multi-head attention against causalAttention head by head.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attentionBackwardInto, attentionForwardInto, helperChunkCount, kernelThreads, setKernelThreads, setWaitForHelper, warmUpKernel, type AttentionShape } from '../../src/engine/kernels';
import { causalAttention } from '../../src/engine/layers/causalAttention';
import { multiHeadAttention } from '../../src/engine/layers/multiHead';
import { TorchGenerator } from '../../src/engine/rng';
import { dropoutScale, linear, sliceColumns } from '../../src/engine/tensor';
import type { Matrix } from '../../src/engine/types';
import { assertClose } from './assertClose';

function randomValues(count: number, seed: number): Float32Array {
  return new TorchGenerator(seed).normal_(new Float32Array(count));
}

/** ctx, weights and the gradient of qkv, the plain way in double. */
function reference(qkv: Float32Array, dctx: Float32Array, keep: Uint8Array | undefined, p: number, { B, T, C, heads }: AttentionShape) {
  const hd = C / heads;
  const scale = dropoutScale(p);
  const divisor = Math.fround(Math.sqrt(hd));
  const ctx = new Float64Array(B * T * C);
  const weights = new Float64Array(B * heads * T * T);
  const dqkv = new Float64Array(B * T * 3 * C);
  const at = (b: number, t: number, part: number, h: number, c: number) => (b * T + t) * 3 * C + part * C + h * hd + c;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      const map = (b * heads + h) * T * T;
      const dropped = new Float64Array(T * T);
      for (let i = 0; i < T; i++) {
        const scores = Array.from({ length: i + 1 }, (_, j) => {
          let sum = 0;
          for (let c = 0; c < hd; c++) sum += qkv[at(b, i, 0, h, c)]! * qkv[at(b, j, 1, h, c)]!;
          return sum / divisor;
        });
        const max = Math.max(...scores);
        const total = scores.reduce((s, v) => s + Math.exp(v - max), 0);
        scores.forEach((v, j) => {
          weights[map + i * T + j] = Math.exp(v - max) / total;
          dropped[i * T + j] = weights[map + i * T + j]! * (keep ? scale * keep[map + i * T + j]! : 1);
        });
        for (let c = 0; c < hd; c++) {
          let sum = 0;
          for (let j = 0; j <= i; j++) sum += dropped[i * T + j]! * qkv[at(b, j, 2, h, c)]!;
          ctx[(b * T + i) * C + h * hd + c] = sum;
        }
      }
      // backward
      const dScores = new Float64Array(T * T);
      for (let i = 0; i < T; i++) {
        const dWeights = Array.from({ length: i + 1 }, (_, j) => {
          let sum = 0;
          for (let c = 0; c < hd; c++) sum += dctx[(b * T + i) * C + h * hd + c]! * qkv[at(b, j, 2, h, c)]!;
          return sum * (keep ? scale * keep[map + i * T + j]! : 1);
        });
        const dot = dWeights.reduce((s, d, j) => s + weights[map + i * T + j]! * d, 0);
        dWeights.forEach((d, j) => (dScores[i * T + j] = (weights[map + i * T + j]! * (d - dot)) / divisor));
      }
      for (let t = 0; t < T; t++) {
        for (let c = 0; c < hd; c++) {
          let [dq, dk, dv] = [0, 0, 0];
          for (let j = 0; j < T; j++) {
            dq += dScores[t * T + j]! * qkv[at(b, j, 1, h, c)]!;
            dk += dScores[j * T + t]! * qkv[at(b, j, 0, h, c)]!;
            dv += dropped[j * T + t]! * dctx[(b * T + j) * C + h * hd + c]!;
          }
          [dqkv[at(b, t, 0, h, c)], dqkv[at(b, t, 1, h, c)], dqkv[at(b, t, 2, h, c)]] = [dq, dk, dv];
        }
      }
    }
  }
  return { ctx, weights, dqkv };
}

function run(qkv: Float32Array, dctx: Float32Array, keep: Uint8Array | undefined, p: number, shape: AttentionShape) {
  const { B, T, C, heads } = shape;
  const ctx = new Float32Array(B * T * C).fill(NaN);
  const weights = new Float32Array(B * heads * T * T).fill(NaN);
  const dqkv = new Float32Array(B * T * 3 * C).fill(NaN);
  attentionForwardInto(ctx, weights, qkv, keep, dropoutScale(p), shape);
  attentionBackwardInto(dqkv, dctx, qkv, weights, keep, dropoutScale(p), shape);
  return { ctx, weights, dqkv };
}

test('attention in the kernel is the formulas in double, forward and backward, with and without dropout', () => {
  for (const [shape, p] of [
    [{ B: 1, T: 1, C: 4, heads: 2 }, 0],
    [{ B: 2, T: 7, C: 12, heads: 3 }, 0],
    [{ B: 2, T: 13, C: 16, heads: 2 }, 0.4],
    [{ B: 1, T: 33, C: 40, heads: 4 }, 0.1],
  ] as const) {
    const { B, T, C, heads } = shape;
    const qkv = randomValues(B * T * 3 * C, 1);
    const dctx = randomValues(B * T * C, 2);
    const keep = p > 0 ? new TorchGenerator(3).dropoutMask(new Uint8Array(B * heads * T * T), p) : undefined;
    const ours = run(qkv, dctx, keep, p, shape);
    const expected = reference(qkv, dctx, keep, p, shape);
    const label = `B ${B}, T ${T}, C ${C}, ${heads} heads, p ${p}`;
    assertClose(ours.ctx, Float32Array.from(expected.ctx), { atol: 1e-5, label: `${label}: context` });
    assertClose(ours.weights, Float32Array.from(expected.weights), { atol: 1e-6, label: `${label}: weights` });
    assertClose(ours.dqkv, Float32Array.from(expected.dqkv), { atol: 1e-5, label: `${label}: d qkv` });
    for (let m = 0; m < B * heads; m++) {
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) assert.equal(ours.weights[m * T * T + i * T + j], 0, 'nothing above the diagonal');
    }
  }
});

test('attention in the kernel gives the same bits on one thread and on two, the helper taking heads', () => {
  const shape = { B: 4, T: 64, C: 64, heads: 4 }; // B·T·T·C = 2^20 multiply-adds: shared
  const qkv = randomValues(4 * 64 * 3 * 64, 4);
  const dctx = randomValues(4 * 64 * 64, 5);
  const keep = new TorchGenerator(6).dropoutMask(new Uint8Array(4 * 4 * 64 * 64), 0.2);
  const previous = kernelThreads();
  try {
    setKernelThreads(1);
    const one = run(qkv, dctx, keep, 0.2, shape);
    setKernelThreads(2);
    assert.equal(warmUpKernel(30_000), 1, 'the helper thread starts');
    setWaitForHelper(true);
    const before = helperChunkCount();
    const two = run(qkv, dctx, keep, 0.2, shape);
    assert.ok(helperChunkCount() > before, 'the helper computed heads');
    assert.deepEqual(two, one);
  } finally {
    setWaitForHelper(false);
    setKernelThreads(previous);
  }
});

test("the traced multi-head attention takes its contexts from the kernel and its maps on reading: causalAttention's numbers head by head, bit for bit", () => {
  const [T, dim, heads] = [37, 24, 3];
  const matrix = (rows: number, cols: number, seed: number) => ({ rows, cols, data: randomValues(rows * cols, seed).map((v) => v / 4) });
  const projection = (seed: number) => ({ weight: matrix(dim, dim, seed), bias: randomValues(dim, seed + 100) });
  const weights = { query: projection(11), key: projection(12), value: projection(13), outProj: projection(14) };
  const inputs = matrix(T, dim, 15);
  for (const p of [0, 0.4]) {
    const traced = multiHeadAttention(inputs, weights, heads, { p, generator: new TorchGenerator(5) });
    const generator = new TorchGenerator(5);
    const [queries, keys, values] = [weights.query, weights.key, weights.value].map((layer) => linear(inputs, layer));
    traced.heads.forEach((head, h) => {
      const columns = (m: Matrix) => sliceColumns(m, h * (dim / heads), dim / heads);
      const expected = causalAttention(columns(queries!), columns(keys!), columns(values!), { p, generator });
      assert.deepEqual(head.context, expected.context, `p ${p}, head ${h}: context`);
      assert.deepEqual(head.scores, expected.scores, `p ${p}, head ${h}: scores`);
      assert.deepEqual(head.weights, expected.weights);
      assert.deepEqual(head.droppedWeights, expected.droppedWeights);
      assert.equal(head.weights, head.weights, 'computed once, then kept');
    });
  }
});
