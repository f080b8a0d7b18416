// Arrays that live in the kernel's memory (heap.ts's KernelArena, a training step's activations):
// every kernel call that reads or writes them where they are gives the same bits as the same call
// on ordinary arrays staged through the workspace, whichever operands live there; an output that
// overlaps an operand is still staged; an arena's memory comes back when it is released or
// collected, and while one lives the idle release keeps the memory (its arrays are views of it).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import {
  KernelArena,
  attentionBackwardInto,
  attentionForwardInto,
  columnSumsInto,
  geluBackwardInto,
  geluRowsInto,
  layerNormBackwardInto,
  layerNormRowsInto,
  matmulInto,
  releaseWorkspace,
  softmaxRowsInto,
  type MatmulOptions,
} from '../../src/engine/kernels';
import { kernelAddress, setArenaBudget } from '../../src/engine/kernels/heap';
import { kernelState } from '../../src/engine/kernels/pool';
import { initGptWeights } from '../../src/engine/gpt/init';
import { TorchGenerator } from '../../src/engine/rng';
import { Trainer } from '../../src/engine/train/trainer';
import { dropoutScale } from '../../src/engine/tensor';

function randomValues(count: number, seed: number): Float32Array {
  return new TorchGenerator(seed).normal_(new Float32Array(count));
}

/** `values` copied into the arena (or into an ordinary array when arena is undefined). */
function placed(arena: KernelArena | undefined, values: Float32Array): Float32Array {
  const array = arena ? arena.floats(values.length) : new Float32Array(values.length);
  array.set(values);
  return array;
}

/** Every way of placing `count` arrays: bit i set means array i lives in the arena. */
function placements(count: number): boolean[][] {
  return Array.from({ length: 2 ** count }, (_, bits) => Array.from({ length: count }, (_, i) => ((bits >> i) & 1) === 1));
}

test('a KernelArena array lives in the kernel memory at its byteOffset, an ordinary array does not', () => {
  const arena = new KernelArena();
  try {
    const floats = arena.floats(1000);
    const bytes = arena.bytes(77);
    const s = kernelState();
    assert.equal(kernelAddress(s, floats), floats.byteOffset);
    assert.equal(kernelAddress(s, bytes), bytes.byteOffset);
    assert.equal(floats.byteOffset % 64, 0, 'starts at a cache line');
    assert.equal(kernelAddress(s, floats.subarray(10)), floats.byteOffset + 40);
    assert.equal(kernelAddress(s, new Float32Array(1000)), -1);
    assert.ok(floats.every((v) => v === 0) && bytes.every((v) => v === 0), 'zero-filled');
    assert.equal(arena.floats(0).length, 0);
  } finally {
    arena.release();
  }
});

test('matmulInto gives the same bits whichever of a, b and out live in the arena (every option, padded widths too)', () => {
  const cases: [number, number, number, MatmulOptions][] = [
    [13, 24, 17, { bTransposed: true }],
    [13, 24, 17, { bTransposed: true, bias: randomValues(24, 9) }],
    [21, 16, 11, { bTransposed: false }],
    [16, 21, 40, { bTransposed: false, aTransposed: true }], // a given (40, 16)
    [19, 19, 19, { bTransposed: true, lowerOutput: true }],
    [19, 8, 19, { bTransposed: false, lowerInput: true }],
    [12, 13, 9, { bTransposed: true }], // 13 columns: C is padded to 16, so out is staged
  ];
  for (const [n, m, k, options] of cases) {
    const a = randomValues(n * k, n + m);
    if (options.lowerInput) for (let i = 0; i < n; i++) for (let t = i + 1; t < k; t++) a[i * k + t] = 0;
    const b = randomValues(m * k, k);
    const expected = randomValues(n * m, 1); // lowerOutput leaves the rest as it was
    const initial = expected.slice();
    matmulInto(expected, a, b, n, m, k, options);
    for (const [aLives, bLives, outLives] of placements(3)) {
      const arena = new KernelArena();
      try {
        const out = placed(outLives ? arena : undefined, initial);
        matmulInto(out, placed(aLives ? arena : undefined, a), placed(bLives ? arena : undefined, b), n, m, k, options);
        assert.deepEqual(out, expected, `(${n}, ${k})·(${k}, ${m}) ${JSON.stringify({ ...options, bias: !!options.bias })}, a ${aLives}, b ${bLives}, out ${outLives}`);
      } finally {
        arena.release();
      }
    }
  }
});

