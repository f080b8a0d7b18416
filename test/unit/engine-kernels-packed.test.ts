// Packed weights (kernels/products.ts packMatrix, matmulPackedInto; gptModel.ts packGptWeights): the same
// numbers bit for bit as matmulInto, which packs B on every call, on one thread and on two, with
// the helper made to take a chunk of both the row split (many rows) and the column-panel split (a
// decode step's few rows); released packings are refused or not used; holes left by released
// packings are reused without overlapping live ones; a packing is a snapshot of its weight; and a
// whole GPT forward and generation give the same logits and tokens packed or not.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generate } from '../../src/engine/gpt/generate';
import { geluScalar } from '../../src/engine/layers/gelu';
import { createSeededGpt } from '../../src/engine/gpt/init';
import {
  feedForwardPackedInto,
  helperChunkCount,
  kernelThreads,
  matmulInto,
  matmulPackedInto,
  packMatrix,
  releasePacked,
  setKernelThreads,
  setWaitForHelper,
  softmaxOfPackedProduct,
  softmaxRowsInto,
  splitProductCount,
  warmUpKernel,
} from '../../src/engine/kernels';
import { gptForward, packGptWeights } from '../../src/engine/layers/gptModel';
import { TorchGenerator } from '../../src/engine/rng';
import { linear, matrixFrom } from '../../src/engine/tensor';
import { assertClose } from './assertClose';

function randomValues(count: number, seed: number): Float32Array {
  return new TorchGenerator(seed).normal_(new Float32Array(count));
}

/** out (n, m) = a·weightᵀ through matmulInto, the path every product took before packing. */
function unpacked(a: Float32Array, weight: Float32Array, n: number, m: number, k: number): Float32Array {
  const out = new Float32Array(n * m);
  matmulInto(out, a, weight, n, m, k, { bTransposed: true });
  return out;
}

function packedProduct(a: Float32Array, weight: Float32Array, n: number, m: number, k: number): Float32Array {
  const packed = packMatrix(weight, m, k);
  try {
    const out = new Float32Array(n * m).fill(NaN);
    matmulPackedInto(out, a, n, packed);
    return out;
  } finally {
    releasePacked(packed);
  }
}

/** Runs `body` with the kernel on `count` threads, putting the previous count back. */
function withThreads(count: number, body: () => void): void {
  const previous = kernelThreads();
  setKernelThreads(count);
  try {
    body();
  } finally {
    setKernelThreads(previous);
  }
}

test('matmulPackedInto equals matmulInto exactly for 1, 2, 4, 5, 9, 17, 65 rows and odd widths and depths', () => {
  withThreads(1, () => {
    for (const n of [1, 2, 4, 5, 9, 17, 65]) {
      for (const m of [1, 7, 8, 9, 65]) {
        for (const k of [1, 3, 130]) {
          const a = randomValues(n * k, n * 100 + k);
          const weight = randomValues(m * k, m * 7 + k);
          assert.deepEqual(packedProduct(a, weight, n, m, k), unpacked(a, weight, n, m, k), `(${n}, ${k})·(${m}, ${k})ᵀ`);
        }
      }
    }
  });
});

test('two threads give the single-thread packed and unpacked products bit for bit, split by panels (few rows) and by rows', () => {
  withThreads(2, () => {
    assert.equal(warmUpKernel(30_000), 1, 'the helper thread starts');
    // (rows, out, in): 1 and 3 rows are shared by column panels, 301 rows by row blocks
    for (const [n, m, k] of [[1, 301, 700], [3, 517, 300], [19, 260, 520], [301, 257, 129]] as const) {
      const a = randomValues(n * k, n + k);
      const weight = randomValues(m * k, m + 1);
      let single: Float32Array = new Float32Array(0);
      withThreads(1, () => (single = unpacked(a, weight, n, m, k)));
      for (const form of ['packed', 'unpacked'] as const) {
        const helperBefore = helperChunkCount();
        const splitBefore = splitProductCount();
        setWaitForHelper(true);
        let split: Float32Array;
        try {
          split = form === 'packed' ? packedProduct(a, weight, n, m, k) : unpacked(a, weight, n, m, k);
        } finally {
          setWaitForHelper(false);
        }
        // unpacked, a weight of 2¹⁶ floats or more is packed by both threads first: a job of its own
        const jobs = form === 'unpacked' && m * k >= 1 << 16 ? 2 : 1;
        assert.equal(splitProductCount() - splitBefore, jobs, `${form} (${n}, ${k})·(${m}, ${k})ᵀ posted to the helper`);
        assert.ok(helperChunkCount() > helperBefore, `the helper computed part of ${form} (${n}, ${k})·(${m}, ${k})ᵀ`);
        assert.deepEqual(split, single, `${form} (${n}, ${k})·(${m}, ${k})ᵀ on two threads`);
      }
    }
  });
});

