// Threads follow the machine: `threads` 0 means every core, and any count from 1 to 16 gives the
// single-thread numbers bit for bit, also with more threads than this machine has cores (the
// chunks are taken in turn, so an oversubscribed helper only delays its share). Each run makes
// the caller wait until a helper has taken a chunk, so the threaded path certainly runs. The
// workspace is given back (a new memory, the helpers restarted on it) without losing packed weights.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../../src/cli';
import { makeBenchLayer, runBenchLayer } from '../../src/engine/bench';
import {
  MAX_THREADS,
  availableCores,
  feedForwardPackedInto,
  helperChunkCount,
  kernelMemoryBytes,
  kernelThreads,
  matmulInto,
  matmulPackedInto,
  packMatrix,
  readyHelpers,
  releasePacked,
  releaseWorkspace,
  setKernelThreads,
  setWaitForHelper,
  softmaxRowsInto,
  threadsFor,
  warmUpKernel,
  type MatmulOptions,
} from '../../src/engine/kernels';
import { createSeededGpt } from '../../src/engine/gpt/init';
import { gptForward, packGptWeights } from '../../src/engine/layers/gptModel';
import { TorchGenerator } from '../../src/engine/rng';

function randomValues(count: number, seed: number): Float32Array {
  return new TorchGenerator(seed).normal_(new Float32Array(count));
}

/** Everything the kernels share between threads, computed afresh: products, softmax, whole layers, a GPT. */
function compute(): Float32Array[] {
  const outputs: Float32Array[] = [];
  const shapes: [number, number, number, MatmulOptions][] = [
    [301, 257, 129, { bTransposed: true }],
    [517, 517, 64, { bTransposed: true, lowerOutput: true }],
    [517, 64, 517, { bTransposed: false, lowerInput: true }],
    [3, 1500, 96, { bTransposed: true }], // few rows: shared by column panels
  ];
  for (const [n, m, k, options] of shapes) {
    const a = randomValues(n * k, n);
    if (options.lowerInput) for (let i = 0; i < n; i++) for (let t = i + 1; t < k; t++) a[i * k + t] = 0;
    const out = new Float32Array(n * m);
    matmulInto(out, a, randomValues(m * k, m), n, m, k, options);
    outputs.push(out);
  }
  const scores = randomValues(400 * 401, 9);
  const weights = new Float32Array(scores.length);
  softmaxRowsInto(weights, scores, 400, 401, 8, true);
  outputs.push(weights);
  outputs.push(runBenchLayer(makeBenchLayer({ seq: 203, dim: 96, heads: 8 }, 5)).data);
  const [dim, hidden, T] = [64, 2048, 41];
  const up = packMatrix(randomValues(hidden * dim, 1).map((v) => v / 4), hidden, dim);
  const down = packMatrix(randomValues(dim * hidden, 2).map((v) => v / 16), dim, hidden);
  const ff = new Float32Array(T * dim);
  feedForwardPackedInto(ff, randomValues(T * dim, 3), T, { packed: up, bias: randomValues(hidden, 4) }, { packed: down });
  releasePacked(up);
  releasePacked(down);
  outputs.push(ff);
  const model = createSeededGpt({ vocabSize: 1500, contextLength: 40, dim: 96, heads: 4, layers: 2, qkvBias: true, layerNormEps: 1e-5 }, 7);
  const packed = packGptWeights(model);
  try {
    outputs.push(gptForward(model, Array.from({ length: 33 }, (_, i) => (i * 37 + 5) % 1500), { logits: 'all', packed }).logits!.data);
  } finally {
    packed.release();
  }
  return outputs;
}

test('threads 0 means every core (at most 16); 1 to 16 are taken as they are, even beyond the cores', () => {
  assert.equal(threadsFor(0), Math.min(MAX_THREADS, availableCores()));
  assert.equal(threadsFor(1), 1);
  assert.equal(threadsFor(16), 16);
  for (const bad of [-1, 17, 1.5, Number.NaN]) assert.throws(() => threadsFor(bad), /threads must be 0 \(every core\) or a whole number from 1 to 16/);
});

