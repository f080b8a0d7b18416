// `node bench/train.mjs`: one training step of the book's GPTModel (forward, backward, AdamW),
// ours (benchTrain, bench/train-ours.ts) beside PyTorch (bench/train-torch.py, Debian's
// python3-torch with OpenBLAS, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset so it picks this
// CPU's kernels, one thread per core as ours, OMP_WAIT_POLICY=PASSIVE: see runTorch) on the book's model and on the
// same model with torch's fused layer norm and GELU (--fused, the stronger anchor), and beside
// tfjs-wasm (bench/train-tfjs.mjs, @tensorflow/tfjs-core + tfjs-backend-wasm 4.22, its own
// autograd, single-threaded in Node) as shipped and with every product untransposed
// (--plain-products, the stronger tfjs anchor: its autograd's transposed products are its slow
// path), same sizes and batch, in one run. Each runs in its own process; they take turns for
// --rounds rounds per shape (each the median of --steps steps after a warm-up), so a change in
// the machine's load hits all alike. Prints per shape a table: the median over rounds of each
// runtime's median step, its fastest step, tokens/s, the median of the per-round ratios
// ours/runtime and the ratio of the fastest steps, and the load average (1 minute) before and
// after. Then the thread scaling at the first shape: ours and torch (the book's model) at 1, 2, 4,
// ... threads up to the cores, in turn (skip it with --skip-scaling).
//
//   node bench/train.mjs [--steps N] [--rounds N] [--shapes V:D:H:L:C:B,...] [--runtimes a,b,...] [--json FILE] [--wait-idle PERCENT] [--skip-scaling]
// --runtimes: a subset of ours,torch,torchFused,tfjs,tfjsPlain (default all; ours is always run).
// --wait-idle: before each run, wait (up to 3 minutes) until the machine's CPUs are less than
// PERCENT busy over 2 s, for a machine other jobs share (PyTorch's OpenBLAS threads slow down
// far more than ours when a core is taken, which would flatter the ratio).
// Default shapes: nanoGPT's CPU configuration (vocab 512, dim 128, 4 heads, 4 layers, context 64,
// batch 12) and a larger one (2048, 256, 8, 6, 128, 8).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    shapes: { type: 'string', default: '512:128:4:4:64:12,2048:256:8:6:128:8' },
    runtimes: { type: 'string', default: 'ours,torch,torchFused,tfjs,tfjsPlain' },
    json: { type: 'string' },
    'wait-idle': { type: 'string' },
    'skip-scaling': { type: 'boolean', default: false },
  },
});
/** Every core, at most 16 (ours: `threads` 0, its default), and 1, 2, 4, ... below it. */
const CORES = Math.min(16, os.availableParallelism());
const THREAD_COUNTS = [...new Set([...[1, 2, 4, 8, 16].filter((t) => t < CORES), CORES])];
const idleBelow = args['wait-idle'] === undefined ? undefined : Number(args['wait-idle']);
const shapes = args.shapes.split(',').map((text) => {
  const [vocab, dim, heads, layers, seq, batch] = text.split(':').map(Number);
  return { vocab, dim, heads, layers, seq, batch };
});
const flags = (shape) => [
  ...Object.entries(shape).flatMap(([name, value]) => [`--${name}`, String(value)]),
  '--steps',
  args.steps,
];

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Runs a child and returns its last stdout line as JSON; on failure, a short message (the stack tails are long). */
function runJson(command, argv, env = process.env) {
  const child = spawnSync(command, argv, { cwd: root, env, encoding: 'utf8' });
  if (child.status !== 0) {
    const lines = (child.stderr || child.error?.message || '').split('\n').filter((line) => /^\w*Error\b/.test(line.trim()));
    throw new Error(`${path.basename(argv.find((a) => a.startsWith('bench/')) ?? command)} failed: ${lines.slice(0, 3).join(' | ').slice(0, 500)}`);
  }
  return JSON.parse(child.stdout.trim().split('\n').pop());
}

/** The CPUs' busy share over `ms`, in percent (os.cpus() times). */
function busyPercent(ms) {
  const total = (cpus) => cpus.reduce((sum, { times }) => sum + times.user + times.nice + times.sys + times.idle + times.irq, 0);
  const idle = (cpus) => cpus.reduce((sum, { times }) => sum + times.idle, 0);
  const before = os.cpus();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const after = os.cpus();
  return 100 - (100 * (idle(after) - idle(before))) / (total(after) - total(before));
}