test('softmaxOfPackedProduct is matmulPackedInto then softmaxRowsInto bit for bit, on one thread and on two (a lens reading)', () => {
  // widths that are and are not a multiple of the 8-column panels (the rows are moved together in place)
  for (const [n, m, k] of [[1, 9, 16], [7, 1003, 64], [64, 2048, 96]] as const) {
    const a = randomValues(n * k, n + m);
    const weight = randomValues(m * k, k);
    const expected = packedProduct(a, weight, n, m, k);
    softmaxRowsInto(expected, expected, n, m, 1, false);
    for (const threads of [1, 2]) {
      withThreads(threads, () => {
        if (threads === 2) assert.equal(warmUpKernel(30_000), 1, 'the helper thread starts');
        const packed = packMatrix(weight, m, k);
        try {
          let seen = 0;
          softmaxOfPackedProduct(a, n, packed, (probabilities) => {
            seen++;
            assert.deepEqual(probabilities, expected, `(${n}, ${k})·(${m}, ${k})ᵀ on ${threads} threads`);
          });
          assert.equal(seen, 1);
        } finally {
          releasePacked(packed);
        }
      });
    }
  }
});

test('feedForwardPackedInto is linear, GELU (geluScalar), linear bit for bit, with and without biases, on one thread and on two', () => {
  // T·hidden >= 65,536: the bias and GELU pass is shared by rows; T = 1 and 3 take the panel split
  const [dim, hidden] = [64, 2048];
  const upWeight = matrixFrom(hidden, dim, randomValues(hidden * dim, 1).map((v) => v / 4));
  const downWeight = matrixFrom(dim, hidden, randomValues(dim * hidden, 2).map((v) => v / 16));
  const upBias = randomValues(hidden, 3);
  const downBias = randomValues(dim, 4);
  for (const T of [1, 3, 41]) {
    const x = matrixFrom(T, dim, randomValues(T * dim, T));
    x.data[0] = -0; // a zero product's sign survives without a bias
    for (const withBias of [true, false]) {
      const up = { weight: upWeight, ...(withBias && { bias: upBias }) };
      const down = { weight: downWeight, ...(withBias && { bias: downBias }) };
      const hiddenLayer = linear(x, up);
      hiddenLayer.data.forEach((v, i) => (hiddenLayer.data[i] = geluScalar(v)));
      const expected = linear(hiddenLayer, down).data;
      for (const threads of [1, 2]) {
        withThreads(threads, () => {
          if (threads === 2) assert.equal(warmUpKernel(30_000), 1, 'the helper thread starts');
          const packedUp = packMatrix(upWeight.data, hidden, dim);
          const packedDown = packMatrix(downWeight.data, dim, hidden);
          const helperBefore = helperChunkCount();
          setWaitForHelper(threads === 2);
          try {
            const out = new Float32Array(T * dim).fill(NaN);
            feedForwardPackedInto(out, x.data, T, { packed: packedUp, ...(withBias && { bias: upBias }) }, { packed: packedDown, ...(withBias && { bias: downBias }) });
            assert.deepEqual(out, expected, `T ${T}, bias ${withBias}, ${threads} thread(s)`);
          } finally {
            setWaitForHelper(false);
            releasePacked(packedUp);
            releasePacked(packedDown);
          }
          if (threads === 2) assert.ok(helperChunkCount() > helperBefore, 'the helper computed part of it');
        });
      }
    }
  }
});

test('a released packing is refused by matmulPackedInto and not used by linear', () => {
  const weight = matrixFrom(3, 2, [1, 2, 3, 4, 5, 6]);
  const x = matrixFrom(1, 2, [1, -1]);
  const packed = packMatrix(weight.data, 3, 2);
  releasePacked(packed);
  releasePacked(packed); // twice: nothing more happens
  assert.equal(packed.live, false);
  assert.throws(() => matmulPackedInto(new Float32Array(3), x.data, 1, packed), /released; pack it again/);
  assert.deepEqual(linear(x, { weight }, packed).data, Float32Array.of(-1, -1, -1));
  // a packing of another array with the same shape is not used either
  const other = packMatrix(new Float32Array(6), 3, 2);
  try {
    assert.deepEqual(linear(x, { weight }, other).data, Float32Array.of(-1, -1, -1));
  } finally {
    releasePacked(other);
  }
  assert.throws(() => packMatrix(new Float32Array(5), 3, 2), /packMatrix: 5 floats for a \(3, 2\) weight/);
});

