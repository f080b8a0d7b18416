// `npm run bench` at the repository root: one attention layer (multi-head causal attention + layer
// norm) timed in three runtimes in one run, on the same input and weights:
//   ours   `llm101 bench` (dist/cli.js, in a child process so no other runtime's threads run
//          beside it), which also saves its input, weights and output: the inference form, which
//          keeps only the output, as the anchors do; and, for reference, `llm101 bench --traced`,
//          the layer as the panel's trace runs it (every head's (T, T) scores and weights kept);
//   onnx   onnxruntime-node, one intra-op thread per core (as ours), on an ONNX graph of the layer (onnx-layer.mjs);
//   tfjs   @tensorflow/tfjs-backend-wasm (single-threaded in Node), each head a plain 2-D matmul.
// The three take turns in --rounds rounds per shape (each round: ours, onnx, tfjs, each the median
// of --reps runs after a warm-up), so a change in the machine's load hits all three alike. Prints
// per shape the median over rounds of each time, GFLOP/s (the same FLOP count for all three, see
// layerFlops in src/engine/bench.ts), the median over rounds of the ratios ours/onnx and ours/tfjs
// (each ratio taken within one round), the largest difference of each anchor's output from ours,
// and the load average around the shape (the machine is shared: ratios measured in one run are
// what count).
//
// Then the thread scaling of one layer (--scaling, default 512x768x12): ours and onnxruntime at 1,
// 2, 4, ... threads up to the cores, each pair in turn (skip it with --skip-scaling). Then the
// whole GPT model, ours beside onnxruntime (bench/model.mjs, in its own process; skip it with
// --skip-model), and the experiments (logit lens, head scores, ablation, scan, patching) beside a
// plain forward (bench/experiments.ts; skip them with --skip-experiments).
//
//   node bench/run.mjs [--reps N] [--rounds N] [--shapes 128x256x8,512x768x12,...] [--scaling TxDxH] [--json FILE] [--skip-scaling] [--skip-model] [--skip-experiments]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildLayerModel } from './onnx-layer.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-wasm');

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    shapes: { type: 'string', default: '128x256x8,512x768x12,2048x768x12' },
    json: { type: 'string' },
    scaling: { type: 'string', default: '512x768x12' },
    'skip-scaling': { type: 'boolean', default: false },
    'skip-model': { type: 'boolean', default: false },
    'skip-experiments': { type: 'boolean', default: false },
  },
});
const reps = Number(args.reps);
const rounds = Number(args.rounds);
const shapes = args.shapes.split(',').map((text) => {
  const [seq, dim, heads] = text.split('x').map(Number);
  return { seq, dim, heads };
});
// Warm-up as `llm101 bench` does it: at least 2 untimed runs, and more until 0.5 s has passed.
const WARMUP_RUNS = 2;
const WARMUP_MS = 500;
/** Every core, at most 16 (ours: `threads` 0, its default). */
const CORES = Math.min(16, os.availableParallelism());
const ORT_THREADS = CORES;
/** 1, 2, 4, ... below the cores, and the cores. */
const THREAD_COUNTS = [...new Set([...[1, 2, 4, 8, 16].filter((t) => t < CORES), CORES])];

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Every dense FLOP of the layer, causal halves counted as done (as layerFlops in src/engine/bench.ts). */
function layerFlops({ seq: T, dim }) {
  return 8 * T * dim * dim + T * dim + 4 * T * T * dim;
}

/** A float32 .safetensors file as name -> Float32Array, plus its metadata. */
function readSafetensors(file) {
  const bytes = fs.readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const start = 8 + headerLength;
  const tensors = new Map();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (entry.dtype !== 'F32') throw new Error(`${file}: ${name} is ${entry.dtype}, expected F32`);
    const [from, to] = entry.data_offsets;
    const copy = new Uint8Array(bytes.subarray(start + from, start + to));
    tensors.set(name, new Float32Array(copy.buffer));
  }
  return { tensors, metadata: header.__metadata__ ?? {} };
}

function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`outputs of ${a.length} and ${b.length} values`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = d; // NaN wins
  }
  return worst;
}

/** Times `run` (which returns the output) after warm-ups; median ms and the last output. */
async function time(run) {
  let output;
  const warmupStarted = performance.now();
  for (let i = 0; i < WARMUP_RUNS || (performance.now() - warmupStarted < WARMUP_MS && i < 100); i++) output = await run();
  const samples = [];
  for (let i = 0; i < reps; i++) {
    const started = performance.now();
    output = await run();
    samples.push(performance.now() - started);
  }
  return { ms: median(samples), samples, output };
}

function ours(shape, saveTo, traced = false, threads = 0) {
  const cli = path.join(root, 'dist', 'cli.js');
  const argv = [cli, 'bench', '--seq', String(shape.seq), '--dim', String(shape.dim), '--heads', String(shape.heads)];
  argv.push('--reps', String(reps), '--threads', String(threads), '--json');
  if (saveTo) argv.push('--save', saveTo);
  if (traced) argv.push('--traced');
  const result = JSON.parse(execFileSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 1 << 20 }));
  return { ms: result.msPerLayer, samples: result.samplesMs, threads: result.threads };
}