/** With --wait-idle, blocks until the machine is quiet (or 3 minutes pass); returns the busy share seen. */
function waitForIdle() {
  if (idleBelow === undefined) return undefined;
  const deadline = Date.now() + 180_000;
  let busy = busyPercent(2000);
  while (busy >= idleBelow && Date.now() < deadline) busy = busyPercent(2000);
  return busy;
}

function runOurs(shape, threads = CORES) {
  return runJson(process.execPath, ['--import', 'tsx', 'bench/train-ours.ts', ...flags(shape), '--threads', String(threads)]);
}

/** Whether the reference-BLAS warning was printed (once a run). */
let warnedBlas = false;

// OMP_WAIT_POLICY=PASSIVE: torch's OpenMP threads otherwise spin after each parallel op while
// OpenBLAS's own pthreads want the same 2 cores. With the default policy single steps stalled to
// 230–450 ms at nanoGPT's configuration (the median of a run 87 or 290 ms by chance) and
// 1.7–6.9 s at the larger one; passive gave 75–90 ms and 570–910 ms (loaded machine) steadily.
// So torch is measured at its best here, as the stronger anchor.
function runTorch(shape, fused, threads = CORES) {
  const env = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const result = runJson('/usr/bin/python3', ['bench/train-torch.py', ...flags(shape), '--threads', String(threads), ...(fused ? ['--fused'] : [])], env);
  if (result.blas !== 'openblas' && !warnedBlas) {
    warnedBlas = true;
    console.log('  WARNING: torch runs on the reference BLAS, about 10 times slower than OpenBLAS: apt-get install libopenblas0-pthread');
  }
  return result;
}

function runTfjs(shape, plain) {
  return runJson(process.execPath, ['bench/train-tfjs.mjs', ...flags(shape), ...(plain ? ['--plain-products'] : [])]);
}

// the runtimes of one round, in turn: ours, torch on the book's model, torch with fused layer norm
// and GELU, tfjs-wasm as shipped, tfjs-wasm with plain products
const ALL_RUNNERS = {
  ours: (shape) => runOurs(shape),
  torch: (shape) => runTorch(shape, false),
  torchFused: (shape) => runTorch(shape, true),
  tfjs: (shape) => runTfjs(shape, false),
  tfjsPlain: (shape) => runTfjs(shape, true),
};
const LABELS = {
  ours: 'ours',
  torch: "torch, book's model",
  torchFused: 'torch, fused norm + GELU',
  tfjs: 'tfjs-wasm, its autograd',
  tfjsPlain: 'tfjs-wasm, plain products',
};
const wanted = new Set(['ours', ...args.runtimes.split(',').map((name) => name.trim())]);
for (const name of wanted) if (!(name in ALL_RUNNERS)) throw new Error(`--runtimes: unknown ${name} (${Object.keys(ALL_RUNNERS).join(', ')})`);
const RUNNERS = Object.fromEntries(Object.entries(ALL_RUNNERS).filter(([name]) => wanted.has(name)));
const anchors = Object.keys(RUNNERS).filter((name) => name !== 'ours');
if (fs.existsSync(path.join(root, 'bench', 'node_modules', '@tensorflow', 'tfjs-backend-wasm')) === false && anchors.some((a) => a.startsWith('tfjs')))
  throw new Error('bench/node_modules is missing tfjs: `npm run bench:train` installs it (or npm ci --prefix bench)');
const heading = `${os.cpus()[0]?.model ?? 'CPU'}, ${os.availableParallelism()} cores, node ${process.version}; ${args.rounds} rounds, each runtime the median of ${args.steps} steps after >= 2 warm-up steps and >= 0.5 s`;
console.log(heading);

