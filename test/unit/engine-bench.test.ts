// `llm101 bench` and src/engine/bench.ts: the JSON it prints, the layer it times (checked against
// a plain double-precision layer written out here), the file --save writes, and the refusals,
// including layers and traces too large for memory. Never a timing assertion.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../src/cli';
import { benchLayer, benchLayerBytes, layerFlops, makeBenchLayer, runBenchLayer, type BenchLayer } from '../../src/engine/bench';
import { EngineError, MAX_TRACE_BYTES } from '../../src/engine/config';
import { helperChunkCount, kernelThreads, setKernelThreads, setWaitForHelper, warmUpKernel } from '../../src/engine/kernels';
import { readSafetensors } from '../../src/engine/io/safetensors';
import { runTrace } from '../../src/engine/trace';
import { seededStages } from './engine-fixtures';
import { assertClose } from './assertClose';
import { tokensFromIds } from './engine-fixtures';

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { code, stdout, stderr };
}

/** The layer with plain loops in double: x·Wᵀ, causal softmax(QKᵀ/√hd)·V per head, ·W_oᵀ + b, layer norm. */
function plainLayer({ input, mha, norm, heads }: BenchLayer): Float64Array {
  const T = input.rows;
  const D = input.cols;
  const hd = D / heads;
  const project = (x: ArrayLike<number>, w: Float32Array, bias?: Float32Array) => {
    const y = new Float64Array(T * D);
    for (let t = 0; t < T; t++) {
      for (let o = 0; o < D; o++) {
        let sum = bias ? bias[o]! : 0;
        for (let c = 0; c < D; c++) sum += x[t * D + c]! * w[o * D + c]!;
        y[t * D + o] = sum;
      }
    }
    return y;
  };
  const q = project(input.data, mha.query.weight.data);
  const k = project(input.data, mha.key.weight.data);
  const v = project(input.data, mha.value.weight.data);
  const concat = new Float64Array(T * D);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < T; i++) {
      const scores = [];
      for (let j = 0; j <= i; j++) {
        let dot = 0;
        for (let c = h * hd; c < (h + 1) * hd; c++) dot += q[i * D + c]! * k[j * D + c]!;
        scores.push(dot / Math.sqrt(hd));
      }
      const max = Math.max(...scores);
      const exps = scores.map((s) => Math.exp(s - max));
      const total = exps.reduce((a, b) => a + b, 0);
      for (let c = h * hd; c < (h + 1) * hd; c++) {
        let sum = 0;
        for (let j = 0; j <= i; j++) sum += (exps[j]! / total) * v[j * D + c]!;
        concat[i * D + c] = sum;
      }
    }
  }
  const attended = project(concat, mha.outProj.weight.data, mha.outProj.bias);
  const out = new Float64Array(T * D);
  for (let t = 0; t < T; t++) {
    const row = attended.subarray(t * D, (t + 1) * D);
    const mean = row.reduce((a, b) => a + b, 0) / D;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / D;
    for (let c = 0; c < D; c++) out[t * D + c] = ((row[c]! - mean) / Math.sqrt(variance + 1e-5)) * norm.scale[c]! + norm.shift[c]!;
  }
  return out;
}

test('the bench layer is multi-head causal attention plus layer norm (plain double loops agree within 1e-5)', () => {
  for (const shape of [{ seq: 1, dim: 4, heads: 2 }, { seq: 13, dim: 24, heads: 3 }, { seq: 40, dim: 64, heads: 8 }]) {
    const layer = makeBenchLayer(shape);
    assertClose(runBenchLayer(layer), plainLayer(layer), { atol: 1e-5, label: `layer ${JSON.stringify(shape)}` });
  }
});

function randomBias(size: number, seed: number): Float32Array {
  return Float32Array.from({ length: size }, (_, i) => Math.sin(seed * 97 + i * 13.1) * 0.3);
}