test('holes left by released packings are reused without touching the live ones', () => {
  const k = 96;
  const shapes = [40, 24, 64, 8, 33];
  const weights = shapes.map((m, i) => randomValues(m * k, 50 + i));
  const a = randomValues(2 * k, 9);
  const expected = shapes.map((m, i) => unpacked(a, weights[i]!, 2, m, k));
  const check = (packings: ReturnType<typeof packMatrix>[], label: string) => {
    packings.forEach((packed, i) => {
      if (!packed.live) return;
      const out = new Float32Array(2 * shapes[i]!);
      matmulPackedInto(out, a, 2, packed);
      assert.deepEqual(out, expected[i], `${label}: weight ${i}`);
    });
  };
  const packings = shapes.map((m, i) => packMatrix(weights[i]!, m, k));
  releasePacked(packings[1]!);
  releasePacked(packings[2]!); // two neighbouring holes, merged
  packings[1] = packMatrix(weights[1]!, shapes[1]!, k); // into the hole
  packings[3] = (releasePacked(packings[3]!), packMatrix(weights[3]!, shapes[3]!, k));
  check(packings, 'after reuse');
  // a product's workspace, above the packings, leaves them as they are
  unpacked(randomValues(300 * k, 3), randomValues(500 * k, 4), 300, 500, k);
  check(packings, 'after a large unpacked product');
  packings.forEach(releasePacked);
});

test('a packing is a snapshot: a weight changed in place is seen only after packing again', () => {
  const weight = randomValues(16 * 8, 1);
  const a = randomValues(8, 2);
  const before = unpacked(a, weight, 1, 16, 8);
  const packed = packMatrix(weight, 16, 8);
  weight[0] = weight[0]! + 1; // an optimizer step, in place
  const out = new Float32Array(16);
  matmulPackedInto(out, a, 1, packed);
  assert.deepEqual(out, before);
  releasePacked(packed);
  assert.deepEqual(packedProduct(a, weight, 1, 16, 8), unpacked(a, weight, 1, 16, 8));
});

test('a GPT forward and generation give the same logits and tokens with packed weights, on one thread and on two', () => {
  // the output head (1500, 96) is large enough to be split: by rows at T = 33, by panels per decode step
  const config = { vocabSize: 1500, contextLength: 40, dim: 96, heads: 4, layers: 2, qkvBias: true, layerNormEps: 1e-5 };
  const model = createSeededGpt(config, 7);
  const ids = Array.from({ length: 33 }, (_, i) => (i * 37 + 5) % config.vocabSize);
  const reference = gptForward(model, ids, { logits: 'all' }).logits!;
  const greedy = generate(model, ids.slice(0, 20), { maxNewTokens: 25, packWeights: false }); // crosses the context: prefill again
  const sampled = generate(model, ids.slice(0, 5), { maxNewTokens: 8, temperature: 1.5, topK: 20, seed: 3, packWeights: false });
  for (const threads of [1, 2]) {
    withThreads(threads, () => {
      if (threads === 2) assert.equal(warmUpKernel(30_000), 1, 'the helper thread starts');
      const helperBefore = helperChunkCount();
      const packed = packGptWeights(model);
      setWaitForHelper(threads === 2);
      try {
        const logits = gptForward(model, ids, { logits: 'all', packed }).logits!;
        assertClose(logits, reference, { atol: 0, label: `logits on ${threads} thread(s)` });
        assert.deepEqual(gptForward(model, ids, { logits: 'last', packed }).logits!.data, reference.data.subarray(32 * 1500));
        packed.release();
        assert.deepEqual(generate(model, ids.slice(0, 20), { maxNewTokens: 25 }), greedy, `greedy tokens on ${threads} thread(s)`);
        assert.deepEqual(generate(model, ids.slice(0, 5), { maxNewTokens: 8, temperature: 1.5, topK: 20, seed: 3 }), sampled);
      } finally {
        setWaitForHelper(false);
        packed.release();
      }
      if (threads === 2) assert.ok(helperChunkCount() > helperBefore, 'the helper computed part of the products');
    });
  }
});