test('an output that overlaps an operand in the arena is staged, not written over the operand as it is read', () => {
  const n = 24;
  const a = randomValues(n * n, 3);
  const b = randomValues(n * n, 4);
  const expected = new Float32Array(n * n);
  matmulInto(expected, a, b, n, n, n, { bTransposed: true });
  const arena = new KernelArena();
  try {
    const both = placed(arena, a);
    matmulInto(both, both, placed(arena, b), n, n, n, { bTransposed: true });
    assert.deepEqual(both, expected);
  } finally {
    arena.release();
  }
});

test('GELU, its backward, layer norm, its backward and column sums give the same bits on arena arrays, in place too', () => {
  const rows = 37;
  const cols = 24;
  const n = rows * cols;
  const x = randomValues(n, 11);
  const dy = randomValues(n, 12);
  const dxStart = randomValues(n, 13);
  const scale = randomValues(cols, 14);
  const shift = randomValues(cols, 15);

  const out = new Float32Array(n);
  const tanhU = new Float32Array(n);
  geluRowsInto(out, tanhU, x, rows, cols);
  const dGelu = new Float32Array(n);
  geluBackwardInto(dGelu, dy, x, tanhU);
  const normed = new Float32Array(n);
  const stats = layerNormRowsInto(normed, x, scale, shift, 1e-5, rows, cols);
  const dx = dxStart.slice();
  const dScale = new Float32Array(cols);
  const dShift = new Float32Array(cols);
  layerNormBackwardInto(dx, dScale, dShift, dy, x, stats, scale, 1e-5, rows, cols);
  const sums = new Float32Array(cols);
  columnSumsInto(sums, dy, rows, cols);

  for (const [inLives, outLives] of placements(2)) {
    const arena = new KernelArena();
    const input = inLives ? arena : undefined;
    const output = outLives ? arena : undefined;
    try {
      const label = `inputs in the arena ${inLives}, outputs ${outLives}`;
      const xIn = placed(input, x);
      const gelu = placed(output, new Float32Array(n));
      const tanh = placed(output, new Float32Array(n));
      geluRowsInto(gelu, tanh, xIn, rows, cols);
      assert.deepEqual([gelu, tanh], [out, tanhU], `GELU, ${label}`);
      const dG = placed(output, new Float32Array(n));
      geluBackwardInto(dG, placed(input, dy), xIn, placed(input, tanhU));
      assert.deepEqual(dG, dGelu, `GELU's backward, ${label}`);
      const norm = placed(output, new Float32Array(n));
      const st = layerNormRowsInto(norm, xIn, scale, shift, 1e-5, rows, cols);
      assert.deepEqual([norm, st.mean, st.variance], [normed, stats.mean, stats.variance], `layer norm, ${label}`);
      const dxAcc = placed(output, dxStart);
      const dS = new Float32Array(cols);
      const dB = new Float32Array(cols);
      layerNormBackwardInto(dxAcc, dS, dB, placed(input, dy), xIn, stats, scale, 1e-5, rows, cols);
      assert.deepEqual([dxAcc, dS, dB], [dx, dScale, dShift], `layer norm's backward, ${label}`);
      const colSums = new Float32Array(cols);
      columnSumsInto(colSums, placed(input, dy), rows, cols);
      assert.deepEqual(colSums, sums, `column sums, ${label}`);
    } finally {
      arena.release();
    }
  }
  // in place, as training runs them: GELU's backward over its own dy, layer norm over its input
  const arena = new KernelArena();
  try {
    const g = placed(arena, dy);
    geluBackwardInto(g, g, placed(arena, x), placed(arena, tanhU));
    assert.deepEqual(g, dGelu, "GELU's backward in place");
    const inPlace = placed(arena, x);
    layerNormRowsInto(inPlace, inPlace, scale, shift, 1e-5, rows, cols);
    assert.deepEqual(inPlace, normed, 'layer norm in place');
  } finally {
    arena.release();
  }
});