async function onnxRuntime(shape, tensors, threads = ORT_THREADS) {
  const model = buildLayerModel(shape, tensors);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const x = new ort.Tensor('float32', tensors.get('input'), [shape.seq, shape.dim]);
  try {
    return await time(async () => (await session.run({ x })).y.data);
  } finally {
    await session.release();
  }
}

/** (rows, cols) -> (cols, rows), so every tfjs product is a plain matMul(a, b). */
function transposed(data, rows, cols) {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

async function tfjsWasm({ seq: T, dim: D, heads: H }, tensors) {
  const hd = D / H;
  const weight = (name) => tf.tensor2d(transposed(tensors.get(name), D, D), [D, D]);
  const wq = weight('mha.W_query.weight');
  const wk = weight('mha.W_key.weight');
  const wv = weight('mha.W_value.weight');
  const wo = weight('mha.out_proj.weight');
  const bo = tf.tensor1d(tensors.get('mha.out_proj.bias'));
  const scale = tf.tensor1d(tensors.get('norm.scale'));
  const shift = tf.tensor1d(tensors.get('norm.shift'));
  const maskValues = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) maskValues[i * T + j] = -Infinity;
  const mask = tf.tensor2d(maskValues, [T, T]);
  const x = tf.tensor2d(tensors.get('input'), [T, D]);
  const sqrtHeadDim = tf.scalar(Math.sqrt(hd));
  const eps = tf.scalar(1e-5);
  const layer = () =>
    tf.tidy(() => {
      const q = tf.matMul(x, wq);
      const k = tf.matMul(x, wk);
      const v = tf.matMul(x, wv);
      const contexts = [];
      for (let h = 0; h < H; h++) {
        const qh = tf.slice(q, [0, h * hd], [T, hd]);
        const khT = tf.transpose(tf.slice(k, [0, h * hd], [T, hd]));
        const vh = tf.slice(v, [0, h * hd], [T, hd]);
        const scores = tf.add(tf.div(tf.matMul(qh, khT), sqrtHeadDim), mask);
        contexts.push(tf.matMul(tf.softmax(scores), vh));
      }
      const attended = tf.add(tf.matMul(tf.concat(contexts, 1), wo), bo);
      const mean = tf.mean(attended, -1, true);
      const centred = tf.sub(attended, mean);
      const variance = tf.mean(tf.square(centred), -1, true);
      return tf.add(tf.mul(tf.div(centred, tf.sqrt(tf.add(variance, eps))), scale), shift);
    });
  try {
    return await time(() => {
      const y = layer();
      const data = y.dataSync();
      y.dispose();
      return data;
    });
  } finally {
    tf.dispose([wq, wk, wv, wo, bo, scale, shift, mask, x, sqrtHeadDim, eps]);
  }
}

const fmt = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : String(x));