test('1, 2, 3, 5, 8 and 16 threads give the single-thread numbers bit for bit, more threads than cores included', () => {
  const previous = kernelThreads();
  try {
    setKernelThreads(1);
    const single = compute();
    for (const threads of [2, 3, 5, 8, 16]) {
      setKernelThreads(threads);
      assert.equal(warmUpKernel(120_000), threads - 1, `${threads - 1} helper threads start`);
      const before = helperChunkCount();
      setWaitForHelper(true);
      try {
        const outputs = compute();
        outputs.forEach((out, i) => assert.deepEqual(out, single[i], `output ${i} on ${threads} threads`));
      } finally {
        setWaitForHelper(false);
      }
      assert.ok(helperChunkCount() > before, `the helpers computed part of it on ${threads} threads`);
      assert.equal(readyHelpers(), threads - 1);
    }
  } finally {
    setKernelThreads(previous);
  }
});

test('--threads sets the kernel threads for the command (0 = every core) and refuses what is out of range', async () => {
  const run = async (args: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
    return { code, stdout, stderr };
  };
  const before = kernelThreads();
  const bench = await run(['bench', '--seq', '20', '--dim', '16', '--heads', '2', '--reps', '1', '--threads', '3', '--json']);
  assert.equal(bench.code, 0, bench.stderr);
  assert.equal((JSON.parse(bench.stdout) as { threads: number }).threads, 3);
  assert.equal(kernelThreads(), before, 'the kernel is left as it was');
  const all = await run(['bench', '--seq', '20', '--dim', '16', '--heads', '2', '--reps', '1', '--threads', '0', '--json']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal((JSON.parse(all.stdout) as { threads: number }).threads, threadsFor(0));
  const tooMany = await run(['analyze', '--text', 'the sea', '--threads', '17']);
  assert.equal(tooMany.code, 2);
  assert.match(tooMany.stderr, /--threads must be 0 \(every core\) or 1 to 16, got 17/);
});

test('releaseWorkspace gives the workspace back: packed weights keep their numbers, the helpers start again on the new memory', () => {
  const previous = kernelThreads();
  try {
    setKernelThreads(2);
    const weight = randomValues(40 * 96, 11);
    const packed = packMatrix(weight, 40, 96);
    const a = randomValues(3 * 96, 12);
    const before = new Float32Array(3 * 40);
    matmulPackedInto(before, a, 3, packed);
    // a (600, 512)·(512, 2048) product grows the workspace past 9 MB
    const [n, k, m] = [600, 512, 2048];
    const x = randomValues(n * k, 13);
    const w = randomValues(m * k, 14);
    const large = new Float32Array(n * m);
    matmulInto(large, x, w, n, m, k, { bTransposed: true });
    const grown = kernelMemoryBytes();
    assert.ok(grown > 9e6, `the workspace grew (${grown} bytes)`);
    assert.equal(releaseWorkspace(grown), 0, 'less than keepBytes above the packed weights: kept');
    const released = releaseWorkspace();
    assert.ok(released > 9e6 && kernelMemoryBytes() === grown - released && kernelMemoryBytes() < 1e6, `gave back ${released} of ${grown} bytes`);
    const after = new Float32Array(3 * 40);
    matmulPackedInto(after, a, 3, packed);
    assert.deepEqual(after, before, 'the packed weight survived the move');
    assert.equal(warmUpKernel(120_000), 1, 'the helper starts again');
    const helperBefore = helperChunkCount();
    const again = new Float32Array(n * m);
    setWaitForHelper(true);
    try {
      matmulInto(again, x, w, n, m, k, { bTransposed: true });
    } finally {
      setWaitForHelper(false);
    }
    assert.deepEqual(again, large);
    assert.ok(helperChunkCount() > helperBefore, 'the new helper computed part of it');
    releasePacked(packed);
  } finally {
    setKernelThreads(previous);
  }
});