test('the inference form (heads in the kernel workspace) equals the traced form bit for bit, on 1 and 2 threads', () => {
  const previous = kernelThreads();
  try {
    // T not a multiple of 5 or 8, head widths not a multiple of 8, one head, one token, and a
    // size large enough for the products and softmaxes to be split between threads
    const shapes = [
      { seq: 1, dim: 4, heads: 2 },
      { seq: 13, dim: 21, heads: 7 },
      { seq: 37, dim: 12, heads: 1 },
      { seq: 203, dim: 60, heads: 5 },
      { seq: 301, dim: 96, heads: 4 },
    ];
    for (const threads of [1, 2]) {
      setKernelThreads(threads);
      warmUpKernel(30_000);
      for (const shape of shapes) {
        const layer = makeBenchLayer(shape, 3);
        assert.deepEqual(runBenchLayer(layer).data, runBenchLayer(layer, true).data, `${JSON.stringify(shape)} on ${threads} threads`);
        // with Q/K/V biases too (qkvBias), and without the output bias
        const bias = (seed: number) => randomBias(shape.dim, seed);
        const { query, key, value, outProj } = layer.mha;
        const biased = {
          ...layer,
          mha: { query: { ...query, bias: bias(1) }, key: { ...key, bias: bias(2) }, value: { ...value, bias: bias(3) }, outProj: { weight: outProj.weight } },
        };
        assert.deepEqual(runBenchLayer(biased).data, runBenchLayer(biased, true).data, `${JSON.stringify(shape)} with qkv biases on ${threads} threads`);
      }
      if (threads === 2) {
        // the heads are shared a whole head at a time; the caller waits until the helper has
        // taken some, so the split is certain even on a busy machine
        const layer = makeBenchLayer({ seq: 301, dim: 96, heads: 8 }, 5);
        const expected = runBenchLayer(layer, true).data;
        const before = helperChunkCount();
        setWaitForHelper(true);
        try {
          assert.deepEqual(runBenchLayer(layer).data, expected);
        } finally {
          setWaitForHelper(false);
        }
        assert.ok(helperChunkCount() > before, 'the helper computed some heads or rows');
      }
    }
  } finally {
    setKernelThreads(previous);
  }
});

test('bench --traced times the traced form', async () => {
  const { code, stdout } = await run(['bench', '--seq', '5', '--dim', '8', '--heads', '2', '--reps', '1', '--threads', '1', '--traced', '--json']);
  assert.equal(code, 0);
  assert.equal((JSON.parse(stdout) as { form: string }).form, 'traced');
});

test('bench --json prints one line with msPerLayer, gflops, threads and the shape', async () => {
  for (const threads of ['1', '2']) {
    const { code, stdout, stderr } = await run(['bench', '--seq', '7', '--dim', '12', '--heads', '3', '--reps', '1', '--threads', threads, '--json']);
    assert.equal(stderr, '');
    assert.equal(code, 0);
    assert.equal(stdout.indexOf('\n'), stdout.length - 1, 'exactly one line');
    const result = JSON.parse(stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(result).sort(), ['dim', 'flopsPerLayer', 'form', 'gflops', 'headDim', 'heads', 'msPerLayer', 'reps', 'samplesMs', 'seq', 'threads', 'warmup']);
    assert.equal(result.form, 'inference');
    assert.deepEqual([result.seq, result.dim, result.heads, result.headDim, result.reps], [7, 12, 3, 4, 1]);
    assert.ok(typeof result.msPerLayer === 'number' && result.msPerLayer > 0);
    assert.deepEqual(result.samplesMs, [result.msPerLayer]);
    assert.equal(result.flopsPerLayer, layerFlops({ seq: 7, dim: 12, heads: 3 }));
    assertClose(result.gflops as number, (result.flopsPerLayer as number) / (result.msPerLayer as number) / 1e6, { atol: 1e-9, label: 'gflops' });
    assert.ok((result.warmup as number) >= 2);
    // the helper thread may still be starting on a busy machine: at most the threads asked for
    assert.ok(result.threads === 1 || (threads === '2' && result.threads === 2), `threads ${String(result.threads)}`);
  }
});

test('bench without --json prints one summary line', async () => {
  const { code, stdout } = await run(['bench', '--seq', '5', '--dim', '8', '--heads', '2', '--reps', '3', '--threads', '1']);
  assert.equal(code, 0);
  assert.match(stdout, /^T 5 · dim 8 · 2 heads × 4 · 1 thread · inference: \d+\.\d\d ms per layer \(median of 3\), \d+\.\d GFLOP\/s\n$/);
});

test('layerFlops counts the dense layer: 4 projections and 2 full (T, T) products', () => {
  // T = 2, dim = 3: 8·2·9 + 2·3 + 4·4·3
  assert.equal(layerFlops({ seq: 2, dim: 3, heads: 1 }), 144 + 6 + 48);
});