test('softmaxRowsInto gives the same bits into an arena array, from one or an ordinary array, and in place', () => {
  const rows = 23;
  const cols = 37;
  const scores = randomValues(rows * cols, 31);
  for (const causal of [false, true]) {
    const expected = new Float32Array(rows * cols);
    softmaxRowsInto(expected, scores, rows, cols, 1.5, causal);
    for (const [inLives, outLives] of placements(2)) {
      const arena = new KernelArena();
      try {
        const out = placed(outLives ? arena : undefined, new Float32Array(rows * cols));
        softmaxRowsInto(out, placed(inLives ? arena : undefined, scores), rows, cols, 1.5, causal);
        assert.deepEqual(out, expected, `causal ${causal}, scores in the arena ${inLives}, out ${outLives}`);
      } finally {
        arena.release();
      }
    }
  }
  const arena = new KernelArena();
  try {
    const both = placed(arena, scores);
    softmaxRowsInto(both, both, rows, cols, 1.5, false);
    const expected = new Float32Array(rows * cols);
    softmaxRowsInto(expected, scores, rows, cols, 1.5, false);
    assert.deepEqual(both, expected, 'in place');
  } finally {
    arena.release();
  }
});

test("attention's forward and backward give the same bits on arena arrays, with and without dropout", () => {
  const shape = { B: 2, T: 13, C: 24, heads: 3 };
  const { B, T, C, heads } = shape;
  const N = B * T;
  const maps = B * heads * T * T;
  const qkv = randomValues(N * 3 * C, 21);
  const dctx = randomValues(N * C, 22);
  for (const p of [0, 0.4]) {
    const keep = p > 0 ? Uint8Array.from(randomValues(maps, 23), (v) => (v > -0.25 ? 1 : 0)) : undefined;
    const ctx = new Float32Array(N * C);
    const weights = new Float32Array(maps);
    attentionForwardInto(ctx, weights, qkv, keep, dropoutScale(p), shape);
    const dqkv = new Float32Array(N * 3 * C);
    attentionBackwardInto(dqkv, dctx, qkv, weights, keep, dropoutScale(p), shape);
    for (const [inLives, outLives] of placements(2)) {
      const arena = new KernelArena();
      const input = inLives ? arena : undefined;
      const output = outLives ? arena : undefined;
      try {
        const label = `p ${p}, inputs in the arena ${inLives}, outputs ${outLives}`;
        let keepIn: Uint8Array | undefined;
        if (keep) {
          keepIn = input ? input.bytes(maps) : new Uint8Array(maps);
          keepIn.set(keep);
        }
        const qkvIn = placed(input, qkv);
        const c = placed(output, new Float32Array(N * C));
        const w = placed(output, new Float32Array(maps));
        attentionForwardInto(c, w, qkvIn, keepIn, dropoutScale(p), shape);
        assert.deepEqual([c, w], [ctx, weights], `forward, ${label}`);
        const d = placed(output, new Float32Array(N * 3 * C));
        attentionBackwardInto(d, placed(input, dctx), qkvIn, placed(input, weights), keepIn, dropoutScale(p), shape);
        assert.deepEqual(d, dqkv, `backward, ${label}`);
      } finally {
        arena.release();
      }
    }
  }
});

