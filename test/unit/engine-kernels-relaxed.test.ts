// The relaxed kernel (fused multiply-add tiles, relaxed SIMD) beside the plain one: Node 20 runs
// it only with --experimental-wasm-relaxed-simd, set here before the kernel compiles (VS Code's
// Electron has it on). Products within float32 rounding of the plain kernel's, the same on any
// number of threads bit for bit, packed weights kept across a switch, a GPT's logits within 1e-5.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as v8 from 'node:v8';
import {
  helperChunkCount,
  kernelThreads,
  kernelVariant,
  matmulInto,
  matmulPackedInto,
  packMatrix,
  relaxedSimdAvailable,
  releasePacked,
  setKernelThreads,
  setKernelVariant,
  setWaitForHelper,
  warmUpKernel,
  type MatmulOptions,
} from '../../src/engine/kernels';
import { createSeededGpt } from '../../src/engine/gpt/init';
import { gptForward, packGptWeights } from '../../src/engine/layers/gptModel';
import { TorchGenerator } from '../../src/engine/rng';
import { assertClose } from './assertClose';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

function randomValues(count: number, seed: number): Float32Array {
  return new TorchGenerator(seed).normal_(new Float32Array(count));
}

function product(n: number, m: number, k: number, options: MatmulOptions, seed: number): Float32Array {
  const a = randomValues(n * k, seed);
  if (options.lowerInput) for (let i = 0; i < n; i++) for (let t = i + 1; t < k; t++) a[i * k + t] = 0;
  const out = new Float32Array(n * m);
  matmulInto(out, a, randomValues(m * k, seed + 1), n, m, k, options);
  return out;
}

const SHAPES: [number, number, number, MatmulOptions][] = [
  [1, 9, 17, { bTransposed: true }],
  [17, 65, 3, { bTransposed: false }],
  [301, 257, 129, { bTransposed: true }],
  [517, 517, 64, { bTransposed: true, lowerOutput: true }],
  [517, 64, 517, { bTransposed: false, lowerInput: true }],
];

test('the relaxed kernel is chosen where the runtime has relaxed SIMD, and the plain one can be asked for', () => {
  assert.equal(relaxedSimdAvailable(), true);
  assert.equal(kernelVariant(), 'relaxed');
  setKernelVariant('plain');
  assert.equal(kernelVariant(), 'plain');
  setKernelVariant(undefined);
  assert.equal(kernelVariant(), 'relaxed');
});

test('relaxed products are within float32 rounding of the plain ones; a packing survives the switch', () => {
  const weight = randomValues(40 * 96, 3);
  const packed = packMatrix(weight, 40, 96);
  const a = randomValues(7 * 96, 4);
  try {
    setKernelVariant('plain');
    const plain = SHAPES.map(([n, m, k, options], i) => product(n, m, k, options, i));
    const plainPacked = new Float32Array(7 * 40);
    matmulPackedInto(plainPacked, a, 7, packed);
    setKernelVariant('relaxed');
    SHAPES.forEach(([n, m, k, options], i) => {
      // each of k terms rounds once instead of twice: |Δ| <= k·2⁻²⁴·Σ|a·b| (k·2⁻²⁴·k·~4 here)
      assertClose(product(n, m, k, options, i), plain[i]!, { atol: 4 * k * k * 2 ** -24, rtol: 0, label: `(${n}, ${k})·(${k}, ${m}) ${JSON.stringify(options)}` });
    });
    const relaxedPacked = new Float32Array(7 * 40);
    matmulPackedInto(relaxedPacked, a, 7, packed);
    assertClose(relaxedPacked, plainPacked, { atol: 4 * 96 * 96 * 2 ** -24, rtol: 0, label: 'packed' });
  } finally {
    setKernelVariant(undefined);
    releasePacked(packed);
  }
});

test('relaxed: 1, 2 and 5 threads give the same numbers bit for bit; a GPT forward within 1e-5 of the plain kernel', () => {
  const previous = kernelThreads();
  const model = createSeededGpt({ vocabSize: 1500, contextLength: 40, dim: 96, heads: 4, layers: 2, qkvBias: true, layerNormEps: 1e-5 }, 7);
  const ids = Array.from({ length: 33 }, (_, i) => (i * 37 + 5) % 1500);
  const logits = (): Float32Array => {
    const packed = packGptWeights(model);
    try {
      return gptForward(model, ids, { logits: 'all', packed }).logits!.data;
    } finally {
      packed.release();
    }
  };
  try {
    setKernelThreads(1);
    setKernelVariant('plain');
    const plainLogits = logits();
    setKernelVariant('relaxed');
    const single = [...SHAPES.map(([n, m, k, options], i) => product(n, m, k, options, i)), logits()];
    assertClose(single[single.length - 1]!, plainLogits, { atol: 1e-5, rtol: 1e-5, label: 'GPT logits, relaxed against plain' });
    for (const threads of [2, 5]) {
      setKernelThreads(threads);
      assert.equal(warmUpKernel(120_000), threads - 1);
      const before = helperChunkCount();
      setWaitForHelper(true);
      try {
        const outputs = [...SHAPES.map(([n, m, k, options], i) => product(n, m, k, options, i)), logits()];
        outputs.forEach((out, i) => assert.deepEqual(out, single[i], `output ${i} on ${threads} threads`));
      } finally {
        setWaitForHelper(false);
      }
      assert.ok(helperChunkCount() > before, 'the helpers computed part of it');
    }
  } finally {
    setKernelVariant(undefined);
    setKernelThreads(previous);
  }
});