const rows = [];
for (const shape of shapes) {
  const loadBefore = os.loadavg()[0];
  const runs = Object.fromEntries(Object.keys(RUNNERS).map((name) => [name, []]));
  const busy = [];
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const [name, run] of Object.entries(RUNNERS)) {
      busy.push(waitForIdle());
      runs[name].push(run(shape));
    }
  }
  // per runtime: the median over rounds of each round's median step, and the fastest step seen
  // (on a shared machine the fastest step is the one least disturbed)
  const summary = (name) => ({
    ms: median(runs[name].map((r) => r.msPerStep)),
    minMs: Math.min(...runs[name].flatMap((r) => r.samplesMs)),
    phases: ['forwardMs', 'backwardMs', 'optimizerMs'].map((k) => median(runs[name].map((r) => r[k]))),
    tokensPerSecond: median(runs[name].map((r) => r.tokensPerSecond)),
  });
  const row = { shape, ...Object.fromEntries(Object.keys(RUNNERS).map((name) => [name, summary(name)])) };
  row.ours.threads = runs.ours[0].threads;
  for (const anchor of anchors) {
    const ratios = runs.ours.map((o, i) => o.msPerStep / runs[anchor][i].msPerStep);
    row[anchor].ratio = median(ratios);
    row[anchor].roundRatios = ratios;
    row[anchor].minRatio = row.ours.minMs / row[anchor].minMs;
    row[anchor].threads = runs[anchor][0].threads;
  }
  row.load = [loadBefore, os.loadavg()[0]];
  row.busyBeforeRuns = busy;
  rows.push(row);
  const { vocab, dim, heads, layers, seq, batch } = shape;
  const phases = (p) => (p[0] == null ? `${p[1].toFixed(0)}/${p[2].toFixed(0)} fwd+bwd/adamw` : `${p.map((ms) => ms.toFixed(0)).join('/')} fwd/bwd/adamw`);
  const table = [
    ['runtime', 'threads', 'ms/step', 'fastest ms', 'tokens/s', 'ours/this', 'fastest ours/this', 'rounds ours/this', 'phases ms'],
    ...Object.keys(RUNNERS).map((name) => {
      const r = row[name];
      return [
        LABELS[name],
        String(r.threads),
        r.ms.toFixed(1),
        r.minMs.toFixed(1),
        r.tokensPerSecond.toFixed(0),
        name === 'ours' ? '' : `${r.ratio.toFixed(2)}x`,
        name === 'ours' ? '' : `${r.minRatio.toFixed(2)}x`,
        name === 'ours' ? '' : r.roundRatios.map((x) => x.toFixed(2)).join(' '),
        phases(r.phases),
      ];
    }),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((line) => line[c].length)));
  console.log(
    `\nvocab ${vocab} dim ${dim} heads ${heads} layers ${layers} context ${seq} batch ${batch} (${batch * seq} tokens per step)\n` +
      table.map((line) => '  ' + line.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n') +
      `\n  load (1 min) ${row.load.map((l) => l.toFixed(2)).join(' -> ')}` +
      (idleBelow === undefined ? '' : `; CPUs busy before each run ${busy.map((b) => `${b.toFixed(0)}%`).join(' ')}`),
  );
}

// ours and torch (the book's model) at 1, 2, 4, ... threads on the first shape, in turn
const scaling = [];
if (!args['skip-scaling'] && wanted.has('torch')) {
  const shape = shapes[0];
  const loadBefore = os.loadavg()[0];
  for (const threads of THREAD_COUNTS) {
    const turns = [];
    for (let round = 0; round < Number(args.rounds); round++) {
      waitForIdle();
      const ours = runOurs(shape, threads);
      waitForIdle();
      turns.push({ ours, torch: runTorch(shape, false, threads) });
    }
    scaling.push({
      threads,
      oursMs: median(turns.map((t) => t.ours.msPerStep)),
      torchMs: median(turns.map((t) => t.torch.msPerStep)),
      ratio: median(turns.map((t) => t.ours.msPerStep / t.torch.msPerStep)),
    });
  }
  const table = [
    ['threads', 'ours ms/step', "torch ms/step", 'ours speed-up', 'torch speed-up', 'ours/torch'],
    ...scaling.map((r) => [String(r.threads), r.oursMs.toFixed(1), r.torchMs.toFixed(1), `${(scaling[0].oursMs / r.oursMs).toFixed(2)}x`, `${(scaling[0].torchMs / r.torchMs).toFixed(2)}x`, `${r.ratio.toFixed(2)}x`]),
  ];
  const widths = table[0].map((_, c) => Math.max(...table.map((line) => line[c].length)));
  const { vocab, dim, heads, layers, seq, batch } = shape;
  console.log(
    `\nThread scaling, training step at vocab ${vocab} dim ${dim} heads ${heads} layers ${layers} context ${seq} batch ${batch} (${os.availableParallelism()} cores; speed-up over the same runtime on 1 thread)\n` +
      table.map((line) => '  ' + line.map((cell, c) => cell.padStart(widths[c])).join('  ')).join('\n') +
      `\n  load (1 min) ${loadBefore.toFixed(2)} -> ${os.loadavg()[0].toFixed(2)}`,
  );
}
if (args.json) fs.writeFileSync(args.json, JSON.stringify({ rows, scaling }, null, 1) + '\n');