test('bench --save writes the input, weights and output another runtime can load', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-bench-')), 'layer.safetensors');
  const { code } = await run(['bench', '--seq', '6', '--dim', '8', '--heads', '2', '--reps', '1', '--seed', '11', '--save', file, '--json']);
  assert.equal(code, 0);
  const { tensors, metadata } = readSafetensors(fs.readFileSync(file));
  assert.deepEqual(metadata, { heads: '2' });
  const shapes = Object.fromEntries([...tensors].map(([name, t]) => [name, t.shape]));
  assert.deepEqual(shapes, {
    input: [6, 8],
    'mha.W_query.weight': [8, 8],
    'mha.W_key.weight': [8, 8],
    'mha.W_value.weight': [8, 8],
    'mha.out_proj.weight': [8, 8],
    'mha.out_proj.bias': [8],
    'norm.scale': [8],
    'norm.shift': [8],
    output: [6, 8],
  });
  const layer = makeBenchLayer({ seq: 6, dim: 8, heads: 2 }, 11);
  assert.deepEqual(tensors.get('input')!.data, layer.input.data);
  assert.deepEqual(tensors.get('output')!.data, runBenchLayer(layer).data);
  fs.rmSync(path.dirname(file), { recursive: true });
});

test('bench refuses bad sizes with exit 2 and one line that says the fix', async () => {
  const cases: [string[], RegExp][] = [
    [['--dim', '8', '--heads', '2'], /^llm101: --seq is required, e\.g\. llm101 bench --seq 512 --dim 768 --heads 12\n$/],
    [['--seq', '4', '--dim', '10', '--heads', '3'], /^llm101: heads \(3\) must divide dim \(10\); valid head counts: 1, 2, 5, 10 \(--heads\)\n$/],
    [['--seq', '0', '--dim', '8', '--heads', '2'], /^llm101: --seq must be at least 1, got 0\n$/],
    [['--seq', '4', '--dim', '8', '--heads', '2', '--reps', '0'], /^llm101: --reps must be at least 1, got 0\n$/],
    [['--seq', '4', '--dim', '8', '--heads', '2', '--threads', '17'], /^llm101: --threads must be 0 \(every core\) or 1 to 16, got 17\n$/],
    [['--seq', 'many', '--dim', '8', '--heads', '2'], /^llm101: --seq takes a whole number, got "many"\n$/],
  ];
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await run(['bench', ...args]);
    assert.equal(code, 2, args.join(' '));
    assert.equal(stdout, '');
    assert.match(stderr, message);
  }
});

test('a layer too large for memory is refused up front with the estimate and what fits', async () => {
  const { code, stderr } = await run(['bench', '--seq', '8192', '--dim', '768', '--heads', '12']);
  assert.equal(code, 2);
  assert.match(stderr, /^llm101: a layer of 8192 tokens with 12 heads needs about 6\.5 GiB, above the 2 GiB allowed; use --seq (\d+) or less, or fewer --heads\n$/);
  const fits = Number(/--seq (\d+)/.exec(stderr)![1]);
  assert.ok(benchLayerBytes({ seq: fits, dim: 768, heads: 12 }) <= MAX_TRACE_BYTES);
  assert.ok(benchLayerBytes({ seq: fits + 1, dim: 768, heads: 12 }) > MAX_TRACE_BYTES);
  assert.throws(() => benchLayer({ seq: 8192, dim: 768, heads: 12, reps: 1, threads: 1 }), EngineError);
});

test('runTrace refuses 8,192 tokens with 12 heads before computing anything, naming the estimate', () => {
  const { source, run } = seededStages({ vocabSize: 8, dim: 12, heads: 12, contextLength: 8192 }, { dropout: 0, seed: 1 });
  const tokens = tokensFromIds(new Array<number>(8192).fill(1));
  let progressed = 0;
  assert.throws(
    () => runTrace(tokens, source, run, { onProgress: () => progressed++ }),
    (err: unknown) => err instanceof EngineError && /^tracing 8192 tokens with 12 heads needs about 10\.8 GiB; select at most \d+ tokens/.test(err.message),
  );
  assert.equal(progressed, 0, 'no stage ran');
});