test('an arena gives its memory back when released and when collected; while one lives, the idle release keeps the memory', async () => {
  const s = kernelState();
  releaseWorkspace(0);
  const workspaceAt = kernelState().workspaceAt;
  const arena = new KernelArena();
  const values = arena.floats(4 << 20); // 16 MiB
  values[5] = 7;
  assert.ok(kernelState().workspaceAt >= workspaceAt + 16 * 2 ** 20, 'the arena sits below the workspace');
  // a call that grows the workspace well past the arena, then the idle release
  const big = new Float32Array(2048 * 2048);
  matmulInto(big, randomValues(2048 * 64, 1), randomValues(2048 * 64, 2), 2048, 2048, 64, { bTransposed: true });
  assert.equal(releaseWorkspace(0), 0, 'nothing is released while the arena lives');
  assert.equal(kernelState(), s, 'the same memory');
  assert.equal(values[5], 7);
  arena.release();
  assert.equal(kernelState().workspaceAt, workspaceAt, 'released: the workspace starts where it did');
  assert.ok(releaseWorkspace(0) > 0, 'and the idle release gives the workspace back');

  // collected: FinalizationRegistry frees it after a collection
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const before = kernelState().workspaceAt;
  (() => {
    const lost = new KernelArena();
    lost.floats(1 << 20)[0] = 1;
  })();
  assert.ok(kernelState().workspaceAt > before);
  for (let attempt = 0; attempt < 20 && kernelState().workspaceAt > before; attempt++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(kernelState().workspaceAt, before, 'a collected arena is given back');
});

test("a trainer's activations live in an arena: releasing them between steps changes no bit of what it learns", () => {
  const config = { vocabSize: 40, contextLength: 12, dim: 16, heads: 2, layers: 2, qkvBias: true, layerNormEps: 1e-5 };
  const ids = Array.from({ length: 300 }, (_, i) => (i * 7 + (i >> 3)) % config.vocabSize);
  const make = () => new Trainer({ config, weights: initGptWeights(config, 5), ids, batchSize: 3, lr: 1e-2, dropout: 0.1, seed: 9 });
  const kept = make();
  const released = make();
  const s = kernelState();
  for (let step = 0; step < 4; step++) {
    const a = kept.step();
    const arenaBytes = s.arenaBytes;
    const b = released.step();
    assert.ok(s.arenaBytes > arenaBytes, 'the second trainer allocated its activations in the kernel memory');
    released.releaseActivations();
    assert.equal(s.arenaBytes, arenaBytes, 'and gave them back');
    assert.deepEqual([b.loss, b.gradNorm], [a.loss, a.gradNorm], `step ${step + 1}`);
  }
  assert.deepEqual(released.evaluate(), kept.evaluate());
  kept.namedParameters().forEach((p, i) => assert.deepEqual(released.namedParameters()[i]!.data, p.data, p.name));
  kept.releaseActivations();
});

test("past the arenas' budget an arena gives ordinary arrays, and a trainer whose arrays are all ordinary learns the same bits", () => {
  const s = kernelState();
  const arena = new KernelArena();
  try {
    setArenaBudget(s.arenaBytes + (1 << 20));
    const inside = arena.floats(100_000);
    const outside = arena.floats(1 << 20);
    assert.ok(kernelAddress(s, inside) >= 0, 'within the budget: in the kernel memory');
    assert.equal(kernelAddress(s, outside), -1, 'past it: an ordinary array');
    assert.equal(outside.length, 1 << 20);
    assert.ok(outside.every((v) => v === 0));
  } finally {
    setArenaBudget(undefined);
    arena.release();
  }
  const config = { vocabSize: 30, contextLength: 10, dim: 12, heads: 3, layers: 1, qkvBias: false, layerNormEps: 1e-5 };
  const ids = Array.from({ length: 200 }, (_, i) => (i * 5 + (i >> 2)) % config.vocabSize);
  const make = () => new Trainer({ config, weights: initGptWeights(config, 2), ids, batchSize: 2, lr: 1e-2, dropout: 0.2, seed: 4 });
  const resident = make();
  const losses = [1, 2, 3].map(() => resident.step().loss);
  setArenaBudget(0);
  try {
    const ordinary = make();
    assert.equal(kernelAddress(s, ordinary.grads.outHead.data), -1, 'nothing in the kernel memory');
    assert.deepEqual([1, 2, 3].map(() => ordinary.step().loss), losses);
    resident.namedParameters().forEach((p, i) => assert.deepEqual(ordinary.namedParameters()[i]!.data, p.data, p.name));
  } finally {
    setArenaBudget(undefined);
  }
});