async function main() {
  if (!fs.existsSync(path.join(root, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');
  await tf.setBackend('wasm');
  await tf.ready();
  const started = os.loadavg();
  const rows = [];
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-bench-'));
  try {
    for (const shape of shapes) {
      const load = os.loadavg()[0];
      const saved = path.join(scratch, `layer-${shape.seq}x${shape.dim}x${shape.heads}.safetensors`);
      const turns = [];
      let tensors;
      let diffs;
      for (let round = 0; round < rounds; round++) {
        const ourRun = ours(shape, round === 0 ? saved : undefined);
        if (round === 0) tensors = readSafetensors(saved).tensors;
        const onnx = await onnxRuntime(shape, tensors);
        const tfjs = await tfjsWasm(shape, tensors);
        const traced = ours(shape, undefined, true);
        if (round === 0) {
          const reference = tensors.get('output');
          diffs = { onnx: maxAbsDiff(onnx.output, reference), tfjs: maxAbsDiff(tfjs.output, reference) };
        }
        turns.push({ ours: ourRun, onnx, tfjs, traced });
      }
      const flops = layerFlops(shape);
      const oursMs = median(turns.map((t) => t.ours.ms));
      const onnxMs = median(turns.map((t) => t.onnx.ms));
      const tfjsMs = median(turns.map((t) => t.tfjs.ms));
      rows.push({
        ...shape,
        oursMs,
        tracedMs: median(turns.map((t) => t.traced.ms)),
        oursThreads: Math.min(...turns.map((t) => t.ours.threads)),
        onnxMs,
        tfjsMs,
        oursGflops: flops / oursMs / 1e6,
        onnxGflops: flops / onnxMs / 1e6,
        tfjsGflops: flops / tfjsMs / 1e6,
        oursOverOnnx: median(turns.map((t) => t.ours.ms / t.onnx.ms)),
        oursOverTfjs: median(turns.map((t) => t.ours.ms / t.tfjs.ms)),
        maxDiffOnnx: diffs.onnx,
        maxDiffTfjs: diffs.tfjs,
        loadBefore: load,
        loadAfter: os.loadavg()[0],
        rounds: turns.map((t) => ({ ours: t.ours.samples, onnx: t.onnx.samples, tfjs: t.tfjs.samples, traced: t.traced.samples })),
      });
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const header = ['T', 'dim', 'heads', 'ours ms', 'traced ms', 'onnx ms', 'tfjs ms', 'ours GF/s', 'onnx GF/s', 'tfjs GF/s', 'ours/onnx', 'ours/tfjs', 'max|Δ| onnx', 'max|Δ| tfjs', 'load 1m'];
  const table = rows.map((r) => [
    String(r.seq), String(r.dim), String(r.heads),
    fmt(r.oursMs, 2), fmt(r.tracedMs, 2), fmt(r.onnxMs, 2), fmt(r.tfjsMs, 2),
    fmt(r.oursGflops), fmt(r.onnxGflops), fmt(r.tfjsGflops),
    `${fmt(r.oursOverOnnx, 2)}×`, `${fmt(r.oursOverTfjs, 2)}×`,
    r.maxDiffOnnx.toExponential(1), r.maxDiffTfjs.toExponential(1),
    `${fmt(r.loadBefore, 2)} → ${fmt(r.loadAfter, 2)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padStart(widths[i])).join(' | ')} |`;
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`\nOne attention layer (multi-head causal attention + layer norm): ${rounds} rounds of ours, onnx, tfjs in turn, each the median of ${reps} runs after >= ${WARMUP_RUNS} warm-up runs and >= ${WARMUP_MS} ms; times are medians over the rounds, ratios the medians of the per-round ratios`);
  console.log(`${cpu}, ${os.availableParallelism()} cores, node ${process.version}; ours on ${rows[0]?.oursThreads ?? '?'} threads, onnxruntime-node ${ort.env.versions?.common ?? ''} on ${ORT_THREADS} intra-op threads, tfjs-wasm ${tf.version_core} on 1 thread (SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')})`);
  console.log(`load average (1, 5, 15 min) before: ${started.map((x) => x.toFixed(2)).join(', ')}; after: ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}\n`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of table) console.log(line(row));
  console.log('\nours = the inference form (only the output kept, as onnx and tfjs); traced = the same layer as the panel\'s trace runs it, every head\'s (T, T) scores and weights kept (not in the ratios).');
  console.log('GFLOP/s = the dense layer FLOPs (causal halves counted as done) / time; max|Δ| = largest difference of the anchor\'s output from ours.');
  const scaling = args['skip-scaling'] ? undefined : await threadScaling();
  if (args.json) fs.writeFileSync(args.json, JSON.stringify({ reps, rounds, rows, scaling, loadBefore: started, loadAfter: os.loadavg() }, null, 2));
}

/**
 * One layer at 1, 2, 4, ... threads up to the cores, ours and onnxruntime in turn at each count
 * (each the median of --reps runs, the median over --rounds rounds): how each uses more cores.
 */
async function threadScaling() {
  const [seq, dim, heads] = args.scaling.split('x').map(Number);
  const shape = { seq, dim, heads };
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'llm101-scaling-'));
  const saved = path.join(scratch, 'layer.safetensors');
  const load = os.loadavg()[0];
  const rows = [];
  try {
    ours(shape, saved, false, 1);
    const tensors = readSafetensors(saved).tensors;
    for (const threads of THREAD_COUNTS) {
      const turns = [];
      for (let round = 0; round < rounds; round++) turns.push({ ours: ours(shape, undefined, false, threads), onnx: await onnxRuntime(shape, tensors, threads) });
      rows.push({ threads, oursMs: median(turns.map((t) => t.ours.ms)), onnxMs: median(turns.map((t) => t.onnx.ms)), oursOverOnnx: median(turns.map((t) => t.ours.ms / t.onnx.ms)) });
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const header = ['threads', 'ours ms', 'onnx ms', 'ours speed-up', 'onnx speed-up', 'ours/onnx'];
  const table = rows.map((r) => [String(r.threads), fmt(r.oursMs, 2), fmt(r.onnxMs, 2), `${fmt(rows[0].oursMs / r.oursMs, 2)}×`, `${fmt(rows[0].onnxMs / r.onnxMs, 2)}×`, `${fmt(r.oursOverOnnx, 2)}×`]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padStart(widths[i])).join(' | ')} |`;
  console.log(`
Thread scaling, one layer T ${seq} · dim ${dim} · ${heads} heads (${os.availableParallelism()} cores; speed-up over the same runtime on 1 thread); load (1 min) ${fmt(load, 2)} → ${fmt(os.loadavg()[0], 2)}\n`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of table) console.log(line(row));
  return rows;
}

await main();
if (!args['skip-model']) execFileSync(process.execPath, ['--import', 'tsx', 'bench/model.mjs'], { cwd: root, stdio: 'inherit' });
if (!args['skip-experiments']) execFileSync(process.execPath, ['--import', 'tsx', 'bench/experiments.ts'], { cwd: root, stdio: 'inherit' });
